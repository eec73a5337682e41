#!/usr/bin/env python3
"""bench/gpu/plan_train.py — `sattva plan train` against torch.cuda.max_memory_allocated.

Each configuration runs three optimizer steps of the fallback trainer's
training step (scripts/train/sft_lora.py, the LoRA path, call for call: a bf16
model on the GPU, gradient_checkpointing_enable + enable_input_require_grads
when checkpointing, peft LoraConfig/get_peft_model, torch AdamW, bf16 autocast
around the forward with an attention mask, backward, clip_grad_norm_, step,
zero_grad(set_to_none=True)) on full-length sequences of random tokens, and
compares the peak allocated memory with `sattva plan train --json`.

Models: a `sattva synth` checkpoint of the shape when the binary can write one
(loaded with from_pretrained, and `plan train --model DIR` reads its
config.json), else the same shape built in memory from its config (random
init; `plan train --model SHAPE`).

usage: plan_train.py SATTVA OUT_MD WORKDIR
"""
import gc
import json
import os
import subprocess
import sys
import time

import torch

SATTVA, OUT_MD, WORK = sys.argv[1:4]

SHAPES = {  # the configs of the real models (hidden, layers, heads, kv heads, ffn, tied)
    "llama3.2-1b": dict(hidden_size=2048, num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8,
                        intermediate_size=8192, tie_word_embeddings=True, head_dim=64),
    "llama3.2-3b": dict(hidden_size=3072, num_hidden_layers=28, num_attention_heads=24, num_key_value_heads=8,
                        intermediate_size=8192, tie_word_embeddings=True, head_dim=128),
    "llama3.1-8b": dict(hidden_size=4096, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                        intermediate_size=14336, tie_word_embeddings=False, head_dim=128),
}
ALL = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

# name, shape, rank, targets, dropout, cutoff, batch, gradient checkpointing
CONFIGS = [
    ("A", "llama3.2-1b", 8, ALL, 0.0, 512, 4, False),
    ("B", "llama3.2-1b", 32, ALL, 0.05, 4096, 1, True),
    ("C", "llama3.2-3b", 16, ALL, 0.05, 1024, 2, True),
    ("D", "llama3.1-8b", 16, ALL, 0.05, 2048, 1, True),
    ("E", "llama3.1-8b", 64, ["q_proj", "v_proj"], 0.1, 1024, 1, False),
]
if os.environ.get("PLAN_TRAIN_CONFIGS"):
    keep = set(os.environ["PLAN_TRAIN_CONFIGS"].split(","))
    CONFIGS = [c for c in CONFIGS if c[0] in keep]

MiB = 1 << 20


def synth(shape):
    """A `sattva synth` checkpoint of shape, or None when the binary cannot write one."""
    d = os.path.join(WORK, "synth-" + shape)
    if os.path.exists(os.path.join(d, "config.json")):
        return d
    t0 = time.time()
    try:
        r = subprocess.run([SATTVA, "synth", "--shape", shape, d], capture_output=True, text=True, timeout=90)
        why = (r.stderr or r.stdout).strip()[-200:] if r.returncode != 0 else ""
    except subprocess.TimeoutExpired:
        why = "timed out after 90 s"
    if why or not os.path.exists(os.path.join(d, "config.json")):
        print("synth %s unavailable (%s); building the shape in memory" % (shape, why), file=sys.stderr)
        return None
    print("synth %s: %.1fs" % (shape, time.time() - t0), file=sys.stderr)
    return d


def build(shape, src):
    from transformers import AutoModelForCausalLM, LlamaConfig
    if src:
        try:
            m = AutoModelForCausalLM.from_pretrained(src, dtype=torch.bfloat16)
        except TypeError:
            m = AutoModelForCausalLM.from_pretrained(src, torch_dtype=torch.bfloat16)
        return m.to("cuda"), "synth"
    cfg = LlamaConfig(vocab_size=128256, max_position_embeddings=131072, rope_theta=500000.0,
                      rms_norm_eps=1e-5, **SHAPES[shape])
    prev = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device("cuda"):
            m = AutoModelForCausalLM.from_config(cfg)
    finally:
        torch.set_default_dtype(prev)
    return m.to(dtype=torch.bfloat16), "in memory"


def estimate(model_ref, rank, targets, dropout, cutoff, batch, gcp):
    args = [SATTVA, "plan", "train", "--model", model_ref, "--method", "lora", "--rank", str(rank),
            "--targets", ",".join(targets), "--dropout", str(dropout), "--cutoff", str(cutoff),
            "--batch", str(batch), "--gradient-checkpointing=" + ("true" if gcp else "false"),
            "--trainer", "fallback", "--json"]
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit("plan train failed: %s\n%s" % (" ".join(args), r.stderr))
    return json.loads(r.stdout)["estimate"]


def measure(name, shape, rank, targets, dropout, cutoff, batch, gcp):
    from peft import LoraConfig, get_peft_model
    gc.collect()
    torch.cuda.empty_cache()
    src = synth(shape) if name == "A" else None  # one synth checkpoint (2.5 GB); the rest in memory to stay within minutes
    t0 = time.time()
    model, origin = build(shape, src)
    if gcp:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    lcfg = LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=dropout, target_modules=targets, task_type="CAUSAL_LM")
    model = get_peft_model(model, lcfg)
    weights = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()  # the peak from here on still counts the weights
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4)
    model.train()
    vocab = model.config.vocab_size
    g = torch.Generator(device="cuda").manual_seed(0)
    steps = []
    for step in range(3):
        ids = torch.randint(0, vocab, (batch, cutoff), device="cuda", generator=g)
        att = torch.ones_like(ids)
        s0 = time.time()
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
            loss = model(input_ids=ids, attention_mask=att, labels=ids).loss
        if step == 0:
            fwd_peak = torch.cuda.max_memory_allocated()  # forward only (before any backward)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        steps.append(time.time() - s0)
    peak = torch.cuda.max_memory_allocated()
    reserved = torch.cuda.max_memory_reserved()
    ref = src if src else shape
    del model, opt, params, loss
    gc.collect()
    torch.cuda.empty_cache()
    return dict(origin=origin, weights=weights, peak=peak, reserved=reserved, ref=ref, fwd_peak=fwd_peak,
                step=min(steps[1:]), wall=time.time() - t0)


rows = []
for (name, shape, rank, targets, dropout, cutoff, batch, gcp) in CONFIGS:
    try:
        m = measure(name, shape, rank, targets, dropout, cutoff, batch, gcp)
        e = estimate(m["ref"], rank, targets, dropout, cutoff, batch, gcp)
        err = 100.0 * (e["peak_allocated_bytes"] - m["peak"]) / m["peak"]
        rows.append((name, shape, m["origin"], rank, "all" if targets == ALL else ",".join(targets), dropout, cutoff, batch,
                     "on" if gcp else "off", m["weights"] / MiB, m["peak"] / MiB, m["reserved"] / MiB,
                     e["peak_allocated_bytes"] / MiB, err, e["peak_phase"], m["step"], m["fwd_peak"] / MiB))
        print("%s %s: measured %.0f MiB, estimate %.0f MiB (%+.1f%%), %.1fs" % (
            name, shape, m["peak"] / MiB, e["peak_allocated_bytes"] / MiB, err, m["wall"]), file=sys.stderr)
    except Exception as ex:  # report and go on: one failed configuration must not hide the others
        print("%s %s failed: %r" % (name, shape, ex), file=sys.stderr)
        rows.append((name, shape, "failed: %s" % type(ex).__name__) + ("",) * 14)
        gc.collect()
        torch.cuda.empty_cache()

# 4-bit path: estimated, never measured here (no bitsandbytes on this machine).
q = subprocess.run([SATTVA, "plan", "train", "--model", "llama3.1-8b", "--method", "qlora", "--rank", "16",
                    "--dropout", "0.05", "--cutoff", "2048", "--batch", "1", "--json"], capture_output=True, text=True)
qest = json.loads(q.stdout)["estimate"] if q.returncode == 0 else None

import transformers, peft  # noqa: E402
with open(OUT_MD, "a") as f:
    f.write("\n### plan train vs torch.cuda.max_memory_allocated\n\n")
    f.write("%s, %s; torch %s, transformers %s, peft %s; %s\n\n" % (
        torch.cuda.get_device_name(0), time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        torch.__version__, transformers.__version__, peft.__version__,
        "3 steps of the fallback trainer's LoRA step (bf16 base, fp32 adapters, autocast), full-length random sequences"))
    f.write("| cfg | shape | model | r | targets | dropout | cutoff | batch | grad ckpt | weights+LoRA MiB | peak allocated MiB | peak reserved MiB | plan train MiB | error | plan's peak phase | s/step | forward-only peak MiB |\n")
    f.write("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
    for r in rows:
        if isinstance(r[9], float):
            f.write("| %s | %s | %s | %d | %s | %g | %d | %d | %s | %.0f | %.0f | %.0f | %.0f | %+.1f%% | %s | %.2f | %.0f |\n" % r)
        else:
            f.write("| %s | %s | %s |" % r[:3] + " |" * 14 + "\n")
    if qest:
        f.write("\n4-bit QLoRA, llama3.1-8b, r 16, cutoff 2048, batch 1, checkpointing on: plan train estimates "
                "%.0f MiB peak allocated, %.0f MiB on the card — **not measured** (no bitsandbytes here).\n"
                % (qest["peak_allocated_bytes"] / MiB, qest["device_bytes"] / MiB))
