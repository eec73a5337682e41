// Package llamarun is evalrun's in-process runner: the cases of a suite
// answered by llama.cpp (package llamacpp) in parallel sequences of one
// context. It is the one evaluation package that links the engine; pass New
// as evalrun.RunnerOptions.Local.
package llamarun

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/sattva/sattva/evalrun"
	"github.com/sattva/sattva/llamacpp"
)

// Options configure a Runner.
type Options struct {
	Model    string            // GGUF path
	Adapters []evalrun.Adapter // LoRA adapters applied at load, with their scales
	// Parallel is how many cases are decoded at once, each in its own
	// sequence of one context; 0: all cases of a Generate call (up to 64).
	// 1 runs one case at a time.
	Parallel int
	// ContextSize per sequence; 0: the longest prompt plus its max tokens.
	ContextSize int
	Threads     int // 0: llama.cpp's choice (every CPU)
	GPULayers   int // 0 or -1: all when a GPU is present
	CPUOnly     bool
	// FlashAttention is llama.cpp's -fa (default auto).
	FlashAttention llamacpp.FlashAttention
	BackendDir     string // ggml backend plugins; "": $SATTVA_BACKEND_DIR or beside the executable
	Logger         *slog.Logger
	// Progress, when set, is called with the tokens generated so far and the
	// most the batch can generate (the sum of max tokens).
	Progress func(done, total int64)
}

// Runner answers cases with llama.cpp in this process: the model (and
// its adapters) is loaded once; all cases of a Generate call are decoded in
// parallel sequences of one context. Greedy decoding by default; with a
// temperature the suite's seed makes the sampling reproducible. It owns the
// model: Close frees it.
type Runner struct {
	o     Options
	model *llamacpp.Model
	notes []string
}

var _ evalrun.Runner = (*Runner)(nil)
var _ evalrun.Describer = (*Runner)(nil)

// New loads the model and its adapters. In a build without cgo it returns
// llamacpp.ErrNoEngine.
func New(o Options) (*Runner, error) {
	if _, err := llamacpp.InitBackends(o.BackendDir, o.Logger); err != nil {
		return nil, err
	}
	var lora []llamacpp.Adapter
	for _, a := range o.Adapters {
		lora = append(lora, llamacpp.Adapter{Path: a.Path, Scale: a.Scale})
	}
	m, err := llamacpp.Load(o.Model, llamacpp.ModelOptions{GPULayers: o.GPULayers, CPUOnly: o.CPUOnly, LoRA: lora, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	return &Runner{o: o, model: m}, nil
}

// Local is New for evalrun.RunnerOptions: pass it as RunnerOptions.Local.
func Local(o evalrun.RunnerOptions) (evalrun.Runner, error) {
	fa, err := llamacpp.ParseFlashAttention(o.FlashAttn)
	if err != nil {
		return nil, err
	}
	return New(Options{Model: o.Model, Adapters: o.Adapters, Parallel: o.Parallel, ContextSize: o.ContextSize,
		Threads: o.Threads, GPULayers: o.GPULayers, CPUOnly: o.CPUOnly, BackendDir: o.BackendDir,
		FlashAttention: fa, Logger: o.Logger, Progress: o.Progress})
}

// Close frees the model. It is idempotent.
func (r *Runner) Close() error {
	if r.model == nil {
		return nil
	}
	err := r.model.Close()
	r.model = nil
	return err
}

func (r *Runner) Name() string {
	n := "llamacpp:" + filepath.Base(r.o.Model)
	for _, a := range r.o.Adapters {
		n += "+" + filepath.Base(a.Path)
	}
	return n
}

func (r *Runner) Info() evalrun.GeneratorInfo {
	gi := evalrun.GeneratorInfo{Runner: "llamacpp", Model: r.o.Model, Parallel: r.o.Parallel, Notes: r.notes}
	for _, a := range r.o.Adapters {
		gi.Adapters = append(gi.Adapters, fmt.Sprintf("%s:%g", a.Path, a.Scale))
	}
	return gi
}

// prompt renders and tokenizes one request.
func (r *Runner) prompt(q evalrun.GenRequest) ([]int32, error) {
	text := evalrun.RawPrompt(q.Messages)
	if q.ChatTemplate {
		msgs := make([]llamacpp.ChatMessage, len(q.Messages))
		for i, m := range q.Messages {
			msgs[i] = llamacpp.ChatMessage{Role: m.Role, Content: m.Content}
		}
		t, err := r.model.ApplyChatTemplate(msgs, true)
		switch {
		case errors.Is(err, llamacpp.ErrNoChatTemplate):
			note := "the model has no chat template: prompts were given raw (messages joined by blank lines)"
			if len(r.notes) == 0 || r.notes[len(r.notes)-1] != note {
				r.notes = append(r.notes, note)
			}
		case err != nil:
			return nil, err
		default:
			text = t
		}
	}
	toks, err := r.model.Tokenize(text, true, true)
	if err != nil {
		return nil, err
	}
	// A template that writes BOS itself plus add-special would double it.
	if bos := r.model.BOS(); len(toks) > 1 && toks[0] == bos && toks[1] == bos {
		toks = toks[1:]
	}
	return toks, nil
}

// Generate decodes all requests in one context, Parallel sequences at a time.
func (r *Runner) Generate(ctx context.Context, reqs []evalrun.GenRequest, onDone func(int, evalrun.GenResult)) error {
	if r.model == nil {
		return llamacpp.ErrClosed
	}
	start := time.Now()
	prompts := make([][]int32, len(reqs))
	longest := 0
	var totalMax int64
	for i, q := range reqs {
		toks, err := r.prompt(q)
		if err != nil {
			onDone(i, evalrun.GenResult{Err: err})
			continue
		}
		prompts[i] = toks
		longest = max(longest, len(toks)+q.MaxTokens)
		totalMax += int64(q.MaxTokens)
	}
	par := r.o.Parallel
	if par <= 0 {
		par = min(len(reqs), evalrun.MaxParallel)
	}
	par = max(1, min(par, len(reqs)))
	nctx := r.o.ContextSize
	if nctx == 0 {
		nctx = longest + 16
	}
	lc, err := r.model.NewContext(llamacpp.ContextOptions{ContextSize: nctx, Parallel: par, Threads: r.o.Threads, FlashAttention: r.o.FlashAttention})
	if err != nil {
		return err
	}
	defer lc.Close()
	var produced atomic.Int64
	if r.o.Progress != nil {
		r.o.Progress(0, totalMax)
	}
	// GenerateBatch runs Parallel sequences at once and starts waiting
	// requests as sequences free up.
	var idx []int
	var batch []llamacpp.Request
	for i, q := range reqs {
		if prompts[i] == nil {
			continue
		}
		idx = append(idx, i)
		batch = append(batch, llamacpp.Request{Prompt: prompts[i], Options: llamacpp.GenerateOptions{
			MaxTokens: q.MaxTokens,
			Stop:      q.Stop,
			IgnoreEOS: q.IgnoreEOS,
			Sampling: llamacpp.SamplingOptions{
				Temperature: float32(q.Sampling.Temperature), TopK: q.Sampling.TopK, TopP: float32(q.Sampling.TopP),
				MinP: float32(q.Sampling.MinP), RepeatPenalty: float32(q.Sampling.RepeatPenalty), Seed: q.Sampling.Seed,
			},
		}})
	}
	if len(batch) == 0 {
		return nil
	}
	res, err := lc.GenerateBatch(ctx, batch, func(int, llamacpp.Token) {
		n := produced.Add(1)
		if r.o.Progress != nil {
			r.o.Progress(n, totalMax)
		}
	})
	took := time.Since(start)
	for j, rs := range res {
		if j >= len(idx) {
			break
		}
		if err != nil && (rs.Err != nil || rs.StopReason == "") {
			continue // unfinished when the batch stopped: not an answer
		}
		onDone(idx[j], evalrun.GenResult{Text: rs.Text, PromptTokens: rs.PromptTokens, Tokens: len(rs.Tokens), StopReason: rs.StopReason, Duration: took, Err: rs.Err})
	}
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
