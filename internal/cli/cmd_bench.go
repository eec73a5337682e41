package cli

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sattva/sattva/llamacpp"
)

type benchOptions struct {
	Model        string
	PromptTokens int
	GenTokens    int
	Repetitions  int
	BatchSize    int
	UBatchSize   int
	CLoop        bool
	Parallel     int
	JSON         bool
	engineFlags
}

func newBenchCmd(s *Streams) *cobra.Command {
	o := &benchOptions{}
	c := &cobra.Command{
		Use:   "bench MODEL",
		Short: "Measure prompt processing and generation speed (like llama-bench pp512/tg128)",
		Long: "Measure tokens per second as llama.cpp's llama-bench does: ppN decodes a prompt of\n" +
			"N random tokens at once, tgN decodes N tokens one at a time, each from an empty\n" +
			"cache, after a warm-up, averaged over repetitions. The output names the backend\n" +
			"that ran (a CMake-built plugin or the built-in cgo-compiled CPU code, with its\n" +
			"features: instruction sets, REPACK), the engine's build flags and the buffers\n" +
			"the weights went to (CPU_REPACK: repacked for the fast CPU kernels).",
		Example: "  sattva bench model.gguf\n  sattva bench model.gguf -p 512 -n 128 --json\n  sattva bench model.gguf --backend-dir build/backends/lib/ollama -t 2",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := modelArg(&o.Model, args); err != nil {
				return err
			}
			return runBench(c.Context(), s, o)
		},
	}
	f := c.Flags()
	bindModel(f, &o.Model)
	f.IntVarP(&o.PromptTokens, "n-prompt", "p", 512, "prompt tokens of the pp test (0: skip)")
	f.IntVarP(&o.GenTokens, "n-gen", "n", 128, "generated tokens of the tg test (0: skip)")
	f.IntVarP(&o.Repetitions, "repetitions", "r", 5, "repetitions of each test")
	f.IntVarP(&o.BatchSize, "batch-size", "b", 2048, "logical batch size")
	f.IntVarP(&o.UBatchSize, "ubatch-size", "u", 512, "physical batch size")
	f.IntVar(&o.Parallel, "parallel", 1, "with N > 1: also measure batched generation, N sequences of -p prompt and -n generated tokens in one context (GenerateBatch, greedy)")
	f.BoolVar(&o.JSON, "json", false, "machine-readable output")
	f.BoolVar(&o.CLoop, "c-loop", false, "diagnostic: run the tg loop inside one C call (no Go between tokens)")
	_ = f.MarkHidden("c-loop")
	o.engineFlags.bind(f, 0)
	return c
}

// benchTest is one test's result; field names are stable (--json).
type benchTest struct {
	Name      string    `json:"name"` // "pp512", "tg128"
	NPrompt   int       `json:"n_prompt"`
	NGen      int       `json:"n_gen"`
	AvgTS     float64   `json:"avg_ts"` // tokens per second, mean over repetitions
	StddevTS  float64   `json:"stddev_ts"`
	SamplesNS []int64   `json:"samples_ns"`
	SamplesTS []float64 `json:"samples_ts"`
}

type benchReport struct {
	Model       string               `json:"model"`
	Description string               `json:"description"`
	SizeBytes   uint64               `json:"size_bytes"`
	Params      uint64               `json:"params"`
	Backend     llamacpp.BackendInfo `json:"backend"`
	BackendDir  string               `json:"backend_dir"`
	SystemInfo  string               `json:"system_info"`
	// BuildFlags, CPUBackends and Buffers: how the engine was compiled, the
	// CPU backends' features (REPACK …) and where the weights went
	// (CPU_REPACK: repacked for the fast kernels).
	BuildFlags  llamacpp.CompileFlags  `json:"build_flags"`
	CPUBackends []llamacpp.BackendInfo `json:"cpu_backends"`
	Buffers     []llamacpp.Buffer      `json:"buffers"`
	GPULayers   int                    `json:"n_gpu_layers"`
	Threads     int                    `json:"n_threads"`
	BatchSize   int                    `json:"n_batch"`
	UBatchSize  int                    `json:"n_ubatch"`
	FlashAttn   string                 `json:"flash_attn"`
	Time        string                 `json:"time"`
	Tests       []benchTest            `json:"tests"`
}

func runBench(ctx context.Context, s *Streams, o *benchOptions) error {
	fa, err := o.flashAttention()
	if err != nil {
		return err
	}
	if o.PromptTokens < 0 || o.GenTokens < 0 || o.PromptTokens+o.GenTokens == 0 {
		return usagef("nothing to measure: -p %d -n %d", o.PromptTokens, o.GenTokens)
	}
	m, err := o.load(s, o.Model, nil)
	if err != nil {
		return err
	}
	defer m.Close()
	// One context per test, as llama-bench makes them: n_ctx is the test's
	// own tokens (512 for pp512, 128 for tg128) unless -c says otherwise.
	newContext := func(nctx, parallel int) (*llamacpp.Context, error) {
		if o.ContextSize > 0 {
			nctx = o.ContextSize
		}
		return m.NewContext(llamacpp.ContextOptions{
			ContextSize: nctx, BatchSize: o.BatchSize, UBatchSize: o.UBatchSize,
			Threads: o.Threads, FlashAttention: fa, Parallel: parallel,
		})
	}
	res := &llamacpp.BenchResult{}
	for _, t := range []struct{ pp, tg int }{{o.PromptTokens, 0}, {0, o.GenTokens}} {
		if t.pp+t.tg == 0 {
			continue
		}
		lc, err := newContext(t.pp+t.tg, 1)
		if err != nil {
			return err
		}
		r, err := lc.Bench(ctx, llamacpp.BenchOptions{PromptTokens: t.pp, GenTokens: t.tg, Repetitions: o.Repetitions, CLoop: o.CLoop})
		lc.Close()
		if err != nil {
			return err
		}
		res.Prompt = append(res.Prompt, r.Prompt...)
		res.Gen = append(res.Gen, r.Gen...)
	}
	size, params := m.Size()
	dir := o.BackendDir
	if dir == "" {
		dir = llamacpp.DefaultBackendDir()
	}
	rep := benchReport{
		Model: o.Model, Description: m.Description(), SizeBytes: size, Params: params,
		Backend: m.Device(), BackendDir: dir, SystemInfo: llamacpp.SystemInfo(),
		GPULayers: o.GPULayers, Threads: o.Threads, BatchSize: o.BatchSize, UBatchSize: o.UBatchSize,
		FlashAttn: o.FlashAttn, Time: time.Now().UTC().Format(time.RFC3339),
		BuildFlags: llamacpp.BuildFlags(), CPUBackends: llamacpp.CPUBackends(), Buffers: m.Buffers(),
	}
	if o.GPULayers < 0 && rep.Backend.Kind == "GPU" {
		rep.GPULayers = m.NLayer() + 1
	}
	if o.GPULayers < 0 && rep.Backend.Kind != "GPU" {
		rep.GPULayers = 0
	}
	if rep.Threads == 0 {
		rep.Threads = runtime.NumCPU()
	}
	if len(res.Prompt) > 0 {
		rep.Tests = append(rep.Tests, benchStats(fmt.Sprintf("pp%d", o.PromptTokens), o.PromptTokens, 0, res.Prompt))
	}
	if len(res.Gen) > 0 {
		rep.Tests = append(rep.Tests, benchStats(fmt.Sprintf("tg%d", o.GenTokens), 0, o.GenTokens, res.Gen))
	}
	if o.Parallel > 1 {
		lc, err := newContext(o.PromptTokens+o.GenTokens, o.Parallel)
		if err != nil {
			return err
		}
		t, err := benchParallel(ctx, lc, m.NVocab(), o)
		lc.Close()
		if err != nil {
			return err
		}
		rep.Tests = append(rep.Tests, t)
	}
	if o.JSON {
		return writeJSON(s.Out, rep)
	}
	b := rep.Backend
	fmt.Fprintf(s.Out, "backend: %s %s (%s; %s)\n", b.Name, b.Description, deviceOrigin(b), featureLine(b))
	printBenchBuild(s.Out, &rep)
	tw := tabwriter.NewWriter(s.Out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\tsize\tparams\tbackend\tngl\tthreads\tfa\ttest\tt/s\t")
	for _, t := range rep.Tests {
		fmt.Fprintf(tw, "%s\t%.2f MiB\t%.2f M\t%s\t%d\t%d\t%s\t%s\t%.2f ± %.2f\t\n",
			rep.Description, float64(size)/(1<<20), float64(params)/1e6, b.Name, rep.GPULayers, rep.Threads, o.FlashAttn, t.Name, t.AvgTS, t.StddevTS)
	}
	return tw.Flush()
}

// benchParallel times GenerateBatch over o.Parallel requests of random
// prompts, greedy, exactly o.GenTokens each (IgnoreEOS): the
// aggregate generated tokens per second, prompt processing included.
func benchParallel(ctx context.Context, lc *llamacpp.Context, nvocab int, o *benchOptions) (benchTest, error) {
	rng := rand.New(rand.NewPCG(1, 2))
	name := fmt.Sprintf("pp%d+tg%d x%d", o.PromptTokens, o.GenTokens, o.Parallel)
	t := benchTest{Name: name, NPrompt: o.PromptTokens * o.Parallel}
	reqs := make([]llamacpp.Request, o.Parallel)
	run := func() (int, time.Duration, error) {
		for i := range reqs {
			p := make([]int32, max(o.PromptTokens, 1))
			for j := range p {
				p[j] = int32(rng.IntN(nvocab))
			}
			reqs[i] = llamacpp.Request{Prompt: p, Options: llamacpp.GenerateOptions{MaxTokens: o.GenTokens, IgnoreEOS: true}}
		}
		start := time.Now()
		res, err := lc.GenerateBatch(ctx, reqs, nil)
		d := time.Since(start)
		n := 0
		for _, r := range res {
			n += len(r.Tokens)
		}
		return n, d, err
	}
	if _, _, err := run(); err != nil { // warm-up
		return t, err
	}
	for r := 0; r < max(o.Repetitions, 1); r++ {
		n, d, err := run()
		if err != nil {
			return t, err
		}
		t.NGen = n
		t.SamplesNS = append(t.SamplesNS, d.Nanoseconds())
		t.SamplesTS = append(t.SamplesTS, float64(n)/d.Seconds())
	}
	for _, v := range t.SamplesTS {
		t.AvgTS += v
	}
	t.AvgTS /= float64(len(t.SamplesTS))
	if len(t.SamplesTS) > 1 {
		var ss float64
		for _, v := range t.SamplesTS {
			ss += (v - t.AvgTS) * (v - t.AvgTS)
		}
		t.StddevTS = math.Sqrt(ss / float64(len(t.SamplesTS)-1))
	}
	return t, nil
}

func benchStats(name string, np, ng int, ds []time.Duration) benchTest {
	t := benchTest{Name: name, NPrompt: np, NGen: ng}
	n := float64(np + ng)
	for _, d := range ds {
		t.SamplesNS = append(t.SamplesNS, d.Nanoseconds())
		t.SamplesTS = append(t.SamplesTS, n/d.Seconds())
	}
	for _, v := range t.SamplesTS {
		t.AvgTS += v
	}
	t.AvgTS /= float64(len(t.SamplesTS))
	if len(t.SamplesTS) > 1 {
		var ss float64
		for _, v := range t.SamplesTS {
			ss += (v - t.AvgTS) * (v - t.AvgTS)
		}
		t.StddevTS = math.Sqrt(ss / float64(len(t.SamplesTS)-1))
	}
	return t
}
