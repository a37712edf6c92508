# Shared functions of the device scripts (sourced by setup.sh, prefill.sh, notebook.sh, checks.sh
# and all.sh; nothing here runs when sourced). Profile and device come from the environment:
#   IDSYNTH_GPU_PROFILE  paper (default), cpu or smoke: what the notebooks and prefill run
#   IDSYNTH_GPU_DEVICE   auto (default; cpu when the profile is smoke): --device of both
# so that the same scripts run end to end on a CPU, e.g.
#   IDSYNTH_GPU_PROFILE=smoke OUT=/tmp/gpu_out scripts/gpu/all.sh
GPU_PROFILE=${IDSYNTH_GPU_PROFILE:-paper}
if [ "$GPU_PROFILE" = smoke ]; then GPU_DEVICE=${IDSYNTH_GPU_DEVICE:-cpu}; else GPU_DEVICE=${IDSYNTH_GPU_DEVICE:-auto}; fi
GPU_PART_MAX_BYTES=$((15 * 1024 * 1024))  # the run tool brings back files of 16 MiB at most
export GPU_PROFILE GPU_DEVICE GPU_PART_MAX_BYTES

gpu_mark() { echo "=== [$(( $(date +%s) - ${GPU_T0:-$(date +%s)} )) s] $*"; }
# tqdm bars and known warnings flood the 12,000-character output tail
gpu_quiet() { grep --line-buffered -v -E "it/s|s/it|epoch/s|step/s|warnings.warn|Kernel is running over TCP|leaked semaphore"; }

# Install the carried wheels (.whl/, scripts/gpu/stage.sh) into /tmp/site, register a Jupyter
# kernel, point the library at the carried data, record the commit. Without wheels, and only
# on the CPU (IDSYNTH_GPU_DEVICE=cpu), the machine's own environment is used (.venv when present).
gpu_setup() {
  GPU_T0=${GPU_T0:-$(date +%s)}
  export GPU_T0
  if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || return 1
    export PYTHONPATH=/tmp/site:$PWD/lib
    python3 -m ipykernel install --prefix /tmp/kern --name python3 >/dev/null 2>&1 || return 1
    export JUPYTER_PATH=/tmp/kern/share/jupyter
  elif [ "$GPU_DEVICE" = cpu ]; then
    echo "gpu_setup: no carried wheels (.whl/); device cpu: using this machine's environment"
    [ -x .venv/bin/python3 ] && export PATH=$PWD/.venv/bin:$PATH
    export PYTHONPATH=$PWD/lib${PYTHONPATH:+:$PYTHONPATH}
  else
    echo "gpu_setup: no .whl/*.whl: run scripts/gpu/stage.sh and carry .whl" >&2; return 1
  fi
  export IDSYNTH_DATA=${IDSYNTH_DATA:-$PWD/devdata} PYTHONUNBUFFERED=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
  export IDSYNTH_COMMIT=${IDSYNTH_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
  export -f gpu_mark gpu_quiet  # seen by the scripts run next
  if command -v nvidia-smi >/dev/null; then nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader
  else echo "no nvidia-smi: profile $GPU_PROFILE on device $GPU_DEVICE"; fi
}

# Where a profile's results are, relative to the repo (as unpack.sh puts them back) and here.
gpu_notebooks_dir() { if [ "$GPU_PROFILE" = paper ]; then echo notebooks; else echo "build/$GPU_PROFILE/notebooks"; fi; }
gpu_figures_rel() {
  case $GPU_PROFILE in paper) echo figures ;; cpu) echo figures/cpu ;; *) echo "build/$GPU_PROFILE/figures" ;; esac
}
gpu_figures_src() { echo "${IDSYNTH_FIGURES:-$(gpu_figures_rel)}"; }
gpu_cache_src() { echo "${IDSYNTH_CACHE:-.cache/idsynth}"; }

# gpu_prefill WHAT DEADLINE_S [N_SEEDS] [ONLY_SEEDS...]: idsynth.prefill, one worker; its last
# line says how many seeds are complete (gpu_complete_seeds reads it back from a log).
gpu_prefill() {
  local what=$1 deadline=$2 n_seeds=${3:-3}; shift 3 2>/dev/null || shift $#
  local only=(); [ $# -gt 0 ] && only=(--only-seeds "$@")
  # shellcheck disable=SC2086  # WHAT may name several families
  python3 -m idsynth.prefill --profile "$GPU_PROFILE" --device "$GPU_DEVICE" --what $what --n-seeds "$n_seeds" \
    --workers 1 --deadline "$deadline" "${only[@]}" 2>&1 | gpu_quiet
}
gpu_complete_seeds() { grep -o 'complete seeds: [0-9]*' "$1" 2>/dev/null | tail -1 | grep -o '[0-9]*$' || echo 0; }

# gpu_notebook NN N_SEEDS BUDGET_S: one notebook through the runner (paper: in place; other
# profiles: build/<profile>/notebooks); its exit status (124 when cut at BUDGET_S).
gpu_notebook() {
  local nb=$1 n_seeds=$2 budget=$3
  gpu_mark "notebook $nb, $n_seeds seeds, profile $GPU_PROFILE, at most $budget s"
  timeout "$budget" python3 -m idsynth.runner --profile "$GPU_PROFILE" --device "$GPU_DEVICE" --n-seeds "$n_seeds" \
    --only "$nb" 2>&1 | gpu_quiet
  return "${PIPESTATUS[0]}"
}

# gpu_bench_vgm CSV [BUDGET_S]: issue #3's benchmark (80 epochs per option at batch 200 projected
# from the timed epochs, sampling 1,000,000 rows; CUDA graph with and without the compiled step),
# then each row against the targets (80 epochs <= 10 s, sampling >= 10 M rows/s) into CSV with .md.
gpu_bench_vgm() {
  local csv=$1 budget=${2:-300} args
  if [ "$GPU_PROFILE" = smoke ]; then args=(--devices "$GPU_DEVICE" --options C --rows 2000 --epochs 2 --sample-rows 50000 --sample-repeats 1)
  else args=(--devices cuda --compile both); fi
  timeout "$budget" python3 benchmarks/bench_vgm.py "${args[@]}" --out "$csv" 2>&1 | gpu_quiet
  local status=${PIPESTATUS[0]}
  [ -f "$csv" ] && python3 - "$csv" <<'PY' | tee "${csv%.csv}.md"
import sys
import pandas as pd
t = pd.read_csv(sys.argv[1])
print("| option | device | compiled | 80 epochs (s) | <= 10 s | sampling (M rows/s) | >= 10 M rows/s |")
print("|---|---|---|---|---|---|---|")
for _, r in t.iterrows():
    fit, rate = r["projected_80_epochs_s"], r["sample_rows_per_s"] / 1e6
    print(f"| {r['option']} | {r['device']} | {r['compile_step']} | {fit:.1f} | {'yes' if fit <= 10 else 'NO'} "
          f"| {rate:.2f} | {'yes' if rate >= 10 else 'NO'} |")
PY
  return "$status"
}

# gpu_pack NAME STAMP "NN ..." [CACHE_KIND...]: put into $OUT/NAME.tgz.00 (.01, ... only if the
# part's own results pass 15 MiB) the executed notebooks NN, the figures and tables, and the
# files of the cache kinds, each only when written after the file STAMP (every file when STAMP
# is empty), plus $GPU_LOGDIR/NAME.* (log, tables) as build/gpu_logs/; paths as in the repo (notebooks/, figures/,
# .cache/idsynth/KIND/ for the paper profile), so that unpack.sh puts them in place. A cache
# kind that would take the archive past 15 MiB is left out (said in the log): results first.
gpu_pack() {
  local name=$1 stamp=$2 nbs=$3; shift 3
  local stage; stage=$(mktemp -d "${TMPDIR:-/tmp}/gpu_pack.XXXXXX")
  local newer=(); [ -n "$stamp" ] && newer=(-newer "$stamp")
  _gpu_copy() {  # SRC_DIR DEST_REL [find args]: regular files of SRC_DIR (newer than STAMP) to stage/DEST_REL
    local src=$1 dest=$2; shift 2
    [ -d "$src" ] || return 0
    (cd "$src" && find . -type f ! -name '.*.running.ipynb' "${newer[@]}" "$@" -print0) |
      while IFS= read -r -d '' f; do mkdir -p "$stage/$dest/$(dirname "$f")"; cp -p "$src/$f" "$stage/$dest/$f"; done
  }
  local nb nbdir; nbdir=$(gpu_notebooks_dir)
  for nb in $nbs; do _gpu_copy "$nbdir" "$nbdir" -maxdepth 1 -name "${nb}_*.ipynb"; done
  _gpu_copy "$(gpu_figures_src)" "$(gpu_figures_rel)"
  if [ -n "${GPU_LOGDIR:-}" ] && compgen -G "$GPU_LOGDIR/$name.*" >/dev/null; then
    mkdir -p "$stage/build/gpu_logs" && cp "$GPU_LOGDIR/$name".* "$stage/build/gpu_logs/"
  fi
  local tgz="$stage.tgz" kind
  tar czf "$tgz" -C "$stage" . || return 1
  for kind in "$@"; do
    _gpu_copy "$(gpu_cache_src)/$kind" ".cache/idsynth/$kind"
    tar czf "$tgz" -C "$stage" . || return 1
    if [ "$(stat -c %s "$tgz")" -gt "$GPU_PART_MAX_BYTES" ]; then
      echo "gpu_pack $name: cache kind $kind left out (the archive would pass 15 MiB)"
      rm -rf "${stage:?}/.cache/idsynth/$kind"; tar czf "$tgz" -C "$stage" . || return 1
    fi
  done
  split -b "$GPU_PART_MAX_BYTES" -d "$tgz" "$stage.part." &&
    for p in "$stage".part.*; do mv "$p" "$OUT/$name.tgz.${p##*.part.}"; done
  echo "gpu_pack $name: $(tar tzf "$tgz" | grep -vc '/$') files, $(( $(stat -c %s "$tgz") / 1024 )) KiB -> \$OUT/$name.tgz.*"
  rm -rf "$stage" "$tgz"
}
