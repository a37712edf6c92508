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
# Two pytest-xdist workers (IDSYNTH_TEST_WORKERS; 0 runs everything in this process): the
# notebooks run as two chains in numbered order, one per worker, and the test modules go to
# whichever worker is free (the root conftest.py says which notebook runs where, and why).
workers="${IDSYNTH_TEST_WORKERS:-2}"
exec .venv/bin/python -m pytest -n "$workers" --dist loadscope --no-loadscope-reorder \
  --nbval-lax --nbval-current-env --nbval-cell-timeout=1200 "$@"
