package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/sattva/sattva/dataset"
	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/atomicfile"
	"github.com/sattva/sattva/internal/progress"
)

// TrainerLlamaCpp is the native trainer: full-parameter training inside
// sattva through llama.cpp's training API (llamacpp.Train).
const TrainerLlamaCpp = "llamacpp"

// Engines of train.native.engine (llamacpp's TrainOptions.Engine).
const (
	NativeEngineAuto     = "auto"      // graph where it can train the model on the CPU, else llama-opt
	NativeEngineGraph    = "graph"     // sattva's own ggml training graph: every tensor, answer-only loss
	NativeEngineLlamaOpt = "llama-opt" // llama.cpp's llama_opt_epoch: tensors after the last KV-cache write
)

// NativeConfig is train.native in sattva.yaml: the settings of the native
// trainer. The rest comes from train: epochs (rounded up), lr_scheduler
// (linear, constant or cosine; the others run as cosine), warmup_ratio,
// cutoff_len, max_samples and seed.
type NativeConfig struct {
	// Engine is auto (default), graph or llama-opt (see docs/pipeline.md):
	// auto trains a Llama with sattva's own graph (every tensor, loss on the
	// answer tokens; on CUDA a token embedding over 65,535 rows stays
	// frozen) and anything else with llama.cpp's llama_opt_epoch (CPU only).
	Engine string `yaml:"engine"`
	// LearningRate is the peak AdamW rate of full-parameter training
	// (default 1e-5; train.learning_rate is LoRA's, usually ten times higher).
	LearningRate float64 `yaml:"learning_rate"`
	// Epochs overrides train.epochs (0: train.epochs rounded up).
	Epochs int `yaml:"epochs"`
	// MaxSteps stops after so many optimizer steps (0: no limit).
	MaxSteps int `yaml:"max_steps"`
	// Context is the tokens of one training window and optimizer step, a
	// multiple of 256 (default 256; any size from 16 with engine graph).
	// Examples are packed into windows (engine graph: whole examples, so it
	// must hold cutoff_len).
	Context int `yaml:"context"`
	// Tensors is a regular expression over GGUF tensor names choosing what
	// trains (default: every F32 weight llama.cpp trains).
	Tensors     string  `yaml:"tensors"`
	WeightDecay float64 `yaml:"weight_decay"`
	// Optimizer is adamw (default) or sgd.
	Optimizer string `yaml:"optimizer"`
	// CheckpointSteps writes the checkpoint every so many steps as well as
	// after each epoch (0: after each epoch).
	CheckpointSteps int `yaml:"checkpoint_steps"`
	// Threads for the CPU (0: every CPU).
	Threads int `yaml:"threads"`
	// MaxBaseBytes is the largest base (safetensors bytes) that
	// trainer: auto trains natively (default 3 GiB, about 1.5B parameters
	// in bf16); a larger one needs LoRA (LLaMA-Factory or the fallback).
	MaxBaseBytes int64 `yaml:"max_base_bytes"`

	epochsFrom float64 // train.epochs, for the default
}

func (n *NativeConfig) applyDefaults(t *TrainConfig) {
	if n.Engine == "" {
		n.Engine = NativeEngineAuto
	}
	if n.LearningRate == 0 {
		n.LearningRate = 1e-5
	}
	if n.Context == 0 {
		n.Context = 256
	}
	if n.Optimizer == "" {
		n.Optimizer = "adamw"
	}
	if n.MaxBaseBytes == 0 {
		n.MaxBaseBytes = 3 << 30
	}
	n.epochsFrom = t.Epochs
}

func (n NativeConfig) validate(add func(field, format string, a ...any)) {
	if !(n.LearningRate > 0 && n.LearningRate <= 1) {
		add("train.native.learning_rate", "%g: must be in (0, 1]", n.LearningRate)
	}
	if n.Epochs < 0 || n.Epochs > 1000 {
		add("train.native.epochs", "%d: must be in 0..1000", n.Epochs)
	}
	if n.MaxSteps < 0 {
		add("train.native.max_steps", "%d: must be >= 0", n.MaxSteps)
	}
	switch n.Engine {
	case NativeEngineAuto, NativeEngineGraph, NativeEngineLlamaOpt:
	default:
		add("train.native.engine", "%q: must be auto, graph or llama-opt", n.Engine)
	}
	if n.Engine == NativeEngineGraph {
		if n.Context < 16 || n.Context > 1<<20 {
			add("train.native.context", "%d: must be in 16..%d", n.Context, 1<<20)
		}
	} else if n.Context < 256 || n.Context%256 != 0 || n.Context > 1<<20 {
		add("train.native.context", "%d: must be a positive multiple of 256 (llama.cpp pads contexts to 256 tokens)", n.Context)
	}
	if n.Optimizer != "adamw" && n.Optimizer != "sgd" {
		add("train.native.optimizer", "%q: must be adamw or sgd", n.Optimizer)
	}
	if _, err := regexp.Compile(n.Tensors); err != nil {
		add("train.native.tensors", "not a regular expression: %v", err)
	}
	if n.WeightDecay < 0 || n.WeightDecay >= 1 {
		add("train.native.weight_decay", "%g: must be in [0, 1)", n.WeightDecay)
	}
	if n.CheckpointSteps < 0 || n.Threads < 0 || n.MaxBaseBytes < 0 {
		add("train.native", "checkpoint_steps, threads and max_base_bytes must be >= 0")
	}
}

// NativeEpochs is native.epochs, or train.epochs rounded up.
func (n NativeConfig) NativeEpochs() int {
	if n.Epochs > 0 {
		return n.Epochs
	}
	return max(1, int(math.Ceil(n.epochsFrom)))
}

// NativeSchedule maps train.lr_scheduler to the native trainer's schedules.
func NativeSchedule(s string) string {
	switch s {
	case "linear":
		return "linear"
	case "constant", "constant_with_warmup":
		return "constant"
	}
	return "cosine"
}

// Tokenizer is what encoding examples needs of a model's vocabulary
// (llamacpp.Model has it). BOS and EOS are -1 when the vocabulary has none.
type Tokenizer interface {
	Tokenize(text string, addSpecial, parseSpecial bool) ([]int32, error)
	BOS() int32
	EOS() int32
}

// EncodeExample tokenizes one example as the fallback trainer
// (scripts/train/sft_lora.py) and LLaMA-Factory's supervised stage do: the
// template's pieces each tokenized on their own without added specials
// (special-token text parsed), BOS and EOS as ids, and the prompt and answer
// cut to cutoff tokens with LLaMA-Factory's infer_seqlen rule. prompt is the
// number of leading prompt tokens (the rest is the answer).
func EncodeExample(tok Tokenizer, template string, ex dataset.Example, cutoff int) (ids []int32, prompt int, err error) {
	dex := &ex
	var src, tgt []int32
	enc := func(dst *[]int32, text string) error {
		if text == "" {
			return nil
		}
		t, err := tok.Tokenize(text, false, true)
		*dst = append(*dst, t...)
		return err
	}
	switch template {
	case "llama3":
		tpl, err := dataset.LookupTemplate("llama3")
		if err != nil {
			return nil, 0, err
		}
		if b := tok.BOS(); b >= 0 {
			src = append(src, b)
		}
		for _, s := range tpl.Segments(dex) {
			dst := &src
			if s.Response {
				dst = &tgt
			}
			if err := enc(dst, s.Text); err != nil {
				return nil, 0, err
			}
		}
	case "plain":
		// evalrun's raw prompt: system and question joined by a blank line, one piece.
		if b := tok.BOS(); b >= 0 {
			src = append(src, b)
		}
		user := dex.Prompt()
		if ex.System != "" {
			user = ex.System + "\n\n" + user
		}
		if err := enc(&src, user); err != nil {
			return nil, 0, err
		}
		if err := enc(&tgt, ex.Output); err != nil {
			return nil, 0, err
		}
		if e := tok.EOS(); e >= 0 {
			tgt = append(tgt, e)
		}
	default:
		return nil, 0, fmt.Errorf("pipeline: the native trainer knows templates llama3 and plain, not %q", template)
	}
	s, t := inferSeqLen(len(src), len(tgt), cutoff)
	return append(src[:s:s], tgt[:t]...), s, nil
}

// inferSeqLen is LLaMA-Factory's infer_seqlen (data/processor/processor_utils.py).
func inferSeqLen(source, target, cutoff int) (int, int) {
	var maxTarget int
	switch {
	case target*2 < cutoff:
		maxTarget = cutoff
	case source*2 < cutoff:
		maxTarget = cutoff - source
	default:
		maxTarget = int(float64(cutoff) * (float64(target) / float64(source+target)))
	}
	newTarget := min(maxTarget, target)
	maxSource := max(cutoff-newTarget, 0)
	return min(maxSource, source), newTarget
}

// NativeJob is what the native trainer is asked to do.
type NativeJob struct {
	Model string // the base as an F32 GGUF
	Out   string // the checkpoint to write (atomically)
	// Encode tokenizes the training examples with the project's template
	// over the model's vocabulary (EncodeExample for each): the token ids
	// and the prompt length of each.
	Encode func(Tokenizer) (seqs [][]int32, prompts []int, err error)
	// Engine is train.native.engine (auto, graph or llama-opt).
	Engine string
	// Describe says how the engine trains, for the checkpoint's
	// general.provenance.training (Metadata's is the configured engine's).
	Describe        func(engine string) string
	Epochs          int
	MaxSteps        int
	LearningRate    float64
	Schedule        string // cosine, linear, constant
	WarmupRatio     float64
	WeightDecay     float64
	Optimizer       string // adamw, sgd
	Context         int
	Tensors         *regexp.Regexp // nil: all
	CheckpointSteps int
	Seed            uint64
	Threads         int
	// Metadata keys to write into the checkpoint.
	Metadata map[string]string
	// OnStep receives every optimizer step.
	OnStep func(step, total, epoch int, loss, lr float64)
}

// NativeRun is what the native trainer did.
type NativeRun struct {
	Steps           int       `json:"steps"`
	Epochs          int       `json:"epochs"`
	Losses          []float64 `json:"-"`
	Tokens          int64     `json:"tokens"`
	Sequences       int       `json:"sequences"`
	StreamTokens    int       `json:"stream_tokens"`
	TokensPerSecond float64   `json:"tokens_per_second"`
	TrainableParams int64     `json:"trainable_params"`
	TrainedTensors  []string  `json:"trained_tensors,omitempty"`
	FrozenTensors   []string  `json:"frozen_tensors,omitempty"` // would train, cannot on Device
	FrozenWhy       string    `json:"frozen_why,omitempty"`
	Device          string    `json:"device"`
	Engine          string    `json:"engine,omitempty"`      // graph or llama-opt
	EngineNote      string    `json:"engine_note,omitempty"` // engine auto: why not graph
	Stopped         bool      `json:"stopped,omitempty"`
}

// NativeTrainer runs a NativeJob; the command line passes one over
// llamacpp.Train (nil in a build without the engine).
type NativeTrainer func(ctx context.Context, job *NativeJob) (*NativeRun, error)

// NativeCheckpointPath is where the native trainer writes the trained model:
// <output>/native/<name>-f32.gguf.
func (p *Project) NativeCheckpointPath() string {
	return filepath.Join(p.OutputDir(), "native", p.Name+"-f32.gguf")
}

// NativeCheckpoint returns the checkpoint of the last training when it was
// native (train/result.json says trainer llamacpp) and the file exists.
func (p *Project) NativeCheckpoint() (string, bool) {
	b, err := os.ReadFile(filepath.Join(p.TrainDir(), "result.json"))
	if err != nil {
		return "", false
	}
	var r TrainResult
	if json.Unmarshal(b, &r) != nil || r.Trainer != TrainerLlamaCpp || r.Skipped {
		return "", false
	}
	path := p.NativeCheckpointPath()
	if _, err := os.Stat(path); err != nil {
		return "", false
	}
	return path, true
}

// baseBytes is the size of the base folder's safetensors weights.
func (p *Project) baseBytes() int64 {
	m, _ := filepath.Glob(filepath.Join(p.BaseDir(), "*.safetensors"))
	var n int64
	for _, f := range m {
		if st, err := os.Stat(f); err == nil {
			n += st.Size()
		}
	}
	return n
}

// NativeDescription says how the native trainer trains, for the result,
// the manifest and the GGUF provenance, with the configured engine.
func (p *Project) NativeDescription() string {
	return p.NativeDescriptionFor(p.Train.Native.Engine)
}

// NativeDescriptionFor is NativeDescription for engine (auto, graph or
// llama-opt).
func (p *Project) NativeDescriptionFor(engine string) string {
	n := p.Train.Native
	opt := "AdamW"
	if n.Optimizer == "sgd" {
		opt = "SGD"
	}
	const graph = "every tensor but, on CUDA, a token embedding of more than 65,535 rows, loss on the answer tokens"
	how := "sattva's own ggml graph for a Llama (" + graph + "), else llama.cpp llama_opt_epoch (tensors after the last KV-cache write only, next-token loss on whole examples)"
	switch engine {
	case NativeEngineGraph:
		how = "sattva's own ggml training graph, " + graph
	case NativeEngineLlamaOpt:
		how = "llama.cpp llama_opt_epoch, tensors after the last KV-cache write only, next-token loss on whole examples"
	}
	return fmt.Sprintf("weight training in sattva without an adapter (%s, %s, lr %g %s, %d epochs, %d-token windows)",
		how, opt, n.LearningRate, NativeSchedule(p.Train.LRScheduler), n.NativeEpochs(), n.Context)
}

// trainNative is Train for trainer llamacpp: the base converted to an F32
// GGUF, then o.Native on the project's examples, the checkpoint in
// NativeCheckpointPath and train/result.json.
func trainNative(ctx context.Context, p *Project, plan *TrainPlan, examples []dataset.Example, o TrainOptions, start time.Time) (*TrainResult, error) {
	if o.ConvertBase == nil {
		return nil, errors.New("pipeline: the native trainer needs the ConvertBase tool")
	}
	if err := os.MkdirAll(p.TrainDir(), 0o755); err != nil {
		return nil, err
	}
	out := p.NativeCheckpointPath()
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, err
	}
	// A stale result.json must not name an older checkpoint as this one.
	os.Remove(filepath.Join(p.TrainDir(), "result.json"))
	baseF32 := filepath.Join(p.TrainDir(), "base-f32.gguf")
	if err := o.ConvertBase(ctx, p.BaseDir(), baseF32, "f32", "", nil, nil); err != nil {
		return nil, fmt.Errorf("converting the base to F32 for training: %w", err)
	}
	defer os.Remove(baseF32)
	if n := p.Train.MaxSamples; n > 0 && n < len(examples) {
		examples = examples[:n]
	}
	n := p.Train.Native
	var tensors *regexp.Regexp
	if n.Tensors != "" {
		tensors = regexp.MustCompile(n.Tensors) // validated by LoadProject
	}
	if o.OnPlan != nil {
		o.OnPlan(plan)
	}
	res := &TrainResult{Trainer: TrainerLlamaCpp, Reason: plan.Reason, Command: plan.Command.String(), Model: out, Method: p.NativeDescription()}
	job := &NativeJob{
		Model: baseF32, Out: out,
		Encode: func(tok Tokenizer) ([][]int32, []int, error) {
			seqs := make([][]int32, 0, len(examples))
			prompts := make([]int, 0, len(examples))
			for i, ex := range examples {
				ids, prompt, err := EncodeExample(tok, p.Template, ex, p.Train.CutoffLen)
				if err != nil {
					return nil, nil, fmt.Errorf("example %d: %w", i+1, err)
				}
				seqs, prompts = append(seqs, ids), append(prompts, prompt)
			}
			return seqs, prompts, nil
		},
		Engine: n.Engine, Describe: p.NativeDescriptionFor,
		Epochs: n.NativeEpochs(), MaxSteps: n.MaxSteps, LearningRate: n.LearningRate,
		Schedule: NativeSchedule(p.Train.LRScheduler), WarmupRatio: p.Train.WarmupRatio, WeightDecay: n.WeightDecay,
		Optimizer: n.Optimizer, Context: n.Context, Tensors: tensors, CheckpointSteps: n.CheckpointSteps, Seed: uint64(p.Train.Seed), Threads: n.Threads,
		Metadata: map[string]string{"general.provenance.training": res.Method},
		OnStep: func(step, total, epoch int, loss, lr float64) {
			res.Steps = int64(step)
			res.Losses = append(res.Losses, LossPoint{Step: int64(step), Epoch: float64(epoch), Loss: loss})
			if o.OnEvent != nil {
				ev := TrainEvent{Step: int64(step), Total: int64(total), Epoch: float64(epoch), LearningRate: lr}
				if step%max(1, p.Train.LoggingSteps) == 0 || step == total {
					ev.Loss, ev.HasLoss = loss, true
				}
				o.OnEvent(ev)
			}
		},
	}
	run, err := o.Native(ctx, job)
	res.Seconds = time.Since(start).Seconds()
	if run != nil {
		res.Native = run
		if run.Engine != "" {
			res.Method = p.NativeDescriptionFor(run.Engine)
		}
	}
	if err != nil {
		return res, fmt.Errorf("training (%s) failed: %w", TrainerLlamaCpp, err)
	}
	if _, err := os.Stat(out); err != nil {
		return res, fmt.Errorf("training (%s) left no checkpoint %s", TrainerLlamaCpp, out)
	}
	sort.SliceStable(res.Losses, func(i, j int) bool { return res.Losses[i].Step < res.Losses[j].Step })
	b, _ := json.MarshalIndent(res, "", "  ")
	if err := atomicfile.WriteFile(filepath.Join(p.TrainDir(), "result.json"), append(b, '\n'), 0o644); err != nil {
		return res, err
	}
	return res, nil
}

// nativeNote is why auto did not pick the native trainer, or "".
func (p *Project) nativeNote(o TrainOptions) string {
	switch {
	case o.Native == nil:
		return "this sattva has no llama.cpp engine (built without cgo)"
	case p.baseBytes() > p.Train.Native.MaxBaseBytes:
		return fmt.Sprintf("the base (%s) is larger than train.native.max_base_bytes (%s) for full-parameter training", progress.FormatBytes(p.baseBytes()), progress.FormatBytes(p.Train.Native.MaxBaseBytes))
	}
	return ""
}

// LossCurve renders losses as a small text table: about rows lines, each the
// mean loss of its run of steps.
func LossCurve(losses []LossPoint, rows int) string {
	if len(losses) == 0 || rows < 1 {
		return ""
	}
	var b strings.Builder
	per := max(1, (len(losses)+rows-1)/rows)
	for i := 0; i < len(losses); i += per {
		j := min(len(losses), i+per)
		sum := 0.0
		for _, l := range losses[i:j] {
			sum += l.Loss
		}
		mean := sum / float64(j-i)
		bar := strings.Repeat("█", max(0, min(60, int(mean*10+0.5))))
		fmt.Fprintf(&b, "  steps %4d-%-4d  loss %6.3f  %s\n", losses[i].Step, losses[j-1].Step, mean, bar)
	}
	return b.String()
}

// ModeNative is the manifest's adapter_mode when the exported weights are
// the native trainer's (full-parameter training, no adapter).
const ModeNative = "native"

// nativeProvenance records the native checkpoint, how it was trained and
// the training command in prov.
func (p *Project) nativeProvenance(prov *Provenance, checkpoint string, o ExportOptions) error {
	in, err := o.Hashes.File(checkpoint)
	if err != nil {
		return err
	}
	prov.Trained = &in
	prov.Training = p.NativeDescription()
	if b, err := os.ReadFile(filepath.Join(p.TrainDir(), "result.json")); err == nil {
		var tr TrainResult
		if json.Unmarshal(b, &tr) == nil {
			if tr.Method != "" {
				prov.Training = tr.Method
			}
			if tr.Command != "" {
				prov.Commands = append([]string{tr.Command}, prov.Commands...)
			}
		}
	}
	return nil
}

// nativeAs writes the native F32 checkpoint as outType with kvs set (and
// each of defaults whose key is missing): a copy for f32, else through the
// Quantize tool (f16, bf16, q8_0, q4_K_M, …) and a metadata rewrite.
func nativeAs(ctx context.Context, t ExportTools, checkpoint, out, outType string, kvs, defaults []gguf.KV) error {
	edit := func(s *gguf.Spec) error {
		idx := map[string]int{}
		for i, kv := range s.KVs {
			idx[kv.Key] = i
		}
		for _, kv := range kvs {
			if i, ok := idx[kv.Key]; ok {
				s.KVs[i] = kv
			} else {
				idx[kv.Key] = len(s.KVs)
				s.KVs = append(s.KVs, kv)
			}
		}
		for _, kv := range defaults {
			if _, ok := idx[kv.Key]; !ok {
				s.KVs = append(s.KVs, kv)
			}
		}
		return nil
	}
	if strings.EqualFold(outType, "f32") {
		return gguf.Rewrite(ctx, checkpoint, out, edit, gguf.WriteOptions{})
	}
	if err := t.Quantize(ctx, checkpoint, out, outType, ""); err != nil {
		return err
	}
	return gguf.Rewrite(ctx, out, out, edit, gguf.WriteOptions{})
}

// LastTrainResult reads <output>/train/result.json, what the last training
// of the project did.
func (p *Project) LastTrainResult() (*TrainResult, error) {
	b, err := os.ReadFile(filepath.Join(p.TrainDir(), "result.json"))
	if err != nil {
		return nil, err
	}
	var r TrainResult
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
