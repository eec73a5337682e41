#!/usr/bin/env bash
# bench/gpu/tgprobe.sh — where does `sattva bench` tg128 lose to llama-bench?
#
# On the 8B q4_K_M ($MODEL_8B_Q4KM), flash attention on, 16 threads, the same
# plugins, in one call:
#   sattva        the usual build (cgo's default C flags: -g -O2)
#   sattva-o3     the same source with CGO_CFLAGS/CGO_CXXFLAGS="-O3 -DNDEBUG"
#                 (CMake's Release flags) for llama.cpp and ggml-base
#   tgbench       bench/anchor/tgbench.cpp: llama-bench's pp/tg loops in C++
#                 over the same cgo-compiled llama.cpp (a Go c-archive), so no
#                 Go in the loop; tgbench-o3 the same over -O3 -DNDEBUG objects
#   env toggles   GGML_CUDA_DISABLE_GRAPHS=1, LLAMA_GRAPH_REUSE_DISABLE=1 on
#                 sattva-o3 (is each feature in use?)
#   nsys          when installed: the GPU's kernel time per generated token
#                 against the wall time per token (is tg GPU-bound?)
# Writes $OUT/tgprobe.md. About 2 minutes.
set -uo pipefail
cd "$(dirname "$0")/../.."
: "${OUT:?}" "${MODEL_8B_Q4KM:?}" "${SATTVA_BACKEND_DIR:?}"
G="${G:-/tmp/sattva-gpu}"
md="$OUT/tgprobe.md"; log="$OUT/tgprobe.log"; : >"$log"
gpu="$(nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem,power.limit --format=csv,noheader 2>/dev/null | head -1)"
rows=""
row() { rows+="| $1 | $2 | $3 | $4 |"$'\n'; }
# sattva bench → "pp t/s ± sd" and "tg t/s ± sd" from --json
sat() { # NAME BIN ENV... -- ARGS
  local name=$1 bin=$2; shift 2
  local envs=(); while [ "$1" != -- ]; do envs+=("$1"); shift; done; shift
  local j; j="$(env "${envs[@]}" "$bin" bench "$MODEL_8B_Q4KM" --fa on -t 16 -r 5 "$@" --json 2>>"$log")" || { row "$name" FAILED "" ""; return; }
  echo "$j" >>"$log"
  local pp tg
  pp="$(echo "$j" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(" ".join(f"{t["avg_ts"]:.1f} ± {t["stddev_ts"]:.1f}" for t in r["tests"] if t["name"].startswith("pp")) or "-")')"
  tg="$(echo "$j" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(" ".join(f"{t["avg_ts"]:.1f} ± {t["stddev_ts"]:.1f}" for t in r["tests"] if t["name"].startswith("tg")) or "-")')"
  row "$name" "$pp" "$tg" "${envs[*]:-}"
}
anc() { # NAME BIN ARGS
  local name=$1 bin=$2; shift 2
  local o; o="$("$bin" "$MODEL_8B_Q4KM" "$SATTVA_BACKEND_DIR" --fa on -t 16 -r 5 "$@" 2>>"$log")" || { row "$name" FAILED "" ""; return; }
  echo "$o" >>"$log"
  local pp tg
  pp="$(echo "$o" | python3 -c 'import json,sys; print(" ".join(f"{r["avg_ts"]:.1f} ± {r["stddev_ts"]:.1f}" for r in map(json.loads, sys.stdin) if r["name"].startswith("pp")) or "-")')"
  tg="$(echo "$o" | python3 -c 'import json,sys; print(" ".join(f"{r["avg_ts"]:.1f} ± {r["stddev_ts"]:.1f}" for r in map(json.loads, sys.stdin) if r["name"].startswith("tg")) or "-")')"
  row "$name" "$pp" "$tg" ""
}
S="$G/bin/sattva"; S3="$G/bin/sattva-o3"; T="$G/bin/tgbench"; T3="$G/bin/tgbench-o3"
for round in 1 2; do
  sat "sattva (round $round)" "$S" -- -p 512 -n 128
  sat "sattva-o3 (round $round)" "$S3" -- -p 512 -n 128
  anc "tgbench C++ (round $round)" "$T" -p 512 -n 128
  anc "tgbench-o3 C++ (round $round)" "$T3" -p 512 -n 128
done
sat "sattva-o3, tg alone (n_ctx 128)" "$S3" -- -p 0 -n 128
sat "sattva-o3, no CUDA graphs" "$S3" GGML_CUDA_DISABLE_GRAPHS=1 -- -p 0 -n 128
sat "sattva-o3, no graph reuse" "$S3" LLAMA_GRAPH_REUSE_DISABLE=1 -- -p 0 -n 128
nsysline="nsys: not installed"
NSYS="$(command -v nsys || ls /usr/local/cuda/bin/nsys /opt/nvidia/nsight-systems/*/bin/nsys 2>/dev/null | head -1)"
if [ -n "$NSYS" ]; then
  if timeout 120 "$NSYS" profile -t cuda -o /tmp/tgp --force-overwrite true "$T3" "$MODEL_8B_Q4KM" "$SATTVA_BACKEND_DIR" --fa on -t 16 -r 3 -p 0 -n 128 >>"$log" 2>&1 &&
     timeout 120 "$NSYS" stats -q -r cuda_gpu_kern_sum --format csv -o /tmp/tgp /tmp/tgp.nsys-rep >>"$log" 2>&1; then
    nsysline="$(python3 - <<'PY'
import csv, glob
f = sorted(glob.glob('/tmp/tgp*cuda_gpu_kern_sum*.csv'))[0]
rows = list(csv.DictReader(open(f)))
tot = sum(float(r['Total Time (ns)']) for r in rows)
n = sum(int(r['Instances']) for r in rows)
tok = 128 * 4  # warm-up + 3 repetitions
print(f"nsys (tgbench-o3, tg128 ×4): GPU kernel time {tot/tok/1e6:.3f} ms per token, {n/tok:.0f} kernels per token; top: " +
      "; ".join(f"{r['Name'][:48]} {float(r['Total Time (ns)'])/tok/1e3:.0f} us" for r in sorted(rows, key=lambda r: -float(r['Total Time (ns)']))[:4]))
PY
)"
  else
    nsysline="nsys: failed (see tgprobe.log)"
  fi
fi
{
  echo "## tg128 probe on $gpu ($(date -u +%FT%TZ))"
  echo
  echo "Command: \`bash bench/gpu/run.sh probe\` (bench/gpu/tgprobe.sh). 8B q4_K_M, flash attention on, 16 threads, 5 repetitions after a warm-up."
  echo
  echo "| runner | pp512 t/s | tg128 t/s | env |"
  echo "| --- | ---: | ---: | --- |"
  printf '%s' "$rows"
  echo
  echo "$nsysline"
} >"$md"
cat "$md"
