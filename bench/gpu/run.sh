#!/usr/bin/env bash
# bench/gpu/run.sh PART... — the GPU machine's side of a device call.
#
# Unpacks what bench/gpu/stage.sh packed (.gpu/) and the prebuilt ggml CUDA/CPU
# plugins (.device/plugins-xz, built on that machine from the pinned module's
# CMakeLists.txt and ml/backend/ggml/ggml for sm_90a) into /tmp/sattva-gpu,
# which survives back-to-back calls while the machine stays warm, then runs the
# named parts, each under a time limit, and prints the collected tables last.
#   A: 8B synth + convert to F16, quantize (Go vs llama.cpp, one pass)
#   B: llamacpp GPU tests and bench, eval throughput, plan run vs reality
#   C: plan train vs reality, pipeline (fallback trainer, export, eval A/B)
#   prep: only make the 8B F16 and q4_K_M models (fresh machine, before B)
#   prepf16: only the 8B F16 (for imatrix and imxbench)
#   imxbench: BenchmarkIMatrixChunk on the 8B F16 (an imatrix chunk split into
#            its costs, in one process; needs prep or prepf16; ~1 min)
#   pipeline: the pipeline step alone
#   gputest: the llamacpp GPU tests alone (TestGPU, TestBackends, stories260K)
#   pinprobe: pp-then-tg vs tg alone on a 1B model with llama.cpp's buffer lines
#   llamacpp: B's llamacpp step alone (GPU tests and the 8B bench; needs prep)
#   train: native trainer (llama.cpp, CUDA) vs the fallback trainer on the 1B synth (~4 min)
#   serve: sattva serve vs sattva bench, 1 and 32 clients, TTFT (bench/gpu/serve.sh; needs prep)
#   imatrix: sattva imatrix (100 chunks of 512) vs bench pp512, quantize with
#            and without --imatrix, the GPU imatrix test (needs prep; ~6 min)
#   probe: tg128 against builds with other C flags and a C++ driver
#          (bench/gpu/tgprobe.sh; stage with STAGE_PROBE=1; needs prep)
#   plugins: build the CUDA+CPU plugins HERE from the staged ggml sources
#          (.gpu/ggml-src.tar.xz) with the audited options into
#          $G/plugins-audited, timed (bench/gpu/plugins.sh, ~4 min); runs
#          first, so that a fresh machine needs no .device/plugins-xz
#   plugins-ab: also plugins built with GGML_CUDA_FORCE_CUBLAS=ON and
#          GGML_CUDA_FORCE_MMQ=ON (~4 min each; for buildopts' A/B rows)
#   buildopts: pp512/tg128 on the 8B q4_K_M and F16 with the audited plugins,
#          beside the C++ anchor and the earlier plugins (needs plugins, prep)
set -uo pipefail
cd "$(dirname "$0")/../.."
export OUT="${OUT:-/tmp/gpu-out}"
mkdir -p "$OUT"
G=/tmp/sattva-gpu
mkdir -p "$G/bin" "$G/plugins" "$G/testdata"
if [ -f .gpu/stamp ] && ! cmp -s .gpu/stamp "$G/stamp"; then
  xz -dc .gpu/sattva.xz >"$G/bin/sattva"
  rm -f "$G/bin/llamacpp.test" # left out of .gpu when the carry limit is tight
  if [ -f .gpu/llamacpp.test.xz ]; then xz -dc .gpu/llamacpp.test.xz >"$G/bin/llamacpp.test"; fi
  rm -f "$G/bin/sattva-o3" "$G/bin/tgbench" "$G/bin/tgbench-o3" "$G/bin/sattva-shared" "$G/bin/serveload" "$G/bin/servetg"
  for f in sattva-o3 tgbench tgbench-o3 sattva-shared serveload servetg; do
    if [ -f .gpu/$f.xz ]; then xz -dc .gpu/$f.xz >"$G/bin/$f"; fi
  done
  chmod +x "$G/bin/"*
  tar -C "$G/testdata" -xJf .gpu/testdata.tar.xz
  cp .gpu/stamp "$G/stamp"
fi
if [ ! -f "$G/plugins/libggml-cuda.so" ] && [ -d .device/plugins-xz ]; then
  cat .device/plugins-xz/* | xz -dc | tar -x -C "$G/plugins"
fi
[ -x "$G/bin/sattva" ] || { echo "no sattva binary: stage .gpu first"; exit 1; }
if [[ " $* " == *" plugins "* ]]; then # build before anything needs them
  echo "=== plugins (limit 540s)"; t0=$(date +%s)
  timeout --kill-after=10 540 bash bench/gpu/plugins.sh >"$OUT/plugins.log" 2>&1
  echo "=== plugins: exit $? in $(( $(date +%s) - t0 ))s" | tee -a "$OUT/steps.txt"; tail -n 5 "$OUT/plugins.log"
fi
plugdir="$G/plugins"
[ -f "$plugdir/libggml-cuda.so" ] || plugdir="$G/plugins-audited"
[ -f "$plugdir/libggml-cuda.so" ] || { echo "no CUDA plugin: carry .device/plugins-xz or run the plugins part"; exit 1; }
# sattva's own CUDA kernel (llamacpp/cuda: the imatrix collector's column sums),
# built here beside the plugins in a few seconds; SATTVA_CUDA_KERNELS=0 leaves
# it out (the collector then runs ggml's kernels).
rm -f "$plugdir/libsattva-cuda.so"
if [ "${SATTVA_CUDA_KERNELS:-1}" != 0 ]; then
  if bash scripts/llamacpp/build-cuda-kernels.sh "$plugdir" >"$OUT/cuda-kernels.log" 2>&1; then
    echo "cuda kernels: $(tail -1 "$OUT/cuda-kernels.log")"
  else
    echo "cuda kernels: not built (see cuda-kernels.log)"; tail -n 5 "$OUT/cuda-kernels.log"
  fi
fi
mkdir -p bin && cp "$G/bin/sattva" bin/
if [ -f "$G/bin/llamacpp.test" ]; then cp "$G/bin/llamacpp.test" bin/; fi
for f in serveload servetg; do if [ -f "$G/bin/$f" ]; then cp "$G/bin/$f" bin/; fi; done
export SATTVA_BACKEND_DIR="$plugdir" SATTVA_TESTDATA="$G/testdata"
export TOK="$G/testdata/llama31-tiny/hf"
export MODEL_8B_Q4KM=/tmp/l8b/q4_k_m.gguf MODEL_8B_F16=/tmp/l8b/f16.gguf
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader
echo "cpu: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo "cpu flags: $(grep -m1 -o -w avx2 /proc/cpuinfo) $(grep -m1 -o -w avx512f /proc/cpuinfo)"

step() { # step NAME SECONDS CMD...
  local name=$1 secs=$2; shift 2
  local t0=$(date +%s) rc=0
  echo "=== $name (limit ${secs}s)"
  timeout --kill-after=10 "$secs" "$@" >"$OUT/$name.log" 2>&1 || rc=$?
  echo "=== $name: exit $rc in $(( $(date +%s) - t0 ))s" | tee -a "$OUT/steps.txt"
  tail -n 5 "$OUT/$name.log"
}

for part in "$@"; do
  case "$part" in
  A)
    step convert 200 bash bench/gpu/convert.sh
    step quantize 350 bash bench/gpu/quantize.sh
    ;;
  B)
    step llamacpp 150 bash bench/gpu/llamacpp.sh
    step eval 200 bash bench/gpu/eval.sh
    PLAN_SKIP_TRAIN=1 step plan-run 210 bash bench/gpu/plan.sh
    ;;
  C)
    PLAN_SKIP_RUN=1 step plan-train 240 bash bench/gpu/plan.sh
    step pipeline 300 bash bench/gpu/pipeline.sh
    ;;
  prep) # the 8B q4_K_M model alone, when the machine is fresh (A measures these steps)
    step prep 300 bash -c 'set -e; rm -rf /tmp/l8b; mkdir -p /tmp/l8b
      ./bin/sattva synth --shape llama3.1-8b --dtype bf16 --seed 1 -q --tokenizer "$TOK" /tmp/l8b/hf
      ./bin/sattva convert /tmp/l8b/hf --outtype f16 -q -o /tmp/l8b/f16.gguf
      ./bin/sattva quantize /tmp/l8b/f16.gguf /tmp/l8b/q4_k_m.gguf Q4_K_M -q'
    ;;
  prepf16) # the 8B F16 alone (what imatrix and imxbench need)
    step prepf16 200 bash -c 'set -e; rm -rf /tmp/l8b; mkdir -p /tmp/l8b
      ./bin/sattva synth --shape llama3.1-8b --dtype bf16 --seed 1 -q --tokenizer "$TOK" /tmp/l8b/hf
      ./bin/sattva convert /tmp/l8b/hf --outtype f16 -q -o /tmp/l8b/f16.gguf'
    ;;
  imxbench) # one imatrix chunk's time split into its parts (BenchmarkIMatrixChunk), 8B F16
    SATTVA_BENCH_MODEL="$MODEL_8B_F16" step imxbench 240 ./bin/llamacpp.test -test.run XXX \
      -test.bench IMatrixChunk -test.benchtime "${IMX_BENCHTIME:-20x}" -test.v
    grep -E '^(Benchmark|    imatrix_test)' "$OUT/imxbench.log" >"$OUT/imxbench.md" ;;
  pipeline) step pipeline 300 bash bench/gpu/pipeline.sh ;;
  verify) step verify 240 bash bench/gpu/verify.sh ;; # needs prep's 8B files; ~1-2 min
  gputest)
    SATTVA_GPU_TEST=1 CI=true step gputest 120 ./bin/llamacpp.test -test.v -test.count=1 \
      -test.run 'TestBackends|TestGPU|TestStories|TestGenerateBatch|TestErrors'
    # cuBLAS in FP32 instead of ggml-cuda's TF32 math mode (TestGPU tightens
    # its limit for that path when it sees the variable)
    NVIDIA_TF32_OVERRIDE=0 SATTVA_GPU_TEST=1 CI=true step gputest-fp32 60 ./bin/llamacpp.test -test.v \
      -test.count=1 -test.run 'TestGPU'
    grep -hE '^(---|ok|FAIL|PASS)|GPU|logits' "$OUT/gputest.log" "$OUT/gputest-fp32.log" >"$OUT/gputest.md"
    ;;
  serve) step serve 360 bash bench/gpu/serve.sh ;; # needs prep
  probe) step probe 420 bash bench/gpu/tgprobe.sh ;;
  pinprobe) step pinprobe 200 bash bench/gpu/pinprobe.sh ;; # 1B model, host-buffer lines
  llamacpp) step llamacpp 150 bash bench/gpu/llamacpp.sh ;; # B's first step alone
  train) step train 300 bash bench/gpu/train.sh ;; # native trainer vs fallback, 1B synth, 50 steps
  plugins) ;; # built above, before the plugin check
  plugins-ab)
    for ab in CUBLAS MMQ; do
      DEST="$G/plugins-${ab,,}" EXTRA="-DGGML_CUDA_FORCE_$ab=ON" TARGETS=ggml-cuda step "plugins-${ab,,}" 280 bash bench/gpu/plugins.sh
    done ;;
  buildopts) step buildopts 420 bash bench/gpu/buildopts.sh ;;
  imatrix) step imatrix 540 bash bench/gpu/imatrix.sh ;; # needs prep
  *) echo "unknown part $part" ;;
  esac
done
echo; echo "######## results"
cat "$OUT/steps.txt"
for f in "$OUT"/*.md; do [ -f "$f" ] && { echo "--- $f"; cat "$f"; }; done
