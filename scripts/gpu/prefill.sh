#!/usr/bin/env bash
# Device call: train a GPU notebook's models into the cache, seed by seed, stopping at a deadline.
#   source scripts/gpu/setup.sh && scripts/gpu/prefill.sh WHAT DEADLINE_S [N_SEEDS] [ONLY_SEEDS...]
# WHAT: crosseval (notebook 11, ~7.5 GPU-min per seed), mageid_long (12, ~15 min, seed 0 only),
# mageid (06, 07, 09, ~2.5 min per seed), tabddpm (08, ~2 min per seed). The cache lives as long
# as the machine stays warm (the next call within its idle release), so run the notebook in the
# same session, or bring its per-seed rows back (notebook.sh) and name the missing seeds here.
set -o pipefail
what=$1; deadline=$2; n_seeds=${3:-3}; shift 3 2>/dev/null || shift $#
only=(); [ $# -gt 0 ] && only=(--only-seeds "$@")
python3 -m idsynth.prefill --profile paper --what $what --n-seeds $n_seeds --workers 1 --deadline $deadline "${only[@]}" 2>&1 | gpu_quiet
du -sh .cache/idsynth/* 2>/dev/null
