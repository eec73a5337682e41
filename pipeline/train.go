package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sattva/sattva/dataset"
	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/atomicfile"
	trainscript "github.com/sattva/sattva/scripts/train"
)

// Trainer names.
const (
	TrainerLlamaFactory = "llamafactory"
	TrainerFallback     = "fallback"
	TrainerNone         = "none"
)

// TrainOptions control PlanTrain and Train.
type TrainOptions struct {
	// Trainer overrides train.trainer from the project ("" keeps it).
	Trainer string
	// LlamaFactoryCLI and Python name the executables (defaults
	// "llamafactory-cli" and "python3", looked up on PATH).
	LlamaFactoryCLI, Python string
	// ValidateData checks one dataset file before any work starts (the CLI
	// passes `sattva data validate`'s check). nil: only the structural check
	// of dataset.ReadExamples runs.
	ValidateData func(ctx context.Context, path string) error
	// OnEvent receives parsed loss and progress; OnLine every output line.
	OnEvent func(TrainEvent)
	OnLine  func(line string, stderr bool)
	// Stdout, Stderr receive the trainer's raw output when non-nil.
	Stdout, Stderr io.Writer
	// Grace between SIGINT and SIGKILL on cancellation (default 5s).
	Grace time.Duration
	// OnPlan, if set, is told what will run, after the inputs are written and
	// before the trainer starts.
	OnPlan func(*TrainPlan)
	// Native is the in-process trainer (trainer llamacpp); nil: none.
	// ConvertBase makes its F32 GGUF of the base (ExportTools.ConvertBase).
	Native      NativeTrainer
	ConvertBase func(ctx context.Context, hfDir, out, outType, mergeAdapter string, kvs, defaults []gguf.KV) error
	// AllowMissingBase lets PlanTrain plan for a base model that is not
	// downloaded yet (train --print-config, pipeline run --dry-run); the plan's
	// BaseMissing says so. Train itself always needs the weights.
	AllowMissingBase bool
}

// TrainPlan is what Train would run: decided and checked, nothing written yet.
type TrainPlan struct {
	Trainer    string // llamafactory, fallback or none
	Reason     string // why this trainer was chosen, or why training is skipped
	Command    Command
	Paths      TrainConfigPaths
	Script     string // the fallback trainer's path under TrainDir ("" otherwise)
	ConfigYAML []byte // LLaMA-Factory's YAML (the fallback reads the same file)
	AdapterDir string
	Examples   int // training examples after merging data.train
	// BaseMissing, when the base model is not downloaded yet (only with
	// TrainOptions.AllowMissingBase), says what to run to fetch it.
	BaseMissing string
}

// TrainResult is the outcome of Train, also written to <output>/train/result.json.
type TrainResult struct {
	Trainer    string      `json:"trainer"`
	Skipped    bool        `json:"skipped"`
	Reason     string      `json:"reason,omitempty"`
	AdapterDir string      `json:"adapter_dir,omitempty"`
	Command    string      `json:"command,omitempty"`
	Losses     []LossPoint `json:"losses,omitempty"`
	Steps      int64       `json:"steps,omitempty"`
	Seconds    float64     `json:"seconds"`
	// TrainSeconds is the training loop's own time, as the trainer reports
	// it (transformers' train_runtime); Seconds adds imports, model load and
	// saving.
	TrainSeconds float64 `json:"train_seconds,omitempty"`
	// Model is the trained model (native trainer), Method how it was
	// trained, Native the native trainer's figures.
	Model  string     `json:"model,omitempty"`
	Method string     `json:"method,omitempty"`
	Native *NativeRun `json:"native,omitempty"`
}

// LossPoint is one logged training loss.
type LossPoint struct {
	Step  int64   `json:"step"`
	Epoch float64 `json:"epoch"`
	Loss  float64 `json:"loss"`
}

// ErrNoTrainer is returned by Train when train.trainer names a trainer that
// is not installed (auto falls back to skipping with a reason instead).
var ErrNoTrainer = errNoTrainer

// CheckData reads every dataset file (structural check plus the optional
// validator) and returns the merged examples.
func (p *Project) CheckData(ctx context.Context, validate func(context.Context, string) error) ([]dataset.Example, error) {
	var all []dataset.Example
	for i, f := range p.DataFiles() {
		field := "data.train"
		if _, err := os.Stat(f); err != nil {
			return nil, p.Errorf(field, "dataset %s: %v", f, errors.Unwrap(err))
		}
		if validate != nil {
			if err := validate(ctx, f); err != nil {
				return nil, fmt.Errorf("dataset %s (data.train[%d]) fails validation: %w", f, i, err)
			}
		}
		ex, err := dataset.ReadExamplesFile(f)
		if err != nil {
			return nil, err
		}
		all = append(all, ex...)
	}
	if len(all) == 0 {
		return nil, p.Errorf("data.train", "the datasets hold no examples")
	}
	return all, nil
}

// PlanTrain checks the project's inputs (base folder, datasets, trainer) and
// decides what Train runs, without writing anything.
func PlanTrain(ctx context.Context, p *Project, o TrainOptions) (*TrainPlan, []dataset.Example, error) {
	baseMissing := ""
	if err := p.CheckBase(); err != nil {
		if !o.AllowMissingBase || !errors.Is(err, ErrBaseMissing) {
			return nil, nil, err
		}
		baseMissing = p.DownloadCommand()
	}
	examples, err := p.CheckData(ctx, o.ValidateData)
	if err != nil {
		return nil, nil, err
	}
	paths := p.TrainPaths()
	cfg, err := MarshalConfigYAML("Written by sattva from "+p.File+" for `llamafactory-cli train`.\n"+
		"Argument names: "+LlamaFactorySource, p.LlamaFactoryConfig(p.TrainDir()))
	if err != nil {
		return nil, nil, err
	}
	plan := &TrainPlan{Paths: paths, ConfigYAML: cfg, AdapterDir: p.AdapterDir(), Examples: len(examples), BaseMissing: baseMissing}
	trainer := p.Train.Trainer
	if o.Trainer != "" {
		trainer = o.Trainer
	}
	lfCLI := o.LlamaFactoryCLI
	if lfCLI == "" {
		lfCLI = "llamafactory-cli"
	}
	python := o.Python
	if python == "" {
		python = "python3"
	}
	env := p.TrainEnv()
	useLF := func(path string) {
		plan.Trainer = TrainerLlamaFactory
		plan.Command = Command{Path: path, Args: []string{"train", paths.Config}, Env: env, Dir: p.Dir}
	}
	useFallback := func(py string) {
		plan.Trainer = TrainerFallback
		plan.Script = filepath.Join(p.TrainDir(), "sft_lora.py")
		plan.Command = Command{Path: py, Args: []string{plan.Script, paths.Config}, Env: env, Dir: p.Dir}
	}
	useNative := func() {
		plan.Trainer = TrainerLlamaCpp
		plan.Command = Command{Path: "sattva", Args: []string{"train", "--trainer", TrainerLlamaCpp, p.File}}
	}
	switch trainer {
	case TrainerLlamaCpp:
		if o.Native == nil {
			return nil, nil, fmt.Errorf("%w: %s", ErrNoTrainer, p.nativeNote(o))
		}
		if p.Template != "llama3" && p.Template != "plain" {
			return nil, nil, p.Errorf("template", "the native trainer knows templates llama3 and plain")
		}
		useNative()
	case TrainerNone:
		plan.Trainer, plan.Reason = TrainerNone, "train.trainer is none"
	case TrainerLlamaFactory:
		if p.Template == "plain" {
			return nil, nil, p.Errorf("template", "template plain is sattva's own; LLaMA-Factory has no such template (use trainer: fallback)")
		}
		path, err := exec.LookPath(lfCLI)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s is not on PATH (pip install llamafactory)", ErrNoTrainer, lfCLI)
		}
		useLF(path)
	case TrainerFallback:
		py, err := exec.LookPath(python)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s is not on PATH (the fallback trainer needs python3 with torch, transformers, peft)", ErrNoTrainer, python)
		}
		// Before training (not when only printing the plan), refuse a Python
		// without the trainer's packages with that reason, not a traceback.
		if !o.AllowMissingBase {
			if missing := pythonMissing(ctx, py, "torch", "transformers", "peft"); missing != "" {
				return nil, nil, fmt.Errorf("%w: %s cannot import %s (pip install torch transformers peft; `sattva doctor` checks the rest)", ErrNoTrainer, python, missing)
			}
		}
		useFallback(py)
	default: // auto
		if path, err := exec.LookPath(lfCLI); err == nil && p.Template != "plain" {
			useLF(path)
			plan.Reason = "llamafactory-cli found on PATH"
			break
		}
		py, err := exec.LookPath(python)
		missing := "python3"
		if err == nil {
			missing = pythonMissing(ctx, py, "torch", "transformers", "peft")
		}
		if missing != "" {
			why := "neither llamafactory-cli nor python3 is on PATH"
			if err == nil {
				why = fmt.Sprintf("llamafactory-cli is not on PATH and %s cannot import %s", python, missing)
			}
			if note := p.nativeNote(o); note == "" {
				useNative()
				plan.Reason = why + ": the native trainer (weights trained in sattva, no adapter)"
			} else {
				plan.Trainer, plan.Reason = TrainerNone, "no trainer: "+why+" (pip install torch transformers peft), and "+note
			}
			break
		}
		useFallback(py)
		if p.Template == "plain" {
			plan.Reason = "template plain: the fallback trainer (LLaMA-Factory has no plain template)"
		} else {
			plan.Reason = "llamafactory-cli not on PATH: the fallback trainer scripts/train/sft_lora.py"
		}
	}
	if plan.Trainer == TrainerFallback && (strings.Contains(p.Train.GPUs, ",") || p.Train.Nodes > 1) {
		note := "the fallback trainer runs one process on the first visible GPU; several GPUs and nodes need LLaMA-Factory"
		if plan.Reason != "" {
			note = plan.Reason + "; " + note
		}
		plan.Reason = note
	}
	return plan, examples, nil
}

// pythonMissing returns the first module python cannot import, or "".
func pythonMissing(ctx context.Context, python string, mods ...string) string {
	for _, m := range mods {
		cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		err := exec.CommandContext(cctx, python, "-c", "import "+m).Run()
		cancel()
		if err != nil {
			return m
		}
	}
	return ""
}

// TrainEnv is the environment for one or many GPUs and machines:
// CUDA_VISIBLE_DEVICES when train.gpus is set; with more than one GPU or node,
// FORCE_TORCHRUN=1 and NNODES, NODE_RANK, NPROC_PER_NODE, MASTER_ADDR,
// MASTER_PORT (read by llamafactory-cli's torchrun launcher).
func (p *Project) TrainEnv() []string {
	t := p.Train
	var env []string
	nproc := 0
	if t.GPUs != "" {
		env = append(env, "CUDA_VISIBLE_DEVICES="+strings.ReplaceAll(t.GPUs, " ", ""))
		nproc = len(strings.Split(t.GPUs, ","))
	}
	if nproc > 1 || t.Nodes > 1 {
		env = append(env, "FORCE_TORCHRUN=1", "NNODES="+strconv.Itoa(t.Nodes), "NODE_RANK="+strconv.Itoa(t.NodeRank))
		if nproc > 0 {
			env = append(env, "NPROC_PER_NODE="+strconv.Itoa(nproc))
		}
		addr := t.MasterAddr
		if addr == "" {
			addr = "127.0.0.1"
		}
		env = append(env, "MASTER_ADDR="+addr, "MASTER_PORT="+strconv.Itoa(t.MasterPort))
	}
	return env
}

// WriteTrainInputs writes the trainer config, dataset_info.json, the merged
// dataset and (for the fallback) the trainer script under TrainDir.
func WriteTrainInputs(p *Project, plan *TrainPlan, examples []dataset.Example) error {
	if err := os.MkdirAll(p.TrainDir(), 0o755); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(plan.Paths.Config, plan.ConfigYAML, 0o644); err != nil {
		return err
	}
	info, err := p.DatasetInfo(filepath.Base(plan.Paths.Dataset))
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(plan.Paths.DatasetInfo, info, 0o644); err != nil {
		return err
	}
	var buf bytes.Buffer
	for _, ex := range examples {
		b, err := json.Marshal(ex)
		if err != nil {
			return err
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	if err := atomicfile.WriteFile(plan.Paths.Dataset, buf.Bytes(), 0o644); err != nil {
		return err
	}
	if plan.Script != "" {
		if err := atomicfile.WriteFile(plan.Script, []byte(trainscript.SFTLoRA), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// Train runs the training stage: checks, writes the trainer inputs, runs the
// trainer in its own process group, and checks that it left a PEFT adapter
// (adapter_config.json) in AdapterDir. When no trainer is available and
// train.trainer is auto, it returns a result with Skipped set and the reason.
func Train(ctx context.Context, p *Project, o TrainOptions) (*TrainResult, error) {
	start := time.Now()
	plan, examples, err := PlanTrain(ctx, p, o)
	if err != nil {
		return nil, err
	}
	if plan.Trainer == TrainerNone {
		return &TrainResult{Trainer: TrainerNone, Skipped: true, Reason: plan.Reason}, nil
	}
	if plan.Trainer == TrainerLlamaCpp {
		return trainNative(ctx, p, plan, examples, o, start)
	}
	if err := WriteTrainInputs(p, plan, examples); err != nil {
		return nil, err
	}
	if o.OnPlan != nil {
		o.OnPlan(plan)
	}
	res := &TrainResult{Trainer: plan.Trainer, AdapterDir: plan.AdapterDir, Command: plan.Command.String(), Reason: plan.Reason}
	var lastStep int64
	onLine := func(line string, stderr bool) {
		if o.OnLine != nil {
			o.OnLine(line, stderr)
		}
		if s, ok := ParseTrainRuntime(line); ok {
			res.TrainSeconds = s
		}
		ev, ok := ParseTrainLine(line)
		if !ok {
			return
		}
		if ev.Total > 0 {
			lastStep = ev.Step
			res.Steps = ev.Step
		}
		if ev.HasLoss {
			// Without a 'step' key the step is the last progress count seen;
			// stdout and stderr are read apart, so it may lag by a line.
			step := lastStep
			if ev.Step > 0 {
				step = ev.Step
			}
			res.Losses = append(res.Losses, LossPoint{Step: step, Epoch: ev.Epoch, Loss: ev.Loss})
		}
		if o.OnEvent != nil {
			o.OnEvent(ev)
		}
	}
	err = RunProcess(ctx, plan.Command, RunOptions{OnLine: onLine, Stdout: o.Stdout, Stderr: o.Stderr, Grace: o.Grace})
	res.Seconds = time.Since(start).Seconds()
	// stdout and stderr interleave freely: order the curve by step.
	sort.SliceStable(res.Losses, func(i, j int) bool { return res.Losses[i].Step < res.Losses[j].Step })
	if err != nil {
		return res, fmt.Errorf("training (%s) failed: %w", plan.Trainer, err)
	}
	if _, err := os.Stat(filepath.Join(plan.AdapterDir, "adapter_config.json")); err != nil {
		return res, fmt.Errorf("training (%s) exited 0 but left no adapter_config.json in %s", plan.Trainer, plan.AdapterDir)
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	if err := atomicfile.WriteFile(filepath.Join(p.TrainDir(), "result.json"), append(b, '\n'), 0o644); err != nil {
		return res, err
	}
	return res, nil
}
