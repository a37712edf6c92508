#!/usr/bin/env bash
# On the development machine, before the first device call: put what the device machine needs
# into ignored folders of the repo, which the `run` tool's `carry` then takes along:
#   devdata/  a copy of the real data (../shared/data does not travel)
#   .whl/     the wheels the device lacks (papermill, ipykernel, imbalanced-learn, prdc, nbval, ...)
# Usage (from the project root):  scripts/gpu/stage.sh [path/to/shared/data]
set -euo pipefail
src=${1:-../shared/data}
[ -d "$src/nsl-kdd" ] || { echo "stage.sh: no nsl-kdd/ under $src" >&2; exit 1; }
for path in /devdata/ /.whl/; do
  grep -qx "$path" .git/info/exclude 2>/dev/null || echo "$path" >> .git/info/exclude
done
mkdir -p devdata
cp -a "$src"/. devdata/
(cd devdata/nsl-kdd && sha256sum -c --quiet SHA256SUMS)
[ -n "$(ls .whl/*.whl 2>/dev/null)" ] || ../shared/tools/device-wheels.sh
echo "staged: devdata ($(du -sh devdata | cut -f1)), .whl ($(ls .whl/*.whl | wc -l) wheels)"
