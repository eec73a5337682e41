package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sattva/sattva/evalrun"
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
	Seed        int64
	Hosts       []string
	Retries     int
	Timeout     time.Duration
	APIKeyEnv   string
	Verbose     bool

	// set by flag parsing
	tempSet, seedSet bool
}

func newEvalCmd(s *Streams) *cobra.Command {
	o := &evalOptions{}
	c := &cobra.Command{
		Use:   "eval SUITE --model M.gguf [--lora A.gguf[:SCALE]]... [--compare-with OTHER.gguf | --baseline PREV.json]",
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
			o.tempSet = c.Flags().Changed("temperature")
			o.seedSet = c.Flags().Changed("seed")
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
	f.IntVar(&o.Parallel, "parallel", 0, "cases decoded at once (llamacpp: sequences; 0: all; HTTP runners: requests in flight, 0: 1)")
	f.IntVar(&o.ContextSize, "ctx-size", 0, "tokens per sequence (0: longest prompt + max tokens)")
	f.IntVar(&o.Threads, "threads", 0, "CPU threads (0: all)")
	f.IntVar(&o.GPULayers, "gpu-layers", 0, "layers to offload (0 or -1: all when a GPU is present)")
	f.BoolVar(&o.CPU, "cpu", false, "run on the CPU even when a GPU is present")
	f.StringVar(&o.BackendDir, "backend-dir", "", "ggml backend plugins folder (default $SATTVA_BACKEND_DIR or beside the executable)")
	f.IntVar(&o.MaxTokens, "max-tokens", 0, "new tokens per case, replacing the suite's (0: the suite's)")
	f.BoolVar(&o.IgnoreEOS, "ignore-eos", false, "generate exactly --max-tokens per case past end of generation (benchmarks only)")
	f.Float64Var(&o.Temperature, "temperature", 0, "sampling temperature, replacing the suite's (0: greedy)")
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
		return usagef("--ignore-eos needs --max-tokens")
	}
	if o.Seed < 0 || o.Seed > 0xFFFFFFFF {
		return usagef("--seed must fit in 32 bits unsigned")
	}
	switch o.Runner {
	case "llamacpp", "ollama", "openai":
	default:
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
	if o.tempSet || o.seedSet {
		sp := suite.Defaults.Sampling
		if o.tempSet {
			sp.Temperature = o.Temperature
		}
		if o.seedSet {
			sp.Seed = uint32(o.Seed)
		}
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
	var gen evalrun.Generator
	var bar *progress.Bar
	switch o.Runner {
	case "llamacpp":
		var logger *slog.Logger
		if o.Verbose {
			logger = slog.New(slog.NewTextHandler(s.ErrOut, &slog.HandlerOptions{Level: slog.LevelDebug}))
		} else {
			logger = slog.New(slog.NewTextHandler(s.ErrOut, &slog.HandlerOptions{Level: slog.LevelError}))
		}
		bar = progress.New(s.ErrOut, "eval "+ro.Label+" (tokens)", progress.Items, o.Quiet)
		lr, err := evalrun.NewLlamaRunner(evalrun.LlamaOptions{
			Model: model, Adapters: adapters, Parallel: o.Parallel, ContextSize: o.ContextSize,
			Threads: o.Threads, GPULayers: o.GPULayers, CPUOnly: o.CPU, BackendDir: o.BackendDir,
			Logger: logger, Progress: bar.Func(),
		})
		if err != nil {
			return nil, err
		}
		defer lr.Close()
		gen = lr
	case "ollama":
		if len(o.Hosts) > 1 {
			return nil, usagef("--runner ollama takes one --host")
		}
		host := ""
		if len(o.Hosts) == 1 {
			host = o.Hosts[0]
		}
		if host == "" {
			host = os.Getenv("OLLAMA_HOST")
		}
		gen = &evalrun.OllamaRunner{BaseURL: normalizeHost(host, "http://127.0.0.1:11434"), Model: model, Concurrency: o.Parallel}
		bar = progress.New(s.ErrOut, "eval "+ro.Label, progress.Items, o.Quiet)
		ro.Progress = bar.Func()
	case "openai":
		hosts := []string{normalizeHost("", "http://127.0.0.1:8080")}
		if len(o.Hosts) > 0 {
			hosts = hosts[:0]
			for _, h := range o.Hosts {
				hosts = append(hosts, normalizeHost(h, "http://127.0.0.1:8080"))
			}
		}
		gen = &evalrun.OpenAIRunner{BaseURLs: hosts, Model: model, APIKey: os.Getenv(o.APIKeyEnv), Concurrency: o.Parallel, Retries: o.Retries, Timeout: o.Timeout}
		bar = progress.New(s.ErrOut, "eval "+ro.Label, progress.Items, o.Quiet)
		ro.Progress = bar.Func()
	}
	rep, err := evalrun.Run(ctx, suite, gen, ro)
	bar.Finish()
	return rep, err
}

// normalizeHost turns "host:port" or "" into a URL.
func normalizeHost(h, def string) string {
	if h == "" {
		return def
	}
	if !strings.Contains(h, "://") {
		h = "http://" + h
	}
	return strings.TrimRight(h, "/")
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
