#!/usr/bin/env bash
# On the development machine: put what a device call sent back (the folder the run tool names
# files_at) into the working tree: every archive NAME.tgz.NN (notebook.sh's results.tgz.*,
# all.sh's one per part), parts in order; the notebooks and figures/ in place, the cache kinds
# under .cache/idsynth (so that later calls can carry them and CPU sessions can re-score from
# them), all.sh's part logs under build/gpu_logs/. DEST (default: here, the repo root) for a look first.
#   scripts/gpu/unpack.sh FILES_AT [DEST]
set -euo pipefail
src=$1; dest=${2:-.}
mapfile -t names < <(find "$src" -maxdepth 1 -name '*.tgz.[0-9][0-9]' -printf '%f\n' | sed 's/\.tgz\.[0-9][0-9]$//' | sort -u)
[ "${#names[@]}" -gt 0 ] || { echo "unpack.sh: no NAME.tgz.NN under $src" >&2; exit 1; }
mkdir -p "$dest"
for name in "${names[@]}"; do
  echo "$name:"
  cat "$src/$name".tgz.[0-9][0-9] | tar xzvf - -C "$dest" | grep -v '/$' | sed 's/^/  /'
done
for f in parts.tsv all.log; do [ -f "$src/$f" ] && { mkdir -p "$dest/build/gpu_logs"; cp "$src/$f" "$dest/build/gpu_logs/"; }; done
[ "$dest" = . ] && git status --short notebooks figures
exit 0
