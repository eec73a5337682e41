#!/usr/bin/env bash
# bench/cpu/llamacpp.sh — CPU speed of the llamacpp engine: the CMake-built
# ggml CPU plugin against the built-in cgo-compiled code (SIMD as
# scripts/llamacpp/cgoflags.sh chose it; none in a plain go build), on a ~100M
# parameter Llama GGUF with random weights (bench/cpu/mkllama, Q4_0).
# Writes JSON to $OUT (default bench/out) and prints a markdown table.
# Needs: `make backends` (plugins in bin/lib/ollama). THREADS (default 1:
# on a loaded shared box, ggml's spinning thread barrier makes 2 threads
# slower than 1), REPS (default 3), FALLBACK_REPS (default 1).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-bench/out}"; mkdir -p "$OUT"
THREADS="${THREADS:-1}"; REPS="${REPS:-3}"; FALLBACK_REPS="${FALLBACK_REPS:-1}"
model="${MODEL:-/tmp/sattva-llama100m-q4_0.gguf}"
make -s build # cgo flags from scripts/llamacpp/cgoflags.sh, like every build
[ -f "$model" ] || go run ./bench/cpu/mkllama -out "$model"
./bin/sattva bench "$model" -t "$THREADS" -r "$REPS" --backend-dir bin/lib/ollama --json >"$OUT/llamacpp-cpu-plugin.json"
./bin/sattva bench "$model" -t "$THREADS" -r "$FALLBACK_REPS" --backend-dir /nonexistent-no-plugins --json >"$OUT/llamacpp-cpu-builtin.json" 2>/dev/null
python3 - "$OUT/llamacpp-cpu-plugin.json" "$OUT/llamacpp-cpu-builtin.json" <<'PY'
import json, sys
p, b = (json.load(open(f)) for f in sys.argv[1:3])
print(f'model: {p["description"]}, {p["params"]/1e6:.1f} M params, {p["size_bytes"]/2**20:.1f} MiB; threads {p["n_threads"]}')
print(f'plugin: {p["backend"]["description"]} features {" ".join(p["backend"]["features"])}')
print(f'built-in: {" ".join(b["backend"]["features"])}')
print("| test | plugin t/s | built-in t/s | speed-up |")
print("| --- | --- | --- | --- |")
for tp, tb in zip(p["tests"], b["tests"]):
    print(f'| {tp["name"]} | {tp["avg_ts"]:.2f} ± {tp["stddev_ts"]:.2f} | {tb["avg_ts"]:.2f} ± {tb["stddev_ts"]:.2f} | {tp["avg_ts"]/tb["avg_ts"]:.1f}x |')
PY
