#!/usr/bin/env bash
# Device call: train a GPU notebook's models into the cache, seed by seed, stopping at a deadline.
#   source scripts/gpu/setup.sh && scripts/gpu/prefill.sh WHAT DEADLINE_S [N_SEEDS] [ONLY_SEEDS...]
# WHAT: crosseval (notebook 11, ~7.5 GPU-min per seed), mageid_long (12, ~15 min, seed 0 only),
# mageid (06, 07, 09, ~2.5 min per seed), tabddpm (08, ~2 min per seed). The cache lives as long
# as the machine stays warm (the next call within its idle release), so run the notebook in the
# same session, or bring its per-seed rows back (notebook.sh) and name the missing seeds here.
set -o pipefail
source "$(dirname "$0")/lib.sh"
gpu_prefill "$@"
du -sh "$(gpu_cache_src)"/* 2>/dev/null
