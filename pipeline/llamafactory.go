package pipeline

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// LlamaFactorySource names where the argument names below were read from:
// LLaMA-Factory's hparams dataclasses and transformers' TrainingArguments.
const LlamaFactorySource = "hiyouga/LLaMA-Factory src/llamafactory/hparams/{model_args.py@00577a85775a2a78b14641ff8f68c58c6f46b027, " +
	"finetuning_args.py@00577a85775a2a78b14641ff8f68c58c6f46b027, data_args.py@072bfe29d3b10447b0702196028af2f0fb87ad6b}; " +
	"transformers TrainingArguments/Seq2SeqTrainingArguments"

// llamaFactoryKeys are argument names LLaMA-Factory's HfArgumentParser accepts
// (it rejects any other key with "Some keys are not used by the
// HfArgumentParser"). Not every field is listed: these are the ones a LoRA
// SFT config uses, and the ones `train.extra` may pass through.
var llamaFactoryKeys = map[string]string{
	// model_args.py: BaseModelArguments, QuantizationArguments, ExportArguments
	"model_name_or_path": "model", "adapter_name_or_path": "model", "adapter_folder": "model", "cache_dir": "model",
	"use_fast_tokenizer": "model", "resize_vocab": "model", "split_special_tokens": "model", "add_tokens": "model",
	"add_special_tokens": "model", "model_revision": "model", "low_cpu_mem_usage": "model", "rope_scaling": "model",
	"flash_attn": "model", "shift_attn": "model", "mixture_of_depths": "model", "use_unsloth": "model",
	"use_unsloth_gc": "model", "enable_liger_kernel": "model", "moe_aux_loss_coef": "model",
	"disable_gradient_checkpointing": "model", "use_reentrant_gc": "model", "upcast_layernorm": "model",
	"upcast_lmhead_output": "model", "train_from_scratch": "model", "infer_backend": "model", "offload_folder": "model",
	"use_kv_cache": "model", "infer_dtype": "model", "hf_hub_token": "model", "ms_hub_token": "model",
	"print_param_status": "model", "trust_remote_code": "model",
	"quantization_method": "model", "quantization_bit": "model", "quantization_type": "model",
	"double_quantization": "model", "quantization_device_map": "model",
	"export_dir": "model", "export_size": "model", "export_device": "model", "export_quantization_bit": "model",
	"export_legacy_format": "model",
	// data_args.py: DataArguments
	"template": "data", "dataset": "data", "eval_dataset": "data", "dataset_dir": "data", "media_dir": "data",
	"cutoff_len": "data", "train_on_prompt": "data", "mask_history": "data", "streaming": "data",
	"buffer_size": "data", "mix_strategy": "data", "interleave_probs": "data", "overwrite_cache": "data",
	"preprocessing_batch_size": "data", "preprocessing_num_workers": "data", "max_samples": "data",
	"eval_num_beams": "data", "ignore_pad_token_for_loss": "data", "val_size": "data",
	"eval_on_each_dataset": "data", "packing": "data", "neat_packing": "data", "tool_format": "data",
	"tokenized_path": "data",
	// finetuning_args.py: FinetuningArguments and its LoraArguments, FreezeArguments …
	"stage": "finetuning", "finetuning_type": "finetuning", "pure_bf16": "finetuning", "use_llama_pro": "finetuning",
	"plot_loss": "finetuning", "compute_accuracy": "finetuning",
	"additional_target": "finetuning", "lora_alpha": "finetuning", "lora_dropout": "finetuning",
	"lora_rank": "finetuning", "lora_target": "finetuning", "loraplus_lr_ratio": "finetuning",
	"loraplus_lr_embedding": "finetuning", "use_rslora": "finetuning", "use_dora": "finetuning",
	"pissa_init": "finetuning", "pissa_iter": "finetuning", "pissa_convert": "finetuning",
	"create_new_adapter": "finetuning", "freeze_trainable_layers": "finetuning",
	"freeze_trainable_modules": "finetuning", "freeze_extra_modules": "finetuning",
	// transformers Seq2SeqTrainingArguments (LLaMA-Factory's TrainingArguments extends it)
	"output_dir": "training", "overwrite_output_dir": "training", "do_train": "training", "do_eval": "training",
	"do_predict": "training", "eval_strategy": "training", "per_device_train_batch_size": "training",
	"per_device_eval_batch_size": "training", "gradient_accumulation_steps": "training",
	"learning_rate": "training", "weight_decay": "training", "adam_beta1": "training", "adam_beta2": "training",
	"adam_epsilon": "training", "max_grad_norm": "training", "num_train_epochs": "training",
	"max_steps": "training", "lr_scheduler_type": "training", "warmup_ratio": "training",
	"warmup_steps": "training", "logging_dir": "training", "logging_strategy": "training",
	"logging_steps": "training", "save_strategy": "training", "save_steps": "training",
	"save_total_limit": "training", "save_only_model": "training", "seed": "training", "data_seed": "training",
	"bf16": "training", "fp16": "training", "tf32": "training", "eval_steps": "training",
	"dataloader_num_workers": "training", "run_name": "training", "report_to": "training",
	"ddp_timeout": "training", "ddp_find_unused_parameters": "training", "deepspeed": "training",
	"optim": "training", "gradient_checkpointing": "training", "resume_from_checkpoint": "training",
	"predict_with_generate": "training", "generation_max_length": "training", "fsdp": "training",
	"torch_compile": "training", "neftune_noise_alpha": "training", "group_by_length": "training",
}

// checkExtraKey refuses a key LLaMA-Factory would reject, and the plan's
// known mistakes with the right name.
func checkExtraKey(k string) error {
	fixes := map[string]string{
		"prompt_template": "template", "train_file": "dataset_dir + dataset (sattva writes them from data.train)",
		"load_in_4bit": "quantization_bit: 4 (train.quantization_bit)", "bnb_4bit_use_double_quant": "double_quantization",
		"bnb_4bit_quant_type": "quantization_type", "bnb_4bit_compute_dtype": "bf16: true",
		"lora_r": "lora_rank (train.lora_rank)", "max_source_length": "cutoff_len (train.cutoff_len)",
		"max_target_length": "cutoff_len (train.cutoff_len)", "dry_run": "sattva train --print-config",
	}
	if f, ok := fixes[k]; ok {
		return fmt.Errorf("%q is not a LLaMA-Factory argument; use %s", k, f)
	}
	if _, ok := llamaFactoryKeys[k]; !ok {
		return fmt.Errorf("%q is not an argument LLaMA-Factory accepts (HfArgumentParser rejects unknown keys)", k)
	}
	if _, managed := managedKeys[k]; managed {
		return fmt.Errorf("%q is set by sattva from the project file; set it there instead", k)
	}
	return nil
}

// managedKeys are written by LlamaFactoryConfig from the project's own fields.
var managedKeys = map[string]bool{
	"model_name_or_path": true, "stage": true, "do_train": true, "finetuning_type": true, "lora_rank": true,
	"lora_alpha": true, "lora_dropout": true, "lora_target": true, "quantization_bit": true, "template": true,
	"dataset": true, "dataset_dir": true, "cutoff_len": true, "output_dir": true,
	"per_device_train_batch_size": true, "gradient_accumulation_steps": true, "learning_rate": true,
	"num_train_epochs": true, "lr_scheduler_type": true, "warmup_ratio": true, "logging_steps": true,
	"save_steps": true, "bf16": true, "seed": true, "max_samples": true,
}

// KV is one key and value of a generated config, in output order.
type KV struct {
	Key   string
	Value any
}

// LlamaFactoryConfig returns the keys of LLaMA-Factory's training YAML for the
// project, in the order written: model, method, dataset, output, train, then
// train.extra sorted by key. Paths are absolute. dataDir is the folder that
// holds dataset_info.json (DatasetInfo).
func (p *Project) LlamaFactoryConfig(dataDir string) []KV {
	t := p.Train
	kv := []KV{
		{"model_name_or_path", p.BaseDir()},
	}
	if t.QuantizationBit > 0 {
		kv = append(kv, KV{"quantization_bit", t.QuantizationBit})
	}
	kv = append(kv,
		KV{"stage", "sft"},
		KV{"do_train", true},
		KV{"finetuning_type", "lora"},
		KV{"lora_rank", t.LoraRank},
		KV{"lora_alpha", t.LoraAlpha},
		KV{"lora_dropout", t.LoraDropout},
		KV{"lora_target", t.LoraTarget},
		KV{"dataset", p.Data.Name},
		KV{"dataset_dir", dataDir},
		KV{"template", p.Template},
		KV{"cutoff_len", t.CutoffLen},
	)
	if t.MaxSamples > 0 {
		kv = append(kv, KV{"max_samples", t.MaxSamples})
	}
	kv = append(kv,
		KV{"overwrite_cache", true},
		KV{"output_dir", p.AdapterDir()},
		KV{"overwrite_output_dir", true},
		KV{"logging_steps", t.LoggingSteps},
		KV{"save_steps", t.SaveSteps},
		KV{"save_total_limit", 2},
		KV{"plot_loss", true},
		KV{"report_to", "none"},
		KV{"per_device_train_batch_size", t.BatchSize},
		KV{"gradient_accumulation_steps", t.GradAccum},
		KV{"learning_rate", t.LearningRate},
		KV{"num_train_epochs", t.Epochs},
		KV{"lr_scheduler_type", t.LRScheduler},
		KV{"warmup_ratio", t.WarmupRatio},
		KV{"bf16", *t.BF16},
		KV{"seed", t.Seed},
	)
	if !*t.GradCheckpoint {
		kv = append(kv, KV{"disable_gradient_checkpointing", true})
	}
	keys := make([]string, 0, len(t.Extra))
	for k := range t.Extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		kv = append(kv, KV{k, t.Extra[k]})
	}
	return kv
}

// MarshalConfigYAML renders kv as a YAML mapping in the given order, with a
// header comment.
func MarshalConfigYAML(header string, kv []KV) ([]byte, error) {
	root := &yaml.Node{Kind: yaml.MappingNode, HeadComment: header}
	for _, e := range kv {
		var v yaml.Node
		if err := v.Encode(e.Value); err != nil {
			return nil, fmt.Errorf("pipeline: encoding %s: %w", e.Key, err)
		}
		if f, ok := e.Value.(float64); ok {
			// yaml.v3 writes 0.0002 as 0.0002; keep Python-readable floats (2e-4 would be a string in PyYAML).
			v = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: pyFloat(f)}
		}
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: e.Key}, &v)
	}
	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}
	return yaml.Marshal(doc)
}

// pyFloat formats f so that PyYAML (YAML 1.1) reads a float: it needs a dot
// in the mantissa ("2.0e-04"), which Go's %g omits.
func pyFloat(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if strings.ContainsAny(s, "eE") {
		mant, exp, _ := strings.Cut(strings.ToLower(s), "e")
		if !strings.Contains(mant, ".") {
			mant += ".0"
		}
		return mant + "e" + exp
	}
	if !strings.Contains(s, ".") && !strings.Contains(s, "Inf") && !strings.Contains(s, "NaN") {
		s += ".0"
	}
	return s
}

// DatasetInfo returns LLaMA-Factory's dataset_info.json for the project: one
// entry named data.name in alpaca form. files are the dataset file names
// relative to the dataset_dir (one file: file_name is a string; several files
// are first concatenated by the caller, since file_name takes one path).
func (p *Project) DatasetInfo(fileName string) ([]byte, error) {
	info := map[string]any{
		p.Data.Name: map[string]any{
			"file_name":  fileName,
			"formatting": "alpaca",
			"columns": map[string]string{
				"prompt":   "instruction",
				"query":    "input",
				"response": "output",
				"system":   "system",
			},
		},
	}
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// TrainConfigPaths are the files the training stage writes under TrainDir.
type TrainConfigPaths struct {
	Config      string // llamafactory.yaml
	DatasetInfo string // dataset_info.json
	Dataset     string // the merged training JSONL
}

// TrainPaths returns where the training stage writes its inputs.
func (p *Project) TrainPaths() TrainConfigPaths {
	d := p.TrainDir()
	return TrainConfigPaths{
		Config:      filepath.Join(d, "llamafactory.yaml"),
		DatasetInfo: filepath.Join(d, "dataset_info.json"),
		Dataset:     filepath.Join(d, p.Data.Name+".jsonl"),
	}
}
