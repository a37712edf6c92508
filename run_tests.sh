#!/usr/bin/env bash
# The whole test suite: unit tests (tests/) and every notebook executed in the smoke profile
# through nbval (notebooks/). Creates .venv and installs the pinned set on first use.
# Extra arguments go to pytest, e.g.  ./run_tests.sh tests/test_nslkdd.py -x
set -euo pipefail
cd "$(dirname "$0")"
./scripts/bootstrap.sh
if [ -n "${IDSYNTH_DATA:-}" ]; then export IDSYNTH_DATA="$(realpath -m "$IDSYNTH_DATA")"; fi
export IDSYNTH_PROFILE=smoke
# The smoke models are tiny and the classifier fits run in parallel processes: one BLAS/OpenMP
# thread per process avoids oversubscribing small machines (CI has 2 cores). Override if wanted.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
exec .venv/bin/python -m pytest --nbval-lax --nbval-current-env --nbval-cell-timeout=1200 "$@"
