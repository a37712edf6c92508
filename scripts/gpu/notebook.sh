#!/usr/bin/env bash
# Device call: run one notebook in the paper profile and send back the notebook, figures/ and
# the cache kinds named (e.g. table6_generator_seed, synthetic) as $OUT/results.tgz.NN
# parts of at most 15 MiB (the run tool brings back 8 files of 16 MiB at most).
#   source scripts/gpu/setup.sh && scripts/gpu/notebook.sh NN N_SEEDS BUDGET_S [CACHE_KIND...]
# On the development machine afterwards:  scripts/gpu/unpack.sh FILES_AT
set -o pipefail
source "$(dirname "$0")/lib.sh"
nb=$1; n_seeds=$2; budget=$3; shift 3
gpu_notebook "$nb" "$n_seeds" "$budget"
status=$?
gpu_pack results "" "$nb" "$@"
n_parts=$(ls "$OUT" | wc -l)
[ "$n_parts" -le 8 ] || echo "WARNING: $n_parts files under \$OUT; the run tool brings back 8: name fewer cache kinds"
ls -la "$OUT"; gpu_mark "end (notebook exit $status)"
exit $status
