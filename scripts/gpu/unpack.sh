#!/usr/bin/env bash
# On the development machine: put notebook.sh's results (the folder the run tool names
# files_at) into the working tree: the notebook and figures/ in place, the cache kinds under
# .cache/idsynth (so that later calls can carry them and CPU sessions can re-score from them).
#   scripts/gpu/unpack.sh FILES_AT
set -euo pipefail
parts=("$1"/results.tgz.*)
[ -e "${parts[0]}" ] || { echo "unpack.sh: no results.tgz.* under $1" >&2; exit 1; }
cat "${parts[@]}" | tar xzvf - | sed 's/^/  /'
git status --short notebooks figures
