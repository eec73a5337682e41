// Package train embeds the fallback trainer, sft_lora.py, so that the sattva
// binary can write it beside the generated config and run it from anywhere.
package train

import _ "embed"

// SFTLoRA is scripts/train/sft_lora.py: a transformers + peft LoRA/QLoRA SFT
// trainer that reads LLaMA-Factory's YAML (see the script's docstring).
//
//go:embed sft_lora.py
var SFTLoRA string
