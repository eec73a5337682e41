package pipeline

// ExampleProjectYAML returns a complete, commented sattva.yaml for the user's
// plan (Llama-3.1-8B, QLoRA, q4_K_M for Ollama). Every key it shows is one
// LoadProject accepts, and every value shown is the default unless the comment
// says otherwise. `sattva init` writes it.
func ExampleProjectYAML() string { return exampleProject }

const exampleProject = `# sattva.yaml — one project: dataset → LoRA training → GGUF → Ollama → eval.
# Relative paths are relative to this file. Run: sattva pipeline run sattva.yaml

# The model name: Ollama's model name and the prefix of every artifact.
name: sattva-llama31-8b

# Hugging Face folder of the base model (config.json, *.safetensors, tokenizer).
# Merging a LoRA needs the unquantized base, so keep the original weights here.
base: models/llama-3.1-8b

# Chat template for training, the Modelfile and eval:
#   llama3  Llama 3 headers and <|eot_id|> (LLaMA-Factory's "template: llama3")
#   plain   "Q: …\nA: …</s>" for base models without chat tokens (stories260K)
template: llama3

# Every artifact goes here: train/ (trainer config), adapter/, export/, state.json.
output: out

data:
  # JSONL in alpaca form: {"instruction", "input", "output"[, "system"]} per line,
  # checked with ` + "`sattva data validate`" + ` before training.
  train:
    - data/private/datasets/sattva_instruct_v1.jsonl
  # Dataset name in LLaMA-Factory's dataset_info.json.
  name: sattva

train:
  # auto: llamafactory-cli if on PATH, else scripts/train/sft_lora.py (python3 with
  # torch, transformers, peft), else training is skipped with a message.
  # Or: llamafactory | fallback | none.
  trainer: auto
  lora_rank: 16            # LLaMA-Factory: lora_rank (not lora_r)
  lora_alpha: 32           # default: 2 × lora_rank
  lora_dropout: 0.05       # default 0
  lora_target: all         # all linear layers (not "all-linear"), or e.g. q_proj,v_proj
  epochs: 2                # num_train_epochs
  learning_rate: 2.0e-4
  batch_size: 1            # per_device_train_batch_size
  gradient_accumulation: 8 # gradient_accumulation_steps
  cutoff_len: 2048         # prompt + answer tokens (replaces max_source/target_length)
  quantization_bit: 4      # 4: QLoRA (bitsandbytes nf4, double quant); 0: plain LoRA. Default 0.
  lr_scheduler: cosine     # lr_scheduler_type
  warmup_ratio: 0.03       # default 0
  logging_steps: 10
  save_steps: 200
  max_samples: 0           # 0: every example
  bf16: true
  gradient_checkpointing: true
  seed: 42
  # GPUs and machines. Several GPUs or nodes run under torchrun (FORCE_TORCHRUN=1).
  gpus: ""                 # CUDA_VISIBLE_DEVICES, e.g. "0" or "0,1"; empty: leave as is
  nodes: 1                 # NNODES
  node_rank: 0             # NODE_RANK of this machine
  master_addr: ""          # MASTER_ADDR, required when nodes > 1
  master_port: 29500       # MASTER_PORT
  # More LLaMA-Factory keys, passed through after a check that LLaMA-Factory knows them.
  extra: {}

export:
  # merge: fold the LoRA into the base, then quantize (what Ollama serves best).
  # separate: quantized base + a GGUF LoRA adapter (Modelfile ADAPTER).
  adapter: merge
  types: [q4_K_M, q8_0]    # one GGUF per type; the first is the default below
  outtype: f16             # float type of the conversion before quantizing
  # auto: importance matrix from data.train on the merged model (cached); none; or a file.
  imatrix: auto

ollama:
  type: q4_K_M             # which export the Modelfile's FROM names
  parameters:              # PARAMETER lines (stop words come from the template)
    num_ctx: 4096
    temperature: 0.7
    top_p: 0.9
    top_k: 40
  system: |
    You are SatTva — a local AI assistant for a Jyotish (Vedic astrology) & numerology project.
    - Work strictly offline on user-provided code and data.
    - Communicate in Russian by default; switch to English if the user writes in English.
    - Be technical, precise, and propose concrete improvements.
    - Never invent facts; if context is missing, ask for the exact paths/files/diffs.

eval:
  suite: evals/numerology.yaml  # an evalrun suite; empty: no eval stage
  pass_bar: 0.8            # the eval stage fails below this pass rate (0..1)
  type: q4_K_M             # which export is evaluated
  compare_base: true       # also evaluate the base model, side by side
`
