# Source on the device machine, first in every command:  source scripts/gpu/setup.sh && ...
# Installs the carried wheels into /tmp/site, points the library at the carried data and the
# notebooks at a Jupyter kernel, and records the commit the results come from.
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || return 1
export PYTHONPATH=/tmp/site:$PWD/lib IDSYNTH_DATA=$PWD/devdata PYTHONUNBUFFERED=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
export IDSYNTH_COMMIT=${IDSYNTH_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
python3 -m ipykernel install --prefix /tmp/kern --name python3 >/dev/null 2>&1 || return 1
export JUPYTER_PATH=/tmp/kern/share/jupyter
GPU_T0=$(date +%s)
gpu_mark() { echo "=== [$(( $(date +%s) - GPU_T0 )) s] $*"; }
# tqdm bars and known warnings flood the 12,000-character output tail
gpu_quiet() { grep -v -E "it/s|s/it|epoch/s|step/s|warnings.warn|Kernel is running over TCP|leaked semaphore"; }
export GPU_T0; export -f gpu_mark gpu_quiet  # seen by the scripts run next
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader
