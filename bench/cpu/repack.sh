#!/usr/bin/env bash
# bench/cpu/repack.sh — CPU prompt and generation speed after the build-options
# audit (docs/llamacpp.md, "Build options"): sattva against the C++ anchor on
# the 1.2B synthetic Llama 3.2 Q4_K_M, pp64/tg16, 3 repetitions, 2 threads.
#
# Four runners, alternated round by round so that the shared machine's load
# falls on all of them alike:
#   sattva plain    bin/sattva from a plain `make build`: the cgo-compiled CPU
#                   code (flags from scripts/llamacpp/cgoflags.sh: this
#                   machine's SIMD, GGML_USE_CPU_REPACK, -O3 -DNDEBUG), no plugins
#   anchor plain    bench/anchor/tgbench (llama-bench's loops in C++) over a Go
#                   c-archive of the same llama.cpp/ggml, same flags, no plugins
#   sattva plugins  the same binary with `make backends`' CPU plugins
#   anchor plugins  tgbench with the same plugins
# Builds what is missing: bin/sattva, bin/anchor/tgbench, the plugins in
# bin/lib/ollama (make backends; BACKEND_TARGETS=ggml-cpu-icelake, say, builds
# one variant only) and the model in $MODEL_DIR (sattva synth --shape
# llama3.2-1b, then convert --outtype q4_K_M in one pass).
# Writes bench/results/cpu-repack-<UTC time>.md and replaces the section
# between the cpu-repack markers in docs/performance.md with it.
#   ROUNDS (default 3), THREADS (2), REPS (3), PP (64), TG (16), MODEL_DIR
#   (/tmp/sattva-l1b), DOCS=0 to leave docs/performance.md alone.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS="${ROUNDS:-3}"; THREADS="${THREADS:-2}"; REPS="${REPS:-3}"; PP="${PP:-64}"; TG="${TG:-16}"
MODEL_DIR="${MODEL_DIR:-/tmp/sattva-l1b}"
TD="${SATTVA_TESTDATA:-../shared/testdata}"
model="$MODEL_DIR/q4_k_m.gguf"
plugins=bin/lib/ollama
eval "$(scripts/llamacpp/cgoflags.sh)"
say() { echo "repack.sh: $*" >&2; }

# ---- build what is missing (make's recipes, the flags above) ----
t0=$(date +%s)
make -s build >&2
# the anchor: rebuilt when missing or older than the flags script (REBUILD_ANCHOR=1 forces)
if [ ! -x bin/anchor/tgbench ] || [ scripts/llamacpp/cgoflags.sh -nt bin/anchor/tgbench ] || [ "${REBUILD_ANCHOR:-0}" = 1 ]; then
  bash bench/anchor/build.sh bin/anchor >&2
fi
if ! ls "$plugins"/libggml-cpu-*.so >/dev/null 2>&1; then
  command -v cmake >/dev/null && command -v ninja >/dev/null || { say "make backends needs cmake and ninja (apt-get install -y cmake ninja-build)"; exit 1; }
  make -s backends ${BACKEND_TARGETS:+BACKEND_TARGETS="$BACKEND_TARGETS"} >&2
fi
if [ ! -f "$model" ]; then
  mkdir -p "$MODEL_DIR"
  ./bin/sattva synth --shape llama3.2-1b --dtype bf16 --seed 1 -q --tokenizer "$TD/llama31-tiny/hf" "$MODEL_DIR/hf" >&2
  ./bin/sattva convert "$MODEL_DIR/hf" --outtype q4_K_M -q --threads "$THREADS" -o "$model" >&2
  rm -rf "$MODEL_DIR/hf"
fi
say "built in $(( $(date +%s) - t0 )) s"

nodir=/nonexistent-sattva-no-plugins
raw="$(mktemp)"; trap 'rm -f "$raw"' EXIT
# run ROUND RUNNER: one JSON line {"runner","round","pp","tg","load"} per test run
run() {
  local round=$1 runner=$2 dir out load
  case "$runner" in *plain) dir=$nodir ;; *) dir=$plugins ;; esac
  load="$(cut -d' ' -f1 /proc/loadavg)"
  case "$runner" in
  sattva*)
    out="$(./bin/sattva bench "$model" -p "$PP" -n "$TG" -r "$REPS" -t "$THREADS" --fa off --backend-dir "$dir" --json 2>/dev/null)"
    echo "$out" | python3 -c '
import json, sys
r = json.load(sys.stdin); t = {x["name"][:2]: x["avg_ts"] for x in r["tests"]}
print(json.dumps({"runner": sys.argv[1], "round": int(sys.argv[2]), "load": float(sys.argv[3]), "pp": t["pp"], "tg": t["tg"],
  "backend": r["backend"]["description"] + (" built-in" if r["backend"]["builtin"] else " plugin"),
  "features": r["backend"]["features"], "buffers": [b["name"] for b in r.get("buffers") or []]}))' "$runner" "$round" "$load" ;;
  anchor*)
    out="$(./bin/anchor/tgbench "$model" "$dir" -p "$PP" -n "$TG" -r "$REPS" -t "$THREADS" --fa off 2>/dev/null)"
    echo "$out" | python3 -c '
import json, sys
t = {}
for line in sys.stdin:
    line = line.strip()
    if line.startswith("{"):
        r = json.loads(line); t[r["name"][:2]] = r["avg_ts"]
print(json.dumps({"runner": sys.argv[1], "round": int(sys.argv[2]), "load": float(sys.argv[3]), "pp": t["pp"], "tg": t["tg"]}))' "$runner" "$round" "$load" ;;
  esac
}
start="$(date -u +%FT%TZ)"
for r in $(seq 1 "$ROUNDS"); do
  # alternate the order too: odd rounds sattva first, even rounds the anchor
  if [ $((r % 2)) = 1 ]; then order="sattva-plain anchor-plain sattva-plugins anchor-plugins"
  else order="anchor-plugins sattva-plugins anchor-plain sattva-plain"; fi
  for runner in $order; do
    run "$r" "$runner" | tee -a "$raw" >&2
  done
done
end="$(date -u +%FT%TZ)"

stamp="$(date -u +%Y%m%dT%H%MZ)"
mkdir -p bench/results
res="bench/results/cpu-repack-$stamp.md"
version="$(SATTVA_BACKEND_DIR="$plugins" ./bin/sattva version)"
python3 - "$raw" "$res" "$start" "$end" "$ROUNDS" "$THREADS" "$REPS" "$PP" "$TG" <<PY
import json, statistics, sys, platform, os
raw, res, start, end, rounds, threads, reps, pp, tg = sys.argv[1:10]
rows = [json.loads(l) for l in open(raw) if l.strip()]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
by = {}
for r in rows:
    by.setdefault(r["runner"], []).append(r)
med = {k: (statistics.median(x["pp"] for x in v), statistics.median(x["tg"] for x in v)) for k, v in by.items()}
out = []
out.append(f"### CPU: sattva against the C++ anchor after the build-options audit ({start[:10]})")
out.append("")
out.append(f"- Command: \`bash bench/cpu/repack.sh\` (ROUNDS={rounds}); each runner: pp{pp}/tg{tg}, {reps} repetitions after a warm-up, threads: {threads}, flash attention off.")
out.append(f"- Machine: {os.cpu_count()} cores ({cpu}), linux/amd64, shared with other engineers' builds and tests: the load average (1 min) is in each row; single runs vary.")
out.append(f"- Date: {start} – {end}.")
out.append("- Model: \`sattva synth --shape llama3.2-1b\` (random weights, 1.24B parameters), \`sattva convert --outtype q4_K_M\`.")
out.append("- Build: " + """$SATTVA_CGO_SUMMARY""" + "; plugins: \`make backends\` (options: scripts/llamacpp/ggml-options.sh).")
for k in ("sattva-plain", "sattva-plugins"):
    if k in by:
        b = by[k][0]
        out.append(f"- {k}: {b['backend']}; features {' '.join(b['features'])}; weight buffers {', '.join(b['buffers'])}.")
out.append("")
out.append(f"| round | runner | load | pp{pp} t/s | tg{tg} t/s |")
out.append("| ---: | --- | ---: | ---: | ---: |")
for r in rows:
    out.append(f"| {r['round']} | {r['runner']} | {r['load']:.1f} | {r['pp']:.2f} | {r['tg']:.2f} |")
out.append("")
out.append(f"| medians | pp{pp} t/s | tg{tg} t/s | pp of anchor | tg of anchor |")
out.append("| --- | ---: | ---: | ---: | ---: |")
for cfg in ("plain", "plugins"):
    s, a = med.get("sattva-" + cfg), med.get("anchor-" + cfg)
    if s and a:
        out.append(f"| sattva {cfg} | {s[0]:.2f} | {s[1]:.2f} | {100*s[0]/a[0]:.1f}% | {100*s[1]/a[1]:.1f}% |")
        out.append(f"| anchor {cfg} | {a[0]:.2f} | {a[1]:.2f} | | |")
sp, sg = med.get("sattva-plain"), med.get("sattva-plugins")
if sp and sg:
    out.append("")
    out.append(f"Plugins against the plain build (medians, plugins t/s ÷ plain t/s): pp {sg[0]/sp[0]:.2f}, tg {sg[1]/sp[1]:.2f} (goal: the plain build within 1.5x, i.e. at most 1.50).")
    ok5 = all(abs(med["sattva-"+c][i]/med["anchor-"+c][i]-1) <= 0.05 for c in ("plain","plugins") for i in (0,1) if "sattva-"+c in med and "anchor-"+c in med)
    out.append(f"sattva within 5% of the anchor in both builds, pp and tg (medians): {'yes' if ok5 else 'no'}.")
open(res, "w").write("\n".join(out) + "\n")
PY
{ echo; echo '```'; echo "$version"; echo '```'; } >>"$res"
cat "$res"
if [ "${DOCS:-1}" = 1 ] && grep -q '<!-- cpu-repack:begin -->' docs/performance.md; then
  python3 - "$res" <<'PY'
import sys, re
body = open(sys.argv[1]).read()
p = "docs/performance.md"
s = open(p).read()
s = re.sub(r"(<!-- cpu-repack:begin -->\n).*?(<!-- cpu-repack:end -->)", lambda m: m.group(1) + body + "\n" + m.group(2), s, flags=re.S)
open(p, "w").write(s)
PY
  say "docs/performance.md updated from $res"
fi
