#!/usr/bin/env bash
# Everything that needs a GPU (issue #19) in ONE device call of at most GPU_DEADLINE seconds
# (default 540, under the run tool's 600 s per command):
#   carry [".whl", "devdata"] (+ cache kinds brought back before);  command:  scripts/gpu/all.sh
# It installs the carried wheels (lib.sh: gpu_setup, as setup.sh), then runs the parts in
# priority order. Before each part it compares the seconds left with the part's predicted cost
# (the table below; scripts/gpu/README.md says where the numbers come from) and skips it, saying
# why, when it cannot finish; a part with seeds runs as many seeds as fit (at least one). Each
# part is cut at the deadline (timeout) and, finished or not, packed at once into $OUT:
#   part  $OUT file            what
#   a     a_nb06-09.tgz.00     prefill mageid+tabddpm, then notebooks 06 07 08 09 (paper profile)
#   a12   a_nb12.tgz.00        prefill mageid_long (seed 0), then notebook 12
#   b     b_nb11.tgz.00        prefill crosseval, then notebook 11 (Table 6 with the GPU generators)
#   c     c_bench_vgm.tgz.00   benchmarks/bench_vgm.py: compiled step, pinned sampling vs the targets
#   d     d_table6.tgz.00      notebook 04, Table 6's seeds with every fit timed
# plus $OUT/all.log (everything printed) and $OUT/parts.tsv (per part: status, seeds, predicted
# and actual seconds): at most 7 files (the run tool brings back 8). An archive passes 15 MiB only
# if a part's own results do (then .01, ...); cache kinds that would take it past are left out.
# On the development machine:  scripts/gpu/unpack.sh FILES_AT
#
# Environment:
#   GPU_PARTS="a a12 b c d"   the parts and their order    GPU_DEADLINE=540  seconds in all
#   GPU_SEEDS=N               at most N seeds per part      GPU_MARGIN=20     seconds kept per part for packing
#   GPU_COST_<part>="TF TS EF ES MAXN"  replace a part's predicted cost: training fixed + per
#     seed, evaluation (notebooks) fixed + per seed, most seeds (0: no seeds); e.g. when its
#     models are carried in, GPU_COST_b="5 10 30 80 3"
#   IDSYNTH_GPU_PROFILE=smoke (device cpu) or cpu, IDSYNTH_GPU_DEVICE: a test run off the GPU, e.g.
#     IDSYNTH_GPU_PROFILE=smoke OUT=/tmp/gpu_out GPU_DEADLINE=720 scripts/gpu/all.sh
set -o pipefail
cd "$(dirname "$0")/../.." || exit 1
source scripts/gpu/lib.sh

# The parts in priority order, their $OUT names, notebooks and the cache kinds sent back.
GPU_ALL_PARTS="a a12 b c d"
declare -A PART_NAME=([a]=a_nb06-09 [a12]=a_nb12 [b]=b_nb11 [c]=c_bench_vgm [d]=d_table6)
declare -A PART_NOTEBOOKS=([a]="06 07 08 09" [a12]="12" [b]="11" [c]="" [d]="04")
declare -A PART_KINDS=([a]="synthetic" [a12]="generator" [b]="table6_generator_seed generator"
                       [c]="" [d]="table6_seed table6_mlp_check_seed")
# Predicted seconds "TF TS EF ES MAXN" (training fixed, per seed; evaluation fixed, per seed; most
# seeds). paper: one H100, from the measurements in scripts/gpu/README.md (predictions, not yet
# timed as parts); smoke: 2 shared CPU cores, part a as measured there (495 s), the rest scaled.
declare -A COST_paper=([setup]=45 [a]="20 250 40 120 3" [a12]="20 900 60 0 1" [b]="20 450 30 80 3"
                       [c]="0 0 180 0 0" [d]="0 0 40 290 3")
declare -A COST_smoke=([setup]=5 [a]="20 380 60 40 1" [a12]="20 350 40 0 1" [b]="20 250 30 40 1"
                       [c]="0 0 90 0 0" [d]="0 0 30 120 1")

part_cost() {  # PART: its five numbers (GPU_COST_<part> first)
  local override="GPU_COST_$1"
  if [ -n "${!override:-}" ]; then echo "${!override}"
  elif [ "$GPU_PROFILE" = paper ] || [ "$GPU_PROFILE" = cpu ]; then echo "${COST_paper[$1]}"
  else echo "${COST_smoke[$1]}"; fi
}
cost_of() { local tf ts ef es m; read -r tf ts ef es m <<<"$(part_cost "$1")"; echo $((tf + ts * $2 + ef + es * $2)); }
left() { echo $((GPU_T0 + GPU_DEADLINE - $(date +%s))); }

# -- one part, run as  all.sh --part PART N_SEEDS BUDGET_S  (under timeout, so that a cut kills it all)
run_part() {
  local part=$1 n=$2 budget=$3 tf ts ef es m k nb status=0
  local end=$(( $(date +%s) + budget )) log="$GPU_LOGDIR/${PART_NAME[$part]}.prefill"
  read -r tf ts ef es m <<<"$(part_cost "$part")"
  local eval_s=$((ef + es * n))
  case $part in
    a | a12 | b)
      local what n_train=$n
      case $part in a) what="mageid tabddpm" ;; a12) what=mageid_long; n_train=1 ;; b) what=crosseval ;; esac
      gpu_mark "prefill $what, $n_train seeds, deadline $((budget - eval_s)) s"
      gpu_prefill "$what" $((budget - eval_s)) "$n_train" | tee "$log"
      k=$(gpu_complete_seeds "$log")
      [ "$k" -ge 1 ] || { echo "part $part: no seed complete; no notebook run"; return 3; }
      # notebook 12 compares the long schedule's seed 0 with the short one's seeds: those of part a
      [ "$part" = a12 ] && k=$(cat "$GPU_LOGDIR/a.seeds" 2>/dev/null || echo 1)
      [ "$part" = a ] && echo "$k" >"$GPU_LOGDIR/a.seeds"
      for nb in ${PART_NOTEBOOKS[$part]}; do
        gpu_notebook "$nb" "$k" $((end - $(date +%s))) || status=$?
      done ;;
    c)
      gpu_bench_vgm "$GPU_LOGDIR/${PART_NAME[c]}.csv" "$budget" || status=$? ;;
    d)  # Table 6: no VGM or classifier cache carried in, so every fit is made and timed here
      gpu_notebook 04 "$n" "$budget" || status=$? ;;
  esac
  return $status
}
if [ "${1:-}" = --part ]; then run_part "$2" "$3" "$4"; exit $?; fi

# -- the call
GPU_T0=$(date +%s); export GPU_T0
: "${OUT:?OUT: the folder whose files come back (the run tool sets it)}"
GPU_DEADLINE=${GPU_DEADLINE:-540} GPU_MARGIN=${GPU_MARGIN:-20} GPU_PARTS=${GPU_PARTS:-$GPU_ALL_PARTS}
GPU_LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/gpu_logs.XXXXXX")
export GPU_DEADLINE GPU_MARGIN GPU_LOGDIR
mkdir -p "$OUT"
exec > >(tee -a "$OUT/all.log") 2>&1
gpu_mark "all.sh: profile $GPU_PROFILE, device $GPU_DEVICE, parts '$GPU_PARTS', deadline $GPU_DEADLINE s"
gpu_setup || { echo "all.sh: setup failed"; exit 1; }
printf 'part\tfile\tstatus\tseeds\tpredicted_s\ttook_s\tnote\n' >"$OUT/parts.tsv"
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$OUT/parts.tsv"; }
failed=0
for part in $GPU_PARTS; do
  name=${PART_NAME[$part]:-}
  [ -n "$name" ] || { echo "all.sh: unknown part $part (known: $GPU_ALL_PARTS)"; failed=1; continue; }
  read -r tf ts ef es m <<<"$(part_cost "$part")"
  n=$m; [ -n "${GPU_SEEDS:-}" ] && [ "$GPU_SEEDS" -lt "$n" ] && n=$GPU_SEEDS
  room=$(( $(left) - GPU_MARGIN ))
  while [ "$n" -gt 1 ] && [ "$(cost_of "$part" "$n")" -gt "$room" ]; do n=$((n - 1)); done
  need=$(cost_of "$part" "$n")
  if [ "$need" -gt "$room" ]; then
    why="predicted ${need} s$([ "$m" -gt 0 ] && echo " for $n seed(s)") + ${GPU_MARGIN} s packing, $(left) s left"
    gpu_mark "SKIP part $part ($name): $why"
    record "$part" "$name" skipped "$n" "$need" 0 "$why"
    continue
  fi
  gpu_mark "part $part ($name): $([ "$m" -gt 0 ] && echo "$n seed(s), ")predicted $need s, $(left) s left"
  stamp="$GPU_LOGDIR/stamp.$name"; touch "$stamp"; sleep 1  # files written from now on are the part's
  start=$(date +%s)
  timeout -k 10 "$room" "$0" --part "$part" "$n" "$room" 2>&1 | tee "$GPU_LOGDIR/$name.log"
  status=${PIPESTATUS[0]}
  took=$(( $(date +%s) - start ))
  case $status in 0) what=done ;; 124 | 137) what=cut ;; 3) what="no seed complete" ;; *) what="failed($status)"; failed=1 ;; esac
  gpu_mark "part $part: $what after $took s; packing"
  gpu_pack "$name" "$stamp" "${PART_NOTEBOOKS[$part]}" ${PART_KINDS[$part]}
  record "$part" "$name" "$what" "$n" "$need" "$took" "$(grep -o 'complete seeds: [0-9]*' "$GPU_LOGDIR/$name.log" | tail -1)"
done
gpu_mark "all.sh: end; \$OUT holds $(ls "$OUT" | wc -l) files (the run tool brings back 8)"
column -t -s $'\t' "$OUT/parts.tsv" 2>/dev/null || cat "$OUT/parts.tsv"
ls -la "$OUT"
exit $failed
