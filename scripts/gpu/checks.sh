#!/usr/bin/env bash
# Device call (~6 min): the CUDA tests and issue #3's benchmark (VGM: 80 epochs per option at batch
# 200, sampling 1,000,000 rows; CUDA graph with and without the compiled objective, host floor).
#   source scripts/gpu/setup.sh && scripts/gpu/checks.sh
# Results: $OUT/cuda_tests.log, $OUT/bench_vgm.csv, $OUT/bench_vgm.md.
set -o pipefail
source "$(dirname "$0")/lib.sh"
gpu_mark "CUDA tests"
timeout 240 python3 -m pytest -q -p no:cacheprovider tests/test_vgm.py tests/test_host_copy.py \
  tests/test_neighbours.py tests/test_graphed_step.py -k "cuda or graph or staging or compiled" > "$OUT/cuda_tests.log" 2>&1
tail -15 "$OUT/cuda_tests.log"
gpu_mark "bench_vgm"
gpu_bench_vgm "$OUT/bench_vgm.csv" 300
gpu_mark end
