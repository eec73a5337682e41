#!/usr/bin/env bash
# stage-ggml-src.sh MODDIR DEST: copies the pinned ollama module's top-level
# CMakeLists.txt and ml/backend/ggml/ggml (ggml's sources) into DEST, a
# writable folder outside the read-only module cache, so that CMake can build
# ggml's backend plugins (CPU variants, CUDA) from exactly the sources that the
# cgo build of sattva compiles.
set -euo pipefail
mod=${1:?module dir}; dest=${2:?destination}
test -f "$mod/CMakeLists.txt" || { echo "no CMakeLists.txt in $mod" >&2; exit 1; }
mkdir -p "$dest/ml/backend/ggml"
cp "$mod/CMakeLists.txt" "$dest/"
[ -f "$mod/CMakePresets.json" ] && cp "$mod/CMakePresets.json" "$dest/"
rm -rf "$dest/ml/backend/ggml/ggml"
cp -r "$mod/ml/backend/ggml/ggml" "$dest/ml/backend/ggml/ggml"
chmod -R u+w "$dest"
# The copied folder holds the module's Go files: a go.mod of its own keeps it
# out of this repository's `go build ./...` and `go test ./...`.
printf 'module ggmlsrc\n\ngo 1.26\n' >"$dest/go.mod"
echo "ggml sources staged in $dest"
