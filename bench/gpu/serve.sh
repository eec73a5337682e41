#!/usr/bin/env bash
# bench/gpu/serve.sh — `sattva serve` against `sattva bench` on the same card
# in the same run, on the Llama-3.1-8B-shaped q4_K_M ($MODEL_8B_Q4KM):
#   anchor: sattva bench -p 32 -n 128 --parallel 32 (tg128, and pp32+tg128 x32
#           through GenerateBatch: aggregate generated tokens per second)
#   serve:  sattva serve --parallel 32, then bench/serveload's throughput mode:
#           1 streaming client of 129 tokens (its decode rate after the first
#           token: 128 single-token decodes, as tg128 times 128), then 32
#           concurrent streaming clients of 128 tokens (aggregate tokens/s),
#           ignore_eos, greedy, 3 rounds each; TTFT p50/p99 of both; and the
#           one client again against a one-slot server. The client's token
#           count is the server's usage, not its chunks (a control token or a
#           character split over tokens sends no chunk of its own; the
#           report shows both counts).
#   in one process: bench/servetg on the same model, tg128 (Context.Bench,
#           as sattva bench), the library's greedy loop and one streaming
#           client through serve's handler, alternating, 5 rounds, at the
#           default threads and at -t $FEW_THREADS (a fully offloaded model
#           computes only its input rows on the CPU; a busy-polling CPU
#           threadpool as wide as the machine competes with the server's
#           and the client's goroutines for the cores).
# Checks: aggregate at 32 clients >= 90% of the anchor's pp32+tg128 x32;
# one client's tok/s >= 97% of tg128. Writes $OUT/serve.md.
# Expected run time: about 3-4 minutes (five model loads of ~5 GB, ~40 s
# bench, ~40 s of load, ~40 s of servetg).
#
# Needs: ./bin/sattva, ./bin/serveload and ./bin/servetg (bench/gpu/stage.sh),
# the CUDA plugins in $SATTVA_BACKEND_DIR, $MODEL_8B_Q4KM (part prep), $OUT,
# python3, curl.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${MODEL_8B_Q4KM:?set MODEL_8B_Q4KM to the Llama-3.1-8B-shaped q4_K_M GGUF}"
: "${OUT:?set OUT to the results folder}"
SATTVA="${SATTVA:-./bin/sattva}"
LOAD="${LOAD:-./bin/serveload}"
SERVETG="${SERVETG:-./bin/servetg}"
FEW_THREADS="${FEW_THREADS:-4}"
PORT="${PORT:-18480}"
mkdir -p "$OUT"
gpu="$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1 || echo unknown)"
# About 32 tokens with the Llama 3 tokenizer, like the anchor's 32 random prompt tokens.
PROMPT="Once upon a time, in a small village by the sea, there lived an old fisherman who told his grandchildren stories about the stars every night."

"$SATTVA" bench "$MODEL_8B_Q4KM" -p 32 -n 128 -r 3 --parallel 32 --json >"$OUT/serve-bench.json"

"$SATTVA" serve "$MODEL_8B_Q4KM" --parallel 32 -c 256 --port "$PORT" --queue 64 >"$OUT/serve-server.log" 2>&1 &
srv=$!
trap 'kill -TERM $srv 2>/dev/null || true; wait $srv 2>/dev/null || true' EXIT
for _ in $(seq 1 240); do
  curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break
  kill -0 $srv 2>/dev/null || { cat "$OUT/serve-server.log"; exit 1; }
  sleep 0.5
done
"$LOAD" -url "http://127.0.0.1:$PORT" -mode throughput -clients 1 -rounds 3 -max-tokens 129 -prompt "$PROMPT" -o "$OUT/serve-1.txt"
"$LOAD" -url "http://127.0.0.1:$PORT" -mode throughput -clients 32 -rounds 3 -max-tokens 128 -prompt "$PROMPT" -o "$OUT/serve-32.txt"
curl -sf "http://127.0.0.1:$PORT/metrics" | grep -E '^sattva_(generated_tokens_total|prompt_tokens|time_to_first_token_seconds_(sum|count))' >"$OUT/serve-metrics.txt" || true
kill -TERM $srv
wait $srv && echo "server exit 0 after SIGTERM" >>"$OUT/serve-server.log" || echo "server exit $? after SIGTERM" >>"$OUT/serve-server.log"
trap - EXIT

# The single client again against a one-slot server (-c 256): the cost of
# 31 idle slots' KV streams, if any, shows as the difference. Then the same
# at -t $FEW_THREADS, beside tg128 at -t $FEW_THREADS: bench and serve at the
# same threads, wide and narrow.
one_slot() { # one_slot THREADS OUTNAME
  "$SATTVA" serve "$MODEL_8B_Q4KM" --parallel 1 -c 256 -t "$1" --port "$PORT" >"$OUT/serve-server-$2.log" 2>&1 &
  srv=$!
  trap 'kill -TERM $srv 2>/dev/null || true; wait $srv 2>/dev/null || true' EXIT
  for _ in $(seq 1 240); do
    curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break
    kill -0 $srv 2>/dev/null || { cat "$OUT/serve-server-$2.log"; exit 1; }
    sleep 0.5
  done
  "$LOAD" -url "http://127.0.0.1:$PORT" -mode throughput -clients 1 -rounds 3 -max-tokens 129 -prompt "$PROMPT" -o "$OUT/$2.txt"
  kill -TERM $srv
  wait $srv || true
  trap - EXIT
}
one_slot 0 serve-1slot
"$SATTVA" bench "$MODEL_8B_Q4KM" -p 0 -n 128 -r 3 -t "$FEW_THREADS" --json >"$OUT/serve-bench-few.json"
one_slot "$FEW_THREADS" serve-1slot-few

# In one process, alternating: tg128 against one streaming client through the
# handler (and the library's loop), at the default threads and at a few.
st_ok=1
for t in 0 "$FEW_THREADS"; do
  "$SERVETG" -m "$MODEL_8B_Q4KM" -gpu -t "$t" -n 128 -rounds 5 -np 1 -c 256 -prompt "$PROMPT" -o "$OUT/servetg-t$t.txt" || st_ok=0
done
[ $st_ok = 1 ] || echo "servetg failed: its tables are missing below" >&2

python3 - "$OUT" "$gpu" "$(date -u +%FT%TZ)" "$FEW_THREADS" <<'EOF'
import json, re, sys
out, gpu, when, few = sys.argv[1:5]
b = json.load(open(f"{out}/serve-bench.json"))
tests = {t["name"]: t for t in b["tests"]}
tg = tests["tg128"]["avg_ts"]
par = next(t for n, t in tests.items() if n.endswith("x32"))
def load(name):
    s = open(f"{out}/{name}").read()
    m = re.search(r"serveload clients=(\d+) agg=([\d.]+) perreq=([\d.]+) ttft_p50=([\d.]+) ttft_p99=([\d.]+) chunks=(\d+) tokens=(\d+)", s)
    return dict(zip(["clients", "agg", "perreq", "p50", "p99", "chunks", "tokens"], map(float, m.groups())))
one, many, solo, solofew = load("serve-1.txt"), load("serve-32.txt"), load("serve-1slot.txt"), load("serve-1slot-few.txt")
tgfew = next(t for t in json.load(open(f"{out}/serve-bench-few.json"))["tests"] if t["name"] == "tg128")["avg_ts"]
r1 = one["perreq"] / tg
r32 = many["agg"] / par["avg_ts"]
ok1, ok32 = r1 >= 0.97, r32 >= 0.90
exit_line = open(f"{out}/serve-server.log").read().strip().splitlines()[-1]
with open(f"{out}/serve.md", "w") as f:
    f.write(f"## sattva serve vs sattva bench — {b['description']} on {gpu}, {when}\n\n")
    f.write("| measure | sattva bench (anchor) | sattva serve | ratio | bar | result |\n|---|---:|---:|---:|---:|---|\n")
    f.write(f"| one client: generated tok/s | tg128 {tg:.1f} | {one['perreq']:.1f} (after the first token) | {r1:.3f} | ≥ 0.97 | {'PASS' if ok1 else 'FAIL'} |\n")
    f.write(f"| one client, one-slot server (-np 1) | tg128 {tg:.1f} | {solo['perreq']:.1f} | {solo['perreq']/tg:.3f} | (info) | |\n")
    f.write(f"| one client, one-slot server, both -t {few} | tg128 {tgfew:.1f} | {solofew['perreq']:.1f} | {solofew['perreq']/tgfew:.3f} | (info) | |\n")
    f.write(f"| 32 clients: aggregate generated tok/s | {par['name']} {par['avg_ts']:.1f} | {many['agg']:.1f} | {r32:.3f} | ≥ 0.90 | {'PASS' if ok32 else 'FAIL'} |\n\n")
    f.write("| clients | TTFT p50 ms | TTFT p99 ms |\n|---:|---:|---:|\n")
    f.write(f"| 1 | {one['p50']:.1f} | {one['p99']:.1f} |\n| 32 | {many['p50']:.1f} | {many['p99']:.1f} |\n| 1 (one-slot server) | {solo['p50']:.1f} | {solo['p99']:.1f} |\n| 1 (one-slot server, -t {few}) | {solofew['p50']:.1f} | {solofew['p99']:.1f} |\n\n")
    f.write(f"Prompt ≈ 32 tokens; one client: 129 generated tokens per request, rate over the 128 decodes after the first token (as tg128); 32 clients: 128 per request; ignore_eos, greedy, 3 rounds each; server --parallel 32 -c 256; {exit_line}. ")
    f.write(f"Text chunks / tokens (usage): one client {one['chunks']:.0f} / {one['tokens']:.0f}, 32 clients {many['chunks']:.0f} / {many['tokens']:.0f}.\n\n")
    import glob
    for p in sorted(glob.glob(f"{out}/servetg-t*.txt")):
        f.write(f"### bench/servetg, one process, -t {p.split('/')[-1][9:-4]} (0: all CPUs)\n\n")
        f.write(open(p).read().replace("servetg: ", "", 1) + "\n")
print(open(f"{out}/serve.md").read())
EOF
