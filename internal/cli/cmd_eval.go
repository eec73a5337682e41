package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sattva/sattva/evalrun"
	"github.com/sattva/sattva/evalrun/llamarun"
	"github.com/sattva/sattva/internal/progress"
	"github.com/sattva/sattva/llamacpp"
)

type evalOptions struct {
	Suite       string
	Model       string
	LoRA        []string
	CompareWith string
	Baseline    string
	Runner      string
	MinPass     float64
	Out         string
	JSON        bool
	Quiet       bool

	Parallel    int
	ContextSize int
	Threads     int
	GPULayers   int
	CPU         bool
	BackendDir  string
	MaxTokens   int
	IgnoreEOS   bool
	Temperature float64
	TopK        int
	TopP, MinP  float64
	RepeatPen   float64
	FlashAttn   string
	Seed        int64
	Hosts       []string
	Retries     int
	Timeout     time.Duration
	APIKeyEnv   string
	Verbose     bool

	// set by flag parsing: the flags the user gave (canonical names)
	changed map[string]bool
}

func newEvalCmd(s *Streams) *cobra.Command {
	o := &evalOptions{}
	c := &cobra.Command{
		Use: "eval SUITE --model M.gguf [--lora A.gguf[:SCALE]]... [--compare-with OTHER.gguf | --baseline PREV.json]",
		Example: "  sattva eval evals/sattva-control.yaml -m sattva.q4_k_m.gguf -n 32 -o report\n" +
			"  sattva eval evals/sattva-control.yaml -m sattva.q4_k_m.gguf -n 32 --compare-with base.gguf -o report-ab\n" +
			"  sattva eval evals/sattva-control.yaml -m base.gguf --lora adapter.gguf:0.5 -n 16 --baseline report/report.json -o report-lora",
		Short: "Run a suite of control prompts against a model, score the answers, compare with a baseline",
		Long: `eval answers every case of SUITE (YAML or JSONL) with the model, scores the answers
(exact, contains, regex, numerology, refusal, language, format, similarity) and writes
report.json, report.md, report.html and junit.xml into --out.

Runners: llamacpp (default: the GGUF in this process, all cases in parallel sequences
of one context, greedy unless the suite sets a temperature), ollama (--model is the
Ollama model name, --host the server) and openai (an OpenAI-compatible server such as
llama-server or vLLM; --host is its base URL, the key is read from $` + "`--api-key-env`" + `).

--compare-with runs the suite on a second model first and compares case by case;
--baseline compares with an earlier report.json. Exit code 1 when a case that passed
in the baseline fails now, or when the pass rate is below --min-pass; 3 when the suite
is invalid; 130 when interrupted (the partial report is still written).`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o.Suite = args[0]
			o.changed = map[string]bool{}
			c.Flags().Visit(func(f *pflag.Flag) { o.changed[f.Name] = true })
			return runEval(c.Context(), s, o)
		},
	}
	f := c.Flags()
	f.StringVarP(&o.Model, "model", "m", "", "GGUF file (llamacpp) or served model name (ollama, openai)")
	f.StringArrayVar(&o.LoRA, "lora", nil, "LoRA adapter GGUF, optionally with a scale: A.gguf[:SCALE] (repeatable; llamacpp only)")
	f.StringVar(&o.CompareWith, "compare-with", "", "a second model to run as the baseline (A) for an A/B comparison")
	f.StringVar(&o.Baseline, "baseline", "", "an earlier report.json to compare with")
	f.StringVar(&o.Runner, "runner", "llamacpp", "llamacpp, ollama or openai")
	f.Float64Var(&o.MinPass, "min-pass", -1, "exit 1 when the pass rate (0..1) is below this")
	f.StringVarP(&o.Out, "out", "o", "eval-report", "folder for the report files (created)")
	f.BoolVar(&o.JSON, "json", false, "print the JSON report on stdout instead of the summary")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "no progress bar")
	f.IntVar(&o.Parallel, "parallel", 0, "-np: cases decoded at once (llamacpp: sequences; 0: all; HTTP runners: requests in flight, 0: 1)")
	f.IntVarP(&o.ContextSize, "ctx-size", "c", 0, "tokens per sequence (0: longest prompt + max tokens)")
	f.IntVarP(&o.Threads, "threads", "t", 0, "CPU threads (0: all)")
	f.IntVar(&o.GPULayers, "n-gpu-layers", -1, "-ngl: layers to offload to the GPU (-1: all when a GPU is present, 0: CPU only)")
	f.BoolVar(&o.CPU, "cpu", false, "run on the CPU even when a GPU is present (same as -ngl 0)")
	_ = f.MarkHidden("cpu")
	f.StringVar(&o.FlashAttn, "flash-attn", "auto", "-fa: flash attention: auto, on or off")
	f.StringVar(&o.BackendDir, "backend-dir", "", "ggml backend plugins folder (default $SATTVA_BACKEND_DIR or beside the executable)")
	f.IntVarP(&o.MaxTokens, "n-predict", "n", 0, "new tokens per case, replacing the suite's (0: the suite's)")
	f.BoolVar(&o.IgnoreEOS, "ignore-eos", false, "generate exactly -n tokens per case past end of generation (benchmarks only)")
	f.Float64Var(&o.Temperature, "temp", 0, "sampling temperature, replacing the suite's (0: greedy)")
	f.IntVar(&o.TopK, "top-k", 0, "top-k sampling, replacing the suite's (0: off)")
	f.Float64Var(&o.TopP, "top-p", 1, "top-p sampling, replacing the suite's (1: off)")
	f.Float64Var(&o.MinP, "min-p", 0, "min-p sampling, replacing the suite's (0: off)")
	f.Float64Var(&o.RepeatPen, "repeat-penalty", 1, "repeat penalty, replacing the suite's (1: off)")
	f.Int64Var(&o.Seed, "seed", 0, "sampling seed, replacing the suite's")
	f.StringArrayVar(&o.Hosts, "host", nil, "server URL for ollama (default $OLLAMA_HOST or http://127.0.0.1:11434) or openai (default http://127.0.0.1:8080); openai: repeat it to spread the cases over several servers of the same model (--parallel requests in flight on each)")
	f.IntVar(&o.Retries, "retries", 2, "openai: tries again after a 5xx, 429, timeout or connection error, on another --host when there is one")
	f.DurationVar(&o.Timeout, "timeout", 10*time.Minute, "openai: the longest one request may take (0: no limit)")
	f.StringVar(&o.APIKeyEnv, "api-key-env", "OPENAI_API_KEY", "environment variable holding the openai runner's API key")
	f.BoolVarP(&o.Verbose, "verbose", "v", false, "show llama.cpp's log")
	return c
}

// parseLoRA reads A.gguf[:SCALE]. A colon followed by something that is not
// a number is part of the path (Windows drive letters).
func parseLoRA(spec string) (llamacpp.Adapter, error) {
	path, scale := spec, float32(1)
	if i := strings.LastIndex(spec, ":"); i > 0 {
		if v, err := strconv.ParseFloat(spec[i+1:], 32); err == nil {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return llamacpp.Adapter{}, usagef("--lora %q: scale %v is not a finite number", spec, v)
			}
			path, scale = spec[:i], float32(v)
		}
	}
	if path == "" {
		return llamacpp.Adapter{}, usagef("--lora %q: empty path", spec)
	}
	return llamacpp.Adapter{Path: path, Scale: scale}, nil
}

func runEval(ctx context.Context, s *Streams, o *evalOptions) error {
	if o.Model == "" {
		return usagef("--model is required")
	}
	if o.CompareWith != "" && o.Baseline != "" {
		return usagef("give --compare-with or --baseline, not both")
	}
	if o.MinPass != -1 && (o.MinPass < 0 || o.MinPass > 1) {
		return usagef("--min-pass must be between 0 and 1, not %g", o.MinPass)
	}
	if o.IgnoreEOS && o.MaxTokens <= 0 {
		return usagef("--ignore-eos needs -n/--n-predict")
	}
	if _, err := parseFlashAttn(o.FlashAttn); err != nil {
		return err
	}
	if o.Seed < 0 || o.Seed > 0xFFFFFFFF {
		return usagef("--seed must fit in 32 bits unsigned")
	}
	if !slices.Contains(evalrun.RunnerKinds(), o.Runner) {
		return usagef("--runner must be llamacpp, ollama or openai, not %q", o.Runner)
	}
	var adapters []llamacpp.Adapter
	for _, spec := range o.LoRA {
		a, err := parseLoRA(spec)
		if err != nil {
			return err
		}
		adapters = append(adapters, a)
	}
	if len(adapters) > 0 && o.Runner != "llamacpp" {
		return usagef("--lora works with the llamacpp runner only")
	}

	suite, err := evalrun.LoadSuite(o.Suite)
	if err != nil {
		return err
	}
	var baseline *evalrun.Report
	if o.Baseline != "" {
		baseline, err = evalrun.ReadReportFile(o.Baseline)
		if err != nil {
			return &reportFileError{err}
		}
		if baseline.Suite.SHA256 != "" && baseline.Suite.SHA256 != suite.SHA256 {
			fmt.Fprintf(s.ErrOut, "note: the baseline ran a different version of the suite (%s); cases are matched by id\n", baseline.Suite.Path)
		}
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
	}

	ro := evalrun.RunOptions{MaxTokens: o.MaxTokens, IgnoreEOS: o.IgnoreEOS}
	if sp, ok := o.samplingOverride(suite.Defaults.Sampling); ok {
		ro.Sampling = &sp
	}

	if o.CompareWith != "" {
		bro := ro
		bro.Label = labelFor(o.CompareWith, nil)
		baseline, err = evalOne(ctx, s, o, suite, o.CompareWith, nil, bro)
		if err != nil {
			if baseline != nil && errors.Is(err, context.Canceled) {
				writeEvalReport(s, o, evalrun.NewDocument(toolName(), baseline, nil))
			}
			return err
		}
	}
	ro.Label = labelFor(o.Model, adapters)
	if baseline != nil && ro.Label == baseline.Label {
		ro.Label += " (run)"
	}
	run, runErr := evalOne(ctx, s, o, suite, o.Model, adapters, ro)
	if run == nil {
		return runErr
	}
	doc := evalrun.NewDocument(toolName(), run, baseline)
	if err := writeEvalReport(s, o, doc); err != nil {
		return err
	}
	if runErr != nil {
		return runErr
	}
	code := ExitOK
	if doc.Comparison != nil && doc.Comparison.Regressed > 0 {
		fmt.Fprintf(s.ErrOut, "sattva: %d case(s) regressed against %s\n", doc.Comparison.Regressed, doc.Comparison.Baseline)
		code = ExitFailure
	}
	if o.MinPass >= 0 && run.Summary.PassRate < o.MinPass {
		fmt.Fprintf(s.ErrOut, "sattva: pass rate %.1f%% is below --min-pass %.1f%%\n", 100*run.Summary.PassRate, 100*o.MinPass)
		code = ExitFailure
	}
	return ExitWith(code)
}

// samplingOverride returns the suite's sampler with the sampling flags the
// user gave laid over it, and whether any was given.
func (o *evalOptions) samplingOverride(sp evalrun.Sampling) (evalrun.Sampling, bool) {
	any := false
	set := func(name string, apply func()) {
		if o.changed[name] {
			apply()
			any = true
		}
	}
	set("temp", func() { sp.Temperature = o.Temperature })
	set("top-k", func() { sp.TopK = o.TopK })
	set("top-p", func() { sp.TopP = o.TopP })
	set("min-p", func() { sp.MinP = o.MinP })
	set("repeat-penalty", func() { sp.RepeatPenalty = o.RepeatPen })
	set("seed", func() { sp.Seed = uint32(o.Seed) })
	return sp, any
}

// reportFileError marks a bad --baseline file as invalid input (exit 3).
type reportFileError struct{ err error }

func (e *reportFileError) Error() string      { return "--baseline: " + e.err.Error() }
func (e *reportFileError) Unwrap() error      { return e.err }
func (e *reportFileError) InvalidInput() bool { return errors.Is(e.err, evalrun.ErrBadReport) }

func toolName() string { return "sattva " + Version }

func labelFor(model string, adapters []llamacpp.Adapter) string {
	l := filepath.Base(model)
	if !strings.HasSuffix(strings.ToLower(model), ".gguf") {
		l = model // a served model name
	}
	for _, a := range adapters {
		l += "+" + filepath.Base(a.Path)
		if a.Scale != 1 {
			l += fmt.Sprintf(":%g", a.Scale)
		}
	}
	return l
}

// evalOne runs the suite against one model and returns its report (partial
// when interrupted, together with the interruption).
func evalOne(ctx context.Context, s *Streams, o *evalOptions, suite *evalrun.Suite, model string, adapters []llamacpp.Adapter, ro evalrun.RunOptions) (*evalrun.Report, error) {
	rop := evalrun.RunnerOptions{Model: model, Parallel: o.Parallel, Hosts: o.Hosts, Retries: o.Retries, Timeout: o.Timeout, APIKey: os.Getenv(o.APIKeyEnv),
		ContextSize: o.ContextSize, Threads: o.Threads, GPULayers: o.GPULayers, CPUOnly: o.CPU || o.GPULayers == 0, BackendDir: o.BackendDir,
		FlashAttn: o.FlashAttn, Local: llamarun.Local}
	for _, a := range adapters {
		rop.Adapters = append(rop.Adapters, evalrun.Adapter{Path: a.Path, Scale: a.Scale})
	}
	var bar *progress.Bar
	if o.Runner == evalrun.RunnerLlamaCpp {
		rop.Logger = newLlamaLogger(s.ErrOut, o.Verbose)
		bar = progress.New(s.ErrOut, "eval "+ro.Label+" (tokens)", progress.Items, o.Quiet)
		rop.Progress = bar.Func()
	} else {
		bar = progress.New(s.ErrOut, "eval "+ro.Label, progress.Items, o.Quiet)
		ro.Progress = bar.Func()
	}
	gen, err := evalrun.NewRunner(o.Runner, rop)
	if err != nil {
		return nil, err
	}
	defer gen.Close()
	rep, err := evalrun.Run(ctx, suite, gen, ro)
	bar.Finish()
	return rep, err
}

func writeEvalReport(s *Streams, o *evalOptions, doc *evalrun.Document) error {
	paths, err := evalrun.WriteFiles(o.Out, doc)
	if err != nil {
		return err
	}
	var out io.Writer = s.Out
	if o.JSON {
		if err := writeJSON(out, doc); err != nil {
			return err
		}
	} else if err := doc.WriteSummary(out); err != nil {
		return err
	}
	fmt.Fprintf(s.ErrOut, "reports: %s\n", strings.Join(paths, ", "))
	return nil
}
