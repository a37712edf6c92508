#!/usr/bin/env bash
# Device call: run one notebook in the paper profile and send back the notebook, figures/ and
# the cache kinds named (e.g. table6_generator_seed, table_i_synthetic) as $OUT/results.tgz.NN
# parts of at most 15 MiB (the run tool brings back 8 files of 16 MiB at most).
#   source scripts/gpu/setup.sh && scripts/gpu/notebook.sh NN N_SEEDS BUDGET_S [CACHE_KIND...]
# On the development machine afterwards:  scripts/gpu/unpack.sh FILES_AT
set -o pipefail
nb=$1; n_seeds=$2; budget=$3; shift 3
gpu_mark "notebook $nb, $n_seeds seeds"
timeout $budget python3 -m idsynth.runner --profile paper --n-seeds $n_seeds --only $nb 2>&1 | gpu_quiet
status=$?
kinds=(); for kind in "$@"; do [ -d .cache/idsynth/$kind ] && kinds+=(.cache/idsynth/$kind); done
tar czf - notebooks/${nb}_*.ipynb figures "${kinds[@]}" | split -b 15M -d - $OUT/results.tgz.
n_parts=$(ls $OUT | wc -l)
[ "$n_parts" -le 8 ] || echo "WARNING: $n_parts files under \$OUT; the run tool brings back 8: name fewer cache kinds"
ls -la $OUT; gpu_mark "end (notebook exit $status)"
exit $status
