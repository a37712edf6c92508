#!/usr/bin/env bash
# Regenerate every notebook, figure and table: executes notebooks/NN_*.ipynb in order with
# papermill and stops at the first failure. The paper profile writes the executed notebooks in
# place; smoke under build/smoke/notebooks/; any other profile (cpu: the paper's data with CPU
# step budgets, figures in figures/cpu/) under build/<profile>/notebooks/ unless --in-place.
# It prints a plan first (--help lists the recorded run times).
#   ./run_all.sh [--profile paper|cpu|smoke] [--seed N] [--n-seeds N] [--only NN] [--from NN]
#                [--device auto|cpu|cuda] [--in-place|--output DIR] [--plan] [-p NAME=VALUE ...]
# Creates .venv and installs the pinned set on first use; finds the data through
# $IDSYNTH_DATA or ./data (NSL-KDD is downloaded and verified when absent).
set -euo pipefail
cd "$(dirname "$0")"
./scripts/bootstrap.sh
if [ -n "${IDSYNTH_DATA:-}" ]; then export IDSYNTH_DATA="$(realpath -m "$IDSYNTH_DATA")"; fi
exec .venv/bin/python -m idsynth.runner "$@"
