#!/usr/bin/env bash
# The whole test suite: unit tests (tests/) and every notebook executed in the smoke profile
# through nbval (notebooks/). Creates .venv and installs the pinned set on first use.
# Extra arguments go to pytest, e.g.  ./run_tests.sh tests/test_nslkdd.py -x
set -euo pipefail
cd "$(dirname "$0")"
./scripts/bootstrap.sh
if [ -n "${IDSYNTH_DATA:-}" ]; then export IDSYNTH_DATA="$(realpath -m "$IDSYNTH_DATA")"; fi
export IDSYNTH_PROFILE=smoke
exec .venv/bin/python -m pytest --nbval-lax --nbval-current-env --nbval-cell-timeout=1200 "$@"
