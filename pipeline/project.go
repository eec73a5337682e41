// Package pipeline turns a project file (sattva.yaml) into a served, evaluated
// model: it validates the dataset, writes and runs the LLaMA-Factory training
// stage (or the fallback trainer), converts and quantizes the result to GGUF,
// writes an Ollama Modelfile and a manifest, and runs the eval suite. Each
// stage is skipped when the hashes of its inputs are unchanged.
//
// The package builds with CGO_ENABLED=0; inference-dependent steps (eval) reach
// the engine through interfaces supplied by the caller.
package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ErrProject is matched by every error that LoadProject returns for an invalid
// project file (errors.Is(err, ErrProject)).
var ErrProject = errors.New("pipeline: invalid project file")

// FieldError is one problem in a project file, with its position. It prints as
// "file:line:col: field: message" so editors can jump to it.
type FieldError struct {
	File  string
	Line  int // 1-based; 0 when the whole file is at fault
	Col   int
	Field string // dotted path, e.g. "train.lora_rank"
	Msg   string
}

func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Col)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Is reports ErrProject.
func (e *FieldError) Is(target error) bool { return target == ErrProject }

// InvalidInput marks the error as "this input file is invalid" (exit code 3).
func (e *FieldError) InvalidInput() bool { return true }

// Project is a loaded, validated sattva.yaml. Relative paths in the file are
// relative to the file's folder; the accessor methods (BaseDir, OutputDir, …)
// return them resolved. The zero values of optional fields are replaced by the
// defaults documented in ExampleProjectYAML.
type Project struct {
	// Name is the model name: the Ollama model, the artifact file prefix.
	Name string `yaml:"name"`
	// Base is the Hugging Face folder of the base model (config.json,
	// *.safetensors, tokenizer files).
	Base string `yaml:"base"`
	// Template is the chat template used in training, in the Modelfile and in
	// eval: "llama3" (Llama 3 headers and <|eot_id|>) or "plain" (for base
	// models without chat special tokens, such as stories260K).
	Template string `yaml:"template"`
	// Output is the folder that receives every artifact and the stage state.
	Output string `yaml:"output"`

	Data   DataConfig   `yaml:"data"`
	Train  TrainConfig  `yaml:"train"`
	Export ExportConfig `yaml:"export"`
	Ollama OllamaConfig `yaml:"ollama"`
	Eval   EvalConfig   `yaml:"eval"`
	// Sampler is the serving sampler (sampler.go); Verify the verify gates.
	Sampler SamplerConfig `yaml:"sampler"`
	Verify  VerifyConfig  `yaml:"verify"`

	// File is the absolute path the project was loaded from; Dir its folder.
	File string `yaml:"-"`
	Dir  string `yaml:"-"`

	lines map[string]pos // field path → position, for errors found later
}

// DataConfig names the training data.
type DataConfig struct {
	// Train lists JSONL files in alpaca form (instruction, input, output and
	// optionally system), as `sattva data validate` accepts them.
	Train []string `yaml:"train"`
	// Name is the dataset's name in LLaMA-Factory's dataset_info.json.
	Name string `yaml:"name"`
}

// TrainConfig holds the training settings. Field names follow LLaMA-Factory's
// argument names where one exists (see LlamaFactoryConfig).
type TrainConfig struct {
	// Trainer: "auto" (llamafactory-cli when on PATH, else the fallback
	// scripts/train/sft_lora.py when python3 has torch, else the native
	// llamacpp trainer when the model fits it, else skip), "llamafactory",
	// "fallback", "llamacpp" or "none".
	Trainer         string  `yaml:"trainer"`
	LoraRank        int     `yaml:"lora_rank"`
	LoraAlpha       int     `yaml:"lora_alpha"`
	LoraDropout     float64 `yaml:"lora_dropout"`
	LoraTarget      string  `yaml:"lora_target"`
	Epochs          float64 `yaml:"epochs"`
	LearningRate    float64 `yaml:"learning_rate"`
	BatchSize       int     `yaml:"batch_size"`
	GradAccum       int     `yaml:"gradient_accumulation"`
	CutoffLen       int     `yaml:"cutoff_len"`
	QuantizationBit int     `yaml:"quantization_bit"` // 4 or 8: QLoRA; 0: plain LoRA
	LRScheduler     string  `yaml:"lr_scheduler"`
	WarmupRatio     float64 `yaml:"warmup_ratio"`
	LoggingSteps    int     `yaml:"logging_steps"`
	SaveSteps       int     `yaml:"save_steps"`
	MaxSamples      int     `yaml:"max_samples"` // 0: all
	BF16            *bool   `yaml:"bf16"`
	GradCheckpoint  *bool   `yaml:"gradient_checkpointing"`
	Seed            int     `yaml:"seed"`
	// GPUs is CUDA_VISIBLE_DEVICES ("0", "0,1"); empty leaves it unset.
	GPUs string `yaml:"gpus"`
	// Nodes is the number of machines (NNODES); NodeRank this machine's rank;
	// MasterAddr/MasterPort the rank-0 machine. Several GPUs or nodes set
	// FORCE_TORCHRUN=1.
	Nodes      int    `yaml:"nodes"`
	NodeRank   int    `yaml:"node_rank"`
	MasterAddr string `yaml:"master_addr"`
	MasterPort int    `yaml:"master_port"`
	// Extra holds further LLaMA-Factory keys, written as given after a check
	// that LLaMA-Factory knows them.
	Extra map[string]any `yaml:"extra"`
	// Native holds the settings of the native trainer (trainer: llamacpp).
	Native NativeConfig `yaml:"native"`
}

// ExportConfig says what export produces.
type ExportConfig struct {
	// Adapter: "merge" (fold the LoRA into the base before quantizing) or
	// "separate" (quantized base + GGUF LoRA adapter, Modelfile ADAPTER).
	Adapter string `yaml:"adapter"`
	// Types are the quantized outputs, e.g. [q4_K_M, q8_0]; "f16"/"f32" keep
	// the converted file as is.
	Types []string `yaml:"types"`
	// OutType is the float type of the conversion before quantizing (f16, bf16, f32).
	OutType string `yaml:"outtype"`
	// IMatrix is the importance matrix the quantized types are made with:
	// "auto" (default) computes it from data.train on the converted model
	// (adapter merged) and caches it; "none" quantizes without; anything
	// else is an imatrix file (sattva imatrix or llama-imatrix).
	IMatrix string `yaml:"imatrix"`
}

// OllamaConfig is what goes into the Modelfile.
type OllamaConfig struct {
	System     string             `yaml:"system"`
	Parameters map[string]float64 `yaml:"parameters"`
	// Type picks the export type the Modelfile's FROM names (default: the first of export.types).
	Type string `yaml:"type"`
}

// EvalConfig names the eval suite and the pass bar.
type EvalConfig struct {
	Suite   string  `yaml:"suite"`
	PassBar float64 `yaml:"pass_bar"` // 0..1
	// Type is the export type evaluated (default: the first of export.types).
	Type string `yaml:"type"`
	// CompareBase also evaluates the base model (side-by-side report).
	CompareBase bool `yaml:"compare_base"`
	// Runner is how the exported model is evaluated: "llamacpp" (default,
	// in process) or "serve" (through `sattva serve`'s OpenAI API, to
	// evaluate exactly what will be served).
	Runner string `yaml:"runner"`
}

type pos struct{ line, col int }

// Templates the project accepts.
var knownTemplates = []string{"llama3", "plain"}

// ollamaParams are the Modelfile PARAMETER names sattva accepts (numeric ones;
// stop words are written by the template).
var ollamaParams = []string{"temperature", "top_p", "top_k", "min_p", "num_ctx", "num_predict",
	"repeat_penalty", "repeat_last_n", "seed"}

// LoadProject reads and validates the project file at path. Every error names
// the file and line; all problems found are returned together (errors.Join of
// *FieldError), and errors.Is(err, ErrProject) holds for each.
func LoadProject(path string) (*Project, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	return ParseProject(abs, data)
}

// ParseProject parses project data as if read from file (used in messages and
// to resolve relative paths).
func ParseProject(file string, data []byte) (*Project, error) {
	p := &Project{File: file, Dir: filepath.Dir(file), lines: map[string]pos{}}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, yamlError(file, err)
	}
	var more yaml.Node
	if err := dec.Decode(&more); err == nil {
		return nil, &FieldError{File: file, Line: more.Line, Col: more.Column, Msg: "more than one YAML document"}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, &FieldError{File: file, Line: doc.Line, Col: doc.Column, Msg: "the project file must be a mapping (key: value lines)"}
	}
	var errs []error
	decodeStruct(file, "", doc.Content[0], reflect.ValueOf(p).Elem(), p.lines, &errs)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	p.applyDefaults()
	if err := p.validate(); err != nil {
		return nil, err
	}
	return p, nil
}

func yamlError(file string, err error) error {
	// yaml.v3 messages read "yaml: line N: ..."; keep them, with the file first.
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if _, e := fmt.Sscanf(msg, "line %d:", &line); e == nil {
		if i := strings.Index(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
	}
	return &FieldError{File: file, Line: line, Col: 1, Msg: msg}
}

// decodeStruct walks a mapping node into the struct v, field by field, so that
// unknown keys, duplicate keys and type errors each carry their own line.
func decodeStruct(file, prefix string, m *yaml.Node, v reflect.Value, lines map[string]pos, errs *[]error) {
	t := v.Type()
	fields := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		tag := t.Field(i).Tag.Get("yaml")
		if tag != "" && tag != "-" {
			fields[tag] = i
		}
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, val := m.Content[i], m.Content[i+1]
		path := k.Value
		if prefix != "" {
			path = prefix + "." + k.Value
		}
		fe := func(msg string, a ...any) {
			*errs = append(*errs, &FieldError{File: file, Line: k.Line, Col: k.Column, Field: path, Msg: fmt.Sprintf(msg, a...)})
		}
		if seen[k.Value] {
			fe("duplicate key")
			continue
		}
		seen[k.Value] = true
		idx, ok := fields[k.Value]
		if !ok {
			fe("unknown key (known: %s)", strings.Join(sortedKeys(fields), ", "))
			continue
		}
		lines[path] = pos{val.Line, val.Column}
		f := v.Field(idx)
		if f.Kind() == reflect.Struct {
			if val.Kind != yaml.MappingNode {
				if val.Tag == "!!null" {
					continue
				}
				fe("must be a mapping")
				continue
			}
			decodeStruct(file, path, val, f, lines, errs)
			continue
		}
		if val.Kind == yaml.AliasNode {
			fe("YAML aliases are not supported here")
			continue
		}
		if val.Kind == yaml.MappingNode {
			for j := 0; j+1 < len(val.Content); j += 2 {
				sk := val.Content[j]
				lines[path+"."+sk.Value] = pos{sk.Line, sk.Column}
			}
		}
		if err := val.Decode(f.Addr().Interface()); err != nil {
			var te *yaml.TypeError
			msg := err.Error()
			if errors.As(err, &te) && len(te.Errors) > 0 {
				msg = te.Errors[0]
				if j := strings.Index(msg, ": "); strings.HasPrefix(msg, "line ") && j >= 0 {
					msg = msg[j+2:]
				}
			}
			*errs = append(*errs, &FieldError{File: file, Line: val.Line, Col: val.Column, Field: path, Msg: msg})
		}
	}
}

func sortedKeys(m map[string]int) []string { return sortedMapKeys(m) }

// sortedMapKeys returns m's keys in order, so messages are stable.
func sortedMapKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Defaults, as documented in ExampleProjectYAML.
func (p *Project) applyDefaults() {
	if p.Template == "" {
		p.Template = "llama3"
	}
	if p.Output == "" {
		p.Output = "out"
	}
	if p.Data.Name == "" {
		p.Data.Name = "sattva"
	}
	t := &p.Train
	if t.Trainer == "" {
		t.Trainer = "auto"
	}
	if t.LoraRank == 0 {
		t.LoraRank = 16
	}
	if t.LoraAlpha == 0 {
		t.LoraAlpha = 2 * t.LoraRank
	}
	if t.LoraTarget == "" {
		t.LoraTarget = "all"
	}
	if t.Epochs == 0 {
		t.Epochs = 2
	}
	if t.LearningRate == 0 {
		t.LearningRate = 2e-4
	}
	if t.BatchSize == 0 {
		t.BatchSize = 1
	}
	if t.GradAccum == 0 {
		t.GradAccum = 8
	}
	if t.CutoffLen == 0 {
		t.CutoffLen = 2048
	}
	if t.LRScheduler == "" {
		t.LRScheduler = "cosine"
	}
	if t.LoggingSteps == 0 {
		t.LoggingSteps = 10
	}
	if t.SaveSteps == 0 {
		t.SaveSteps = 200
	}
	if t.BF16 == nil {
		b := true
		t.BF16 = &b
	}
	if t.GradCheckpoint == nil {
		b := true
		t.GradCheckpoint = &b
	}
	if t.Seed == 0 {
		t.Seed = 42
	}
	if t.Nodes == 0 {
		t.Nodes = 1
	}
	if t.MasterPort == 0 {
		t.MasterPort = 29500
	}
	t.Native.applyDefaults(t)
	if p.Export.Adapter == "" {
		p.Export.Adapter = "merge"
	}
	if len(p.Export.Types) == 0 {
		p.Export.Types = []string{"q4_K_M"}
	}
	if p.Export.OutType == "" {
		p.Export.OutType = "f16"
	}
	if p.Export.IMatrix == "" {
		p.Export.IMatrix = IMatrixAuto
	}
	if p.Ollama.Type == "" {
		p.Ollama.Type = p.Export.Types[0]
	}
	if p.Eval.Type == "" {
		p.Eval.Type = p.Export.Types[0]
	}
	p.applySamplerDefaults()
	p.applyVerifyDefaults()
}

// errAt builds a FieldError at the recorded position of field (or the file).
func (p *Project) errAt(field, format string, a ...any) *FieldError {
	ps := p.lines[field]
	return &FieldError{File: p.File, Line: ps.line, Col: ps.col, Field: field, Msg: fmt.Sprintf(format, a...)}
}

// Errorf returns a *FieldError positioned at field (a dotted path such as
// "base" or "data.train") for problems found after loading, for example a
// base folder that does not exist.
func (p *Project) Errorf(field, format string, a ...any) error {
	return p.errAt(field, format, a...)
}

func (p *Project) validate() error {
	var errs []error
	add := func(field, format string, a ...any) { errs = append(errs, p.errAt(field, format, a...)) }
	if p.Name == "" {
		add("name", "required: the model name (Ollama model, artifact prefix)")
	} else if !validName(p.Name) {
		add("name", "%q: use letters, digits, '-', '_', '.' (an Ollama model name)", p.Name)
	}
	if p.Base == "" {
		add("base", "required: the Hugging Face folder of the base model")
	}
	if !contains(knownTemplates, p.Template) {
		add("template", "%q: must be one of %s", p.Template, strings.Join(knownTemplates, ", "))
	}
	if len(p.Data.Train) == 0 {
		add("data.train", "required: at least one JSONL dataset file")
	}
	for _, f := range p.Data.Train {
		if f == "" {
			add("data.train", "empty file name")
		}
	}
	if !validName(p.Data.Name) {
		add("data.name", "%q: use letters, digits, '-', '_', '.'", p.Data.Name)
	}
	t := p.Train
	if !contains([]string{"auto", "llamafactory", "fallback", TrainerLlamaCpp, "none"}, t.Trainer) {
		add("train.trainer", "%q: must be auto, llamafactory, fallback, llamacpp or none", t.Trainer)
	}
	t.Native.validate(add)
	if t.LoraRank < 1 || t.LoraRank > 1024 {
		add("train.lora_rank", "%d: must be 1..1024", t.LoraRank)
	}
	if t.LoraAlpha < 1 {
		add("train.lora_alpha", "%d: must be positive", t.LoraAlpha)
	}
	if t.LoraDropout < 0 || t.LoraDropout >= 1 {
		add("train.lora_dropout", "%g: must be in [0, 1)", t.LoraDropout)
	}
	if t.LoraTarget == "all-linear" {
		add("train.lora_target", "LLaMA-Factory spells it \"all\" (PEFT's \"all-linear\" is not accepted)")
	}
	if t.Epochs <= 0 || t.Epochs > 1000 || math.IsNaN(t.Epochs) {
		add("train.epochs", "%g: must be in (0, 1000]", t.Epochs)
	}
	if t.LearningRate <= 0 || t.LearningRate > 1 || math.IsNaN(t.LearningRate) {
		add("train.learning_rate", "%g: must be in (0, 1]", t.LearningRate)
	}
	if t.BatchSize < 1 {
		add("train.batch_size", "%d: must be positive", t.BatchSize)
	}
	if t.GradAccum < 1 {
		add("train.gradient_accumulation", "%d: must be positive", t.GradAccum)
	}
	if t.CutoffLen < 16 || t.CutoffLen > 1<<20 {
		add("train.cutoff_len", "%d: must be 16..1048576 tokens", t.CutoffLen)
	}
	if t.QuantizationBit != 0 && t.QuantizationBit != 4 && t.QuantizationBit != 8 {
		add("train.quantization_bit", "%d: must be 4 (QLoRA), 8, or 0 (plain LoRA)", t.QuantizationBit)
	}
	if !contains([]string{"linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup", "inverse_sqrt", "reduce_lr_on_plateau", "cosine_with_min_lr", "warmup_stable_decay"}, t.LRScheduler) {
		add("train.lr_scheduler", "%q: not a transformers SchedulerType", t.LRScheduler)
	}
	if t.WarmupRatio < 0 || t.WarmupRatio >= 1 {
		add("train.warmup_ratio", "%g: must be in [0, 1)", t.WarmupRatio)
	}
	if t.LoggingSteps < 1 {
		add("train.logging_steps", "%d: must be positive", t.LoggingSteps)
	}
	if t.SaveSteps < 1 {
		add("train.save_steps", "%d: must be positive", t.SaveSteps)
	}
	if t.MaxSamples < 0 {
		add("train.max_samples", "%d: must be >= 0", t.MaxSamples)
	}
	if t.Nodes < 1 {
		add("train.nodes", "%d: must be positive", t.Nodes)
	}
	if t.NodeRank < 0 || t.NodeRank >= t.Nodes {
		add("train.node_rank", "%d: must be in [0, nodes)", t.NodeRank)
	}
	if t.Nodes > 1 && t.MasterAddr == "" {
		add("train.master_addr", "required when nodes > 1: the address of the rank-0 machine")
	}
	if t.MasterPort < 1 || t.MasterPort > 65535 {
		add("train.master_port", "%d: must be a TCP port", t.MasterPort)
	}
	if t.GPUs != "" {
		for _, g := range strings.Split(t.GPUs, ",") {
			if g = strings.TrimSpace(g); g == "" || strings.Trim(g, "0123456789") != "" {
				add("train.gpus", "%q: a comma-separated list of GPU indices, e.g. \"0,1\"", t.GPUs)
				break
			}
		}
	}
	for _, k := range sortedMapKeys(t.Extra) {
		if err := checkExtraKey(k); err != nil {
			add("train.extra."+k, "%v", err)
		}
	}
	e := p.Export
	if e.Adapter != "merge" && e.Adapter != "separate" {
		add("export.adapter", "%q: must be merge or separate", e.Adapter)
	}
	for _, ty := range e.Types {
		if !knownExportType(ty) {
			add("export.types", "%q: not a known type (f32, f16, bf16, q8_0, q4_0, q4_K_M, q5_K_M, q6_K, …)", ty)
		}
	}
	if !contains([]string{"f32", "f16", "bf16"}, strings.ToLower(e.OutType)) {
		add("export.outtype", "%q: must be f32, f16 or bf16", e.OutType)
	}
	if !containsFold(e.Types, p.Ollama.Type) {
		add("ollama.type", "%q: not one of export.types", p.Ollama.Type)
	}
	for _, k := range sortedMapKeys(p.Ollama.Parameters) {
		v := p.Ollama.Parameters[k]
		if !contains(ollamaParams, k) {
			add("ollama.parameters."+k, "unknown Ollama parameter (known: %s)", strings.Join(ollamaParams, ", "))
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			add("ollama.parameters."+k, "not a finite number")
		}
	}
	if strings.Contains(p.Ollama.System, `"""`) {
		add("ollama.system", `must not contain """ (the Modelfile's quote)`)
	}
	if p.Eval.Runner != "" && p.Eval.Runner != "llamacpp" && p.Eval.Runner != "serve" {
		add("eval.runner", "%q: want llamacpp or serve", p.Eval.Runner)
	}
	p.validateSampler(add)
	p.validateVerify(add)
	if p.Eval.PassBar < 0 || p.Eval.PassBar > 1 {
		add("eval.pass_bar", "%g: must be in [0, 1]", p.Eval.PassBar)
	}
	if p.Eval.Suite != "" && !containsFold(e.Types, p.Eval.Type) {
		add("eval.type", "%q: not one of export.types", p.Eval.Type)
	}
	return errors.Join(errs...)
}

// knownExportType accepts the float types and the llama.cpp file types
// sattva quantizes to (checked again by gguf.ParseFileType at export).
func knownExportType(s string) bool {
	switch strings.ToUpper(s) {
	case "F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L",
		"Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "IQ4_NL", "IQ4_XS":
		return true
	}
	return false
}

func validName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return s[0] != '.' && s[0] != '-'
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// Resolve returns rel resolved against the project's folder (absolute paths
// are returned cleaned).
func (p *Project) Resolve(rel string) string {
	if rel == "" {
		return ""
	}
	if filepath.IsAbs(rel) {
		return filepath.Clean(rel)
	}
	return filepath.Join(p.Dir, filepath.FromSlash(rel))
}

// OutputDir is the resolved output folder.
func (p *Project) OutputDir() string { return p.Resolve(p.Output) }

// DataFiles are the resolved dataset files.
func (p *Project) DataFiles() []string {
	out := make([]string, len(p.Data.Train))
	for i, f := range p.Data.Train {
		out[i] = p.Resolve(f)
	}
	return out
}

// AdapterDir is where training leaves the LoRA adapter: <output>/adapter.
func (p *Project) AdapterDir() string { return filepath.Join(p.OutputDir(), "adapter") }

// TrainDir holds the generated trainer config and dataset_info.json: <output>/train.
func (p *Project) TrainDir() string { return filepath.Join(p.OutputDir(), "train") }

// ExportDir holds the GGUF files, Modelfile and manifest.json: <output>/export.
func (p *Project) ExportDir() string { return filepath.Join(p.OutputDir(), "export") }
