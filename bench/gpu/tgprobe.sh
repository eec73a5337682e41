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
#   sattva-shared a build from before bench made one context per test (pp512
#                 then tg128 in one context), when staged as .gpu/sattva-shared
#   n_ctx         tg128 alone in contexts of 512 and 4096 tokens
#   env toggles   GGML_CUDA_DISABLE_GRAPHS=1, LLAMA_GRAPH_REUSE_DISABLE=1
#                 (is each feature in use?)
# Rows whose binary was not staged are left out.
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
SH="$G/bin/sattva-shared" # a build from before `sattva bench` made one context per test
have() { [ -x "$1" ]; }
sets=" ${PROBE_SETS:-builds ctx free} "
if [[ $sets == *" builds "* ]]; then
  for round in 1 2; do
    sat "sattva (round $round)" "$S" -- -p 512 -n 128
    have "$S3" && sat "sattva-o3 (round $round)" "$S3" -- -p 512 -n 128
    anc "tgbench C++ (round $round)" "$T" -p 512 -n 128
    have "$T3" && anc "tgbench-o3 C++ (round $round)" "$T3" -p 512 -n 128
  done
fi
if [[ $sets == *" ctx "* ]]; then
  have "$SH" && sat "sattva-shared: pp512 then tg128 in one context of 512" "$SH" -- -p 512 -n 128
  # tg128 against the context size: does n_ctx alone slow generation down?
  for c in 512 4096; do
    sat "sattva, tg128 in n_ctx $c" "$S" -- -p 0 -n 128 -c $c
    anc "tgbench C++, tg128 in n_ctx $c" "$T" -p 0 -n 128 -c $c
  done
  sat "sattva, no CUDA graphs" "$S" GGML_CUDA_DISABLE_GRAPHS=1 -- -p 0 -n 128
  sat "sattva, no graph reuse" "$S" LLAMA_GRAPH_REUSE_DISABLE=1 -- -p 0 -n 128
fi
if [[ $sets == *" free "* ]]; then
  # tg128 after a pp test in the same process: sattva frees the pp context
  # first, tgbench by default keeps it
  sat "sattva pp512+tg128" "$S" -- -p 512 -n 128
  sat "sattva tg128 alone" "$S" -- -p 0 -n 128
  sat "sattva pp512+tg128, 1 thread" "$S" -- -p 512 -n 128 -t 1
  sat "sattva pp64+tg128" "$S" -- -p 64 -n 128
  anc "tgbench pp512+tg128, pp context kept" "$T" -p 512 -n 128
  anc "tgbench pp512+tg128, pp context freed" "$T" -p 512 -n 128 --free 1
  anc "tgbench tg128 alone" "$T" -p 0 -n 128
fi
if [[ $sets == *" why "* ]]; then
  # what a pp test leaves behind that slows sattva's later tg128
  sat "sattva pp512+tg128" "$S" -- -p 512 -n 128
  sat "sattva pp512+tg128, GOGC=off" "$S" GOGC=off -- -p 512 -n 128
  sat "sattva pp512+tg128, GOMAXPROCS=2" "$S" GOMAXPROCS=2 -- -p 512 -n 128
  sat "sattva tg128 alone, GGML_CUDA_NO_PINNED=1" "$S" GGML_CUDA_NO_PINNED=1 -- -p 0 -n 128
  sat "sattva tg128 alone" "$S" -- -p 0 -n 128
  for a in "-p 512 -n 128" "-p 0 -n 128"; do
    "$S" bench "$MODEL_8B_Q4KM" --fa on -t 16 -r 5 $a -v >/dev/null 2>"$OUT/why.err" || true
    logs+="- \`sattva bench $a -v\`: $(wc -l <"$OUT/why.err") log lines; most repeated:"$'\n'
    logs+="$(sed 's/^time=[^ ]* //' "$OUT/why.err" | cut -c1-150 | sort | uniq -c | sort -rn | head -6 | sed 's/^/    /')"$'\n'
  done
fi
if [[ $sets == *" cloop "* ]]; then
  # Go between tokens or not (--c-loop: the tg loop in one C call)
  sat "sattva pp512+tg128" "$S" -- -p 512 -n 128
  sat "sattva pp512+tg128 --c-loop" "$S" -- -p 512 -n 128 --c-loop
  sat "sattva tg128 alone" "$S" -- -p 0 -n 128
  sat "sattva tg128 alone --c-loop" "$S" -- -p 0 -n 128 --c-loop
  sat "sattva pp512+tg128, asyncpreemptoff" "$S" GODEBUG=asyncpreemptoff=1 -- -p 512 -n 128
  anc "tgbench pp512+tg128, pp context freed" "$T" -p 512 -n 128 --free 1
fi
nsysline="nsys: not installed"
NSYS="$(command -v nsys || ls /usr/local/cuda/bin/nsys /opt/nvidia/nsight-systems/*/bin/nsys 2>/dev/null | head -1)"
if [ -n "$NSYS" ]; then
  if timeout 120 "$NSYS" profile -t cuda -o /tmp/tgp --force-overwrite true "$T" "$MODEL_8B_Q4KM" "$SATTVA_BACKEND_DIR" --fa on -t 16 -r 3 -p 0 -n 128 >>"$log" 2>&1 &&
     timeout 120 "$NSYS" stats -q -r cuda_gpu_kern_sum --format csv -o /tmp/tgp /tmp/tgp.nsys-rep >>"$log" 2>&1; then
    nsysline="$(python3 - <<'PY'
import csv, glob
f = sorted(glob.glob('/tmp/tgp*cuda_gpu_kern_sum*.csv'))[0]
rows = list(csv.DictReader(open(f)))
tot = sum(float(r['Total Time (ns)']) for r in rows)
n = sum(int(r['Instances']) for r in rows)
tok = 128 * 4  # warm-up + 3 repetitions
print(f"nsys (tgbench, tg128 ×4): GPU kernel time {tot/tok/1e6:.3f} ms per token, {n/tok:.0f} kernels per token; top: " +
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
  [ -n "${logs:-}" ] && { echo; printf '%s' "$logs"; }
} >"$md"
cat "$md"
