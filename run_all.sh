#!/usr/bin/env bash
# Regenerate every notebook, figure and table: executes notebooks/NN_*.ipynb in order with
# papermill, writing each back in place, and stops at the first failure.
#   ./run_all.sh [--profile paper|smoke] [--seed N] [--only NN] [--from NN] [--device auto|cpu|cuda]
# Creates .venv and installs the pinned set on first use; finds the data through
# $IDSYNTH_DATA or ./data (NSL-KDD is downloaded and verified when absent).
set -euo pipefail
cd "$(dirname "$0")"
./scripts/bootstrap.sh
if [ -n "${IDSYNTH_DATA:-}" ]; then export IDSYNTH_DATA="$(realpath -m "$IDSYNTH_DATA")"; fi
exec .venv/bin/python -m idsynth.runner "$@"
