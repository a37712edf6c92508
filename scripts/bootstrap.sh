#!/usr/bin/env bash
# Create .venv and install the pinned dependencies (requirements.txt) plus idsynth itself
# (editable). Runs on first use and again whenever requirements.txt or pyproject.toml change.
# Where no NVIDIA GPU is present, the CPU build of PyTorch is installed first (a few hundred MB
# instead of several GB); on a GPU machine pip's default (CUDA) build is used.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "idsynth needs Python >= 3.11; set PYTHON=/path/to/python3.11")'
  echo "[bootstrap] creating .venv with $("$python" --version)"
  "$python" -m venv .venv
fi
stamp=.venv/.idsynth-installed
want=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  torch_pin=$(grep -E '^torch==' requirements.txt)
  if ! command -v nvidia-smi >/dev/null 2>&1 && ! .venv/bin/python -c 'import torch' 2>/dev/null; then
    echo "[bootstrap] no GPU: installing the CPU build of $torch_pin"
    .venv/bin/python -m pip install -q --retries 1 --timeout 20 \
      --index-url https://download.pytorch.org/whl/cpu "$torch_pin" \
      || echo "[bootstrap] the PyTorch CPU index is unreachable; taking $torch_pin from the default index"
  fi
  echo "[bootstrap] installing the pinned dependencies (requirements.txt)"
  .venv/bin/python -m pip install -q -r requirements.txt
  .venv/bin/python -m pip install -q --no-deps -e .
  echo "$want" > "$stamp"
fi
