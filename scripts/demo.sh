#!/usr/bin/env bash
# make demo: the main job on the built-in default. Until the pipeline exists
# (a later issue replaces this script), it shows the GGUF tools on llama.cpp's
# own converter output for stories260K: write a copy with one key changed,
# inspect it, and diff it against the original (exit 1 = they differ, expected).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${BIN:-bin/sattva}"
[ -x "$BIN" ] || go build -o "$BIN" ./cmd/sattva
TESTDATA="${SATTVA_TESTDATA:-../shared/testdata}"
REF="$TESTDATA/stories260K/ref/stories260K-f32.ref.gguf"
if [ ! -f "$REF" ]; then
  echo "demo: $REF not found; set SATTVA_TESTDATA to the shared testdata folder" >&2
  exit 1
fi
mkdir -p out

echo "== sattva gguf set: a new file with general.name changed (atomic write)"
"$BIN" gguf set "$REF" general.name SatTva-demo -o out/demo.gguf

echo
echo "== sattva gguf inspect out/demo.gguf"
"$BIN" gguf inspect out/demo.gguf

echo
echo "== sattva gguf diff: the reference against the new file"
set +e
"$BIN" gguf diff "$REF" out/demo.gguf
rc=$?
set -e
if [ "$rc" -ne 1 ]; then
  echo "demo: expected gguf diff to exit 1 (files differ), got $rc" >&2
  exit 1
fi
echo
echo "demo: ok (diff exited 1 because general.name differs; all 47 tensors are identical)"
