#!/usr/bin/env python3
"""sattva's fallback trainer: LoRA / QLoRA supervised fine-tuning with transformers + peft.

    python3 sft_lora.py CONFIG.yaml

CONFIG.yaml is the LLaMA-Factory training YAML that `sattva train` writes
(<output>/train/llamafactory.yaml): the same file `llamafactory-cli train` reads.
This script honours the keys a LoRA SFT run needs and ignores the rest:

  model_name_or_path, quantization_bit, lora_rank, lora_alpha, lora_dropout,
  lora_target, dataset, dataset_dir (+ dataset_info.json, alpaca columns), template,
  cutoff_len, max_samples, output_dir, logging_steps, per_device_train_batch_size,
  gradient_accumulation_steps, learning_rate, num_train_epochs, lr_scheduler_type,
  warmup_ratio, bf16, seed, disable_gradient_checkpointing.

What it matches in LLaMA-Factory (src/llamafactory/data/template.py, processor/supervised.py):
  * the llama3 template: BOS, then "<|start_header_id|>system<|end_header_id|>\\n\\n{system}<|eot_id|>"
    when a system prompt is given, "<|start_header_id|>user<|end_header_id|>\\n\\n{instruction\\ninput}
    <|eot_id|><|start_header_id|>assistant<|end_header_id|>\\n\\n" and "{output}<|eot_id|>",
    each piece tokenized on its own without special tokens, as LLaMA-Factory does;
  * loss on the answer tokens only (prompt labels are -100);
  * cutoff_len split between prompt and answer with LLaMA-Factory's infer_seqlen rule;
  * 4-bit QLoRA (nf4, double quantization, bf16 compute) when quantization_bit is 4 and
    bitsandbytes imports on a CUDA machine; plain LoRA otherwise (said on stderr);
  * lora_target "all": every nn.Linear except the output head.

"plain" is sattva's template for base models without chat tokens (stories260K): BOS +
"{system}\\n\\n{instruction\\ninput}" as the prompt (one tokenizer call, like llama.cpp at
inference) and the answer tokenized on its own (SentencePiece adds the word-start space) + EOS.

Output: the PEFT adapter (adapter_config.json, adapter_model.safetensors) and the tokenizer in
output_dir. Progress goes to stderr as tqdm-style lines ("  12%| | 12/100 [...]"), and every
logging_steps optimizer steps a line {'loss': …, 'grad_norm': …, 'learning_rate': …, 'epoch': …}
goes to stdout, the form transformers' Trainer prints, so sattva parses both trainers alike.
"""

import json
import math
import os
import random
import sys
import time

IGNORE = -100


def log(msg):
    print("[sft_lora] " + msg, file=sys.stderr, flush=True)


def load_config(path):
    import yaml

    with open(path, encoding="utf-8") as f:
        cfg = yaml.safe_load(f)
    if not isinstance(cfg, dict):
        raise SystemExit(f"{path}: not a YAML mapping")
    for key in ("model_name_or_path", "dataset", "dataset_dir", "output_dir"):
        if not cfg.get(key):
            raise SystemExit(f"{path}: missing {key}")
    if cfg.get("stage", "sft") != "sft" or cfg.get("finetuning_type", "lora") != "lora":
        raise SystemExit(f"{path}: only stage sft with finetuning_type lora is supported")
    return cfg


def load_examples(cfg):
    ddir = cfg["dataset_dir"]
    with open(os.path.join(ddir, "dataset_info.json"), encoding="utf-8") as f:
        info = json.load(f)
    examples = []
    for name in str(cfg["dataset"]).split(","):
        name = name.strip()
        if name not in info:
            raise SystemExit(f"dataset {name!r} is not in {ddir}/dataset_info.json")
        attr = info[name]
        if attr.get("formatting", "alpaca") != "alpaca":
            raise SystemExit(f"dataset {name!r}: only the alpaca formatting is supported")
        cols = {"prompt": "instruction", "query": "input", "response": "output", "system": None}
        cols.update(attr.get("columns", {}))
        with open(os.path.join(ddir, attr["file_name"]), encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                row = json.loads(line)
                # LLaMA-Factory's alpaca converter: user content = instruction + "\n" + input.
                parts = [row[c] for c in (cols["prompt"], cols["query"]) if c and row.get(c)]
                system = row.get(cols["system"], "") if cols["system"] else ""
                examples.append({"user": "\n".join(parts), "answer": row[cols["response"]], "system": system or ""})
    max_samples = cfg.get("max_samples")
    if max_samples:
        examples = examples[: int(max_samples)]
    return examples


def infer_seqlen(source_len, target_len, cutoff_len):
    # LLaMA-Factory data/processor/processor_utils.py infer_seqlen
    if target_len * 2 < cutoff_len:
        max_target_len = cutoff_len
    elif source_len * 2 < cutoff_len:
        max_target_len = cutoff_len - source_len
    else:
        max_target_len = int(cutoff_len * (target_len / (source_len + target_len)))
    new_target_len = min(max_target_len, target_len)
    max_source_len = max(cutoff_len - new_target_len, 0)
    new_source_len = min(max_source_len, source_len)
    return new_source_len, new_target_len


BOS, EOS = "<BOS>", "<EOS>"  # markers in segments(): the tokenizer's BOS / EOS ids


def segments(template, ex):
    """The pieces of one example: (prompt pieces, answer pieces), each a string
    tokenized on its own without special tokens, or the BOS / EOS marker."""
    if template == "llama3":
        src = [BOS]
        if ex["system"]:
            src.append("<|start_header_id|>system<|end_header_id|>\n\n" + ex["system"] + "<|eot_id|>")
        src.append("<|start_header_id|>user<|end_header_id|>\n\n" + ex["user"] + "<|eot_id|>"
                   "<|start_header_id|>assistant<|end_header_id|>\n\n")
        return src, [ex["answer"] + "<|eot_id|>"]
    if template == "plain":
        # evalrun.RawPrompt: system and question joined by a blank line, one piece.
        return [BOS, (ex["system"] + "\n\n" if ex["system"] else "") + ex["user"]], [ex["answer"], EOS]
    raise SystemExit(f"template {template!r}: the fallback trainer knows llama3 and plain")


PROBE = "Jiva: 2, Dharma: 3, Approach: 1. Date 29.01.1988"


class SentencePieceTokenizer:
    """The few tokenizer calls this script makes, served by sentencepiece from
    tokenizer.model; save_pretrained goes to the Hugging Face tokenizer."""

    def __init__(self, sp, hf):
        self.sp, self.hf = sp, hf
        self.bos_token_id = sp.bos_id() if sp.bos_id() >= 0 else None
        self.eos_token_id = sp.eos_id() if sp.eos_id() >= 0 else None
        self.unk_token_id = sp.unk_id() if sp.unk_id() >= 0 else None
        self.pad_token_id = sp.pad_id() if sp.pad_id() >= 0 else None

    def encode(self, text, add_special_tokens=False):
        ids = list(self.sp.encode(text))
        if add_special_tokens and self.bos_token_id is not None:
            ids = [self.bos_token_id] + ids
        return ids

    def convert_tokens_to_ids(self, piece):
        i = self.sp.piece_to_id(piece)
        return None if i == self.unk_token_id else i

    def save_pretrained(self, out):
        return self.hf.save_pretrained(out)


def checked_tokenizer(tok, base):
    """tok if it encodes ordinary text; else tokenizer.model through
    sentencepiece. A tokenizer.json whose vocabulary lacks the pieces (the
    stories260K one holds 3 tokens) turns every answer into <unk>, and
    training then learns to emit <unk> (seen on the GPU machine, 2026-11-27:
    the loss stuck at 5.3223 with zero gradient for three learning rates)."""
    ids = tok.encode(PROBE, add_special_tokens=False)
    unk = tok.unk_token_id
    n_unk = sum(1 for i in ids if unk is not None and i == unk)
    if ids and n_unk * 4 <= len(ids):
        return tok
    spm_path = os.path.join(base, "tokenizer.model")
    if not os.path.exists(spm_path):
        raise SystemExit("the tokenizer of %s turns %d of %d tokens of %r into <unk> and there is no "
                         "tokenizer.model to use instead" % (base, n_unk, len(ids), PROBE))
    import sentencepiece

    sp = sentencepiece.SentencePieceProcessor(model_file=spm_path)
    sp_tok = SentencePieceTokenizer(sp, tok)
    sp_ids = sp_tok.encode(PROBE)
    if not sp_ids or sum(1 for i in sp_ids if i == sp_tok.unk_token_id) * 4 > len(sp_ids):
        raise SystemExit("neither tokenizer.json nor tokenizer.model of %s encodes %r" % (base, PROBE))
    why = ("turns %d of %d tokens of %r into <unk>" % (n_unk, len(ids), PROBE)) if ids else \
        ("encodes %r as no tokens at all" % PROBE)
    log("tokenizer.json %s: using %s through sentencepiece" % (why, spm_path))
    return sp_tok


def encode(tok, template, ex, cutoff_len):
    def ids(parts):
        out = []
        for p in parts:
            if p == BOS:
                out += [tok.bos_token_id] if tok.bos_token_id is not None else []
            elif p == EOS:
                out.append(tok.eos_token_id)
            elif p:
                out += tok.encode(p, add_special_tokens=False)
        return out

    src_parts, tgt_parts = segments(template, ex)
    src, tgt = ids(src_parts), ids(tgt_parts)
    s, t = infer_seqlen(len(src), len(tgt), cutoff_len)
    src, tgt = src[:s], tgt[:t]
    return src + tgt, [IGNORE] * len(src) + tgt


def linear_targets(model):
    import torch.nn as nn

    names = set()
    out_emb = model.get_output_embeddings()
    for name, mod in model.named_modules():
        if isinstance(mod, nn.Linear) and mod is not out_emb and "lm_head" not in name:
            names.add(name.split(".")[-1])
    return sorted(names)


def progress(step, total, t0):
    el = time.time() - t0
    rate = step / el if el > 0 else 0.0
    left = (total - step) / rate if rate > 0 else 0.0
    pct = int(100 * step / total) if total else 100
    fmt = lambda s: "%02d:%02d" % divmod(int(s), 60)
    sys.stderr.write("\r%3d%%| | %d/%d [%s<%s, %.2fit/s]" % (pct, step, total, fmt(el), fmt(left), rate))
    sys.stderr.flush()


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: sft_lora.py CONFIG.yaml")
    cfg = load_config(sys.argv[1])

    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, get_scheduler

    seed = int(cfg.get("seed", 42))
    random.seed(seed)
    torch.manual_seed(seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    use_bf16 = bool(cfg.get("bf16", False)) and device == "cuda" and torch.cuda.is_bf16_supported()
    dtype = torch.bfloat16 if use_bf16 else torch.float32

    base = cfg["model_name_or_path"]
    tok = checked_tokenizer(AutoTokenizer.from_pretrained(base), base)
    template = cfg.get("template", "llama3")
    if template == "llama3" and tok.convert_tokens_to_ids("<|eot_id|>") in (None, tok.unk_token_id):
        raise SystemExit("template llama3 needs a tokenizer with <|eot_id|>; use template plain for this model")
    if tok.pad_token_id is None:
        if isinstance(tok, SentencePieceTokenizer):
            tok.pad_token_id = tok.eos_token_id
        else:
            tok.pad_token = tok.eos_token

    qbit = int(cfg.get("quantization_bit") or 0)
    import transformers

    tv = tuple(int(x) for x in transformers.__version__.split(".")[:2] if x.isdigit())
    kwargs = {"dtype" if tv >= (4, 56) else "torch_dtype": dtype}  # renamed in transformers 4.56
    mode = "LoRA"
    if qbit in (4, 8):
        try:
            import bitsandbytes  # noqa: F401
            from transformers import BitsAndBytesConfig

            if device != "cuda":
                raise ImportError("bitsandbytes quantization needs CUDA")
            if qbit == 4:
                kwargs["quantization_config"] = BitsAndBytesConfig(
                    load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                    bnb_4bit_compute_dtype=torch.bfloat16 if use_bf16 else torch.float16)
            else:
                kwargs["quantization_config"] = BitsAndBytesConfig(load_in_8bit=True)
            kwargs["device_map"] = {"": 0}
            mode = "QLoRA (%d-bit)" % qbit
        except ImportError as e:
            log("quantization_bit %d asked but bitsandbytes is unavailable (%s): plain LoRA on %s weights" % (qbit, e, dtype))
    model = AutoModelForCausalLM.from_pretrained(base, **kwargs)
    if "quantization_config" in kwargs:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=not cfg.get("disable_gradient_checkpointing", False))
    else:
        model.to(device)
        if not cfg.get("disable_gradient_checkpointing", False) and getattr(model, "supports_gradient_checkpointing", False):
            model.gradient_checkpointing_enable()
            model.enable_input_require_grads()

    target = str(cfg.get("lora_target", "all"))
    targets = linear_targets(model) if target == "all" else [t.strip() for t in target.split(",")]
    rank = int(cfg.get("lora_rank", 8))
    lcfg = LoraConfig(r=rank, lora_alpha=int(cfg.get("lora_alpha") or 2 * rank),
                      lora_dropout=float(cfg.get("lora_dropout", 0.0)), target_modules=targets,
                      task_type="CAUSAL_LM")
    model = get_peft_model(model, lcfg)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    log("%s on %s (%s), targets %s, trainable %d of %d parameters" % (mode, device, dtype, ",".join(targets), trainable, total))

    cutoff = int(cfg.get("cutoff_len", 2048))
    data = [encode(tok, template, ex, cutoff) for ex in load_examples(cfg)]
    data = [d for d in data if any(l != IGNORE for l in d[1])]
    if not data:
        raise SystemExit("no training example has answer tokens within cutoff_len")
    log("%d examples, template %s, cutoff_len %d" % (len(data), template, cutoff))

    bs = int(cfg.get("per_device_train_batch_size", 1))
    accum = int(cfg.get("gradient_accumulation_steps", 1))
    epochs = float(cfg.get("num_train_epochs", 1))
    batches_per_epoch = math.ceil(len(data) / bs)
    steps_per_epoch = max(1, batches_per_epoch // accum)
    total_steps = max(1, math.ceil(epochs * steps_per_epoch))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=float(cfg.get("learning_rate", 5e-5)))
    sched = get_scheduler(str(cfg.get("lr_scheduler_type", "linear")), opt,
                          num_warmup_steps=int(math.ceil(float(cfg.get("warmup_ratio", 0.0)) * total_steps)),
                          num_training_steps=total_steps)
    log_every = int(cfg.get("logging_steps", 10))
    pad = tok.pad_token_id

    def batches():
        while True:
            order = list(range(len(data)))
            random.shuffle(order)
            for i in range(0, len(order), bs):
                yield [data[j] for j in order[i:i + bs]]

    model.train()
    it = batches()
    step, t0, run_loss, run_n = 0, time.time(), 0.0, 0
    progress(0, total_steps, t0)
    while step < total_steps:
        for _ in range(accum):
            batch = next(it)
            n = max(len(x[0]) for x in batch)
            ids = torch.tensor([x[0] + [pad] * (n - len(x[0])) for x in batch], device=device)
            lab = torch.tensor([x[1] + [IGNORE] * (n - len(x[1])) for x in batch], device=device)
            att = torch.tensor([[1] * len(x[0]) + [0] * (n - len(x[0])) for x in batch], device=device)
            with torch.autocast(device_type=device, dtype=dtype, enabled=use_bf16):
                loss = model(input_ids=ids, attention_mask=att, labels=lab).loss
            (loss / accum).backward()
            run_loss += loss.item()
            run_n += 1
        gnorm = torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        progress(step, total_steps, t0)
        if step % log_every == 0 or step == total_steps:
            rec = {"loss": round(run_loss / run_n, 4), "grad_norm": round(float(gnorm), 4),
                   "learning_rate": sched.get_last_lr()[0], "epoch": round(step / steps_per_epoch, 2), "step": step}
            sys.stderr.write("\n")
            print(rec, flush=True)
            run_loss, run_n = 0.0, 0
    sys.stderr.write("\n")
    out = cfg["output_dir"]
    os.makedirs(out, exist_ok=True)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    el = time.time() - t0
    print({"train_runtime": round(el, 2), "train_steps_per_second": round(total_steps / el, 3), "epoch": round(epochs, 2)}, flush=True)
    log("adapter saved to " + out)


if __name__ == "__main__":
    main()
