// Command servetg measures, in one process and on one model, what a single
// streaming client of package serve gets against `sattva bench`'s tg, so that
// the server's own cost per token shows without a second process, a second
// model load or a second machine state in between. Each round runs, in an
// order that rotates from round to round:
//
//	tg:    llamacpp's Context.Bench with GenTokens -n: the exact loop
//	       `sattva bench` times for tgN (one decode and llama_synchronize
//	       per token, no sampling), in a context of -n tokens as bench makes
//	       it;
//	run:   Context.Generate, greedy, of -n+1 tokens after the prompt: the
//	       loop of `sattva run` (argmax and detokenization per token), timed
//	       from its first token to its last, so -n single-token decodes;
//	serve: one streaming /v1/completions request of -n+1 tokens (greedy,
//	       ignore_eos) through serve's http.Handler behind a loopback
//	       httptest server, measured as bench/serveload measures it
//	       (package bench/internal/sse): -n decodes after the first token.
//
// It prints each round's rates (decodes over their total time), then per
// variant the median over rounds, the rate of the median decode (one over
// the median time of all timed decodes: on a busy machine, whose
// preemptions land on a few decodes, the steadier figure), the rate of the
// 10th-percentile decode (what a decode costs when nothing preempts it, as
// on an idle GPU host) and the process's
// CPU time per decode; and the ratios run/tg and serve/tg by both rates.
// With -only and -cpuprofile it runs one of them alone under the profiler.
//
//	go run ./bench/servetg -m mini-q4km.gguf -t 1 -n 128 -rounds 10
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/sattva/sattva/bench/internal/sse"
	"github.com/sattva/sattva/internal/cputime"
	"github.com/sattva/sattva/llamacpp"
	"github.com/sattva/sattva/serve"
)

type config struct {
	model, prompt, only, cpuprofile, out string
	threads, gen, rounds, slots, ctx     int
	gpu                                  bool
}

func main() {
	var c config
	flag.StringVar(&c.model, "m", "", "model GGUF (required)")
	flag.StringVar(&c.prompt, "prompt", "Once upon a time, in a small village by the sea, there lived an old fisherman who told his grandchildren stories about the stars every night.", "prompt text of run and serve")
	flag.IntVar(&c.threads, "t", 0, "llama.cpp threads (0: the number of CPUs, as sattva bench and serve)")
	flag.IntVar(&c.gen, "n", 128, "decodes timed per measurement (tgN)")
	flag.IntVar(&c.rounds, "rounds", 8, "rounds (each runs every variant once)")
	flag.IntVar(&c.slots, "np", 1, "serve: slots")
	flag.IntVar(&c.ctx, "c", 256, "serve and run: tokens per sequence")
	flag.BoolVar(&c.gpu, "gpu", false, "offload to a GPU backend when there is one (default: CPU only)")
	flag.StringVar(&c.only, "only", "", "run only this variant: tg, run or serve")
	flag.StringVar(&c.cpuprofile, "cpuprofile", "", "write a CPU profile of the rounds here")
	flag.StringVar(&c.out, "o", "", "also write the report here")
	flag.Parse()
	if err := run(&c); err != nil {
		fmt.Fprintln(os.Stderr, "servetg:", err)
		os.Exit(1)
	}
}

// variant is one way of generating.
type variant struct {
	name    string
	measure func(ctx context.Context) (sample, error)
}

// sample is one measurement: the decode rate over the timed decodes (their
// count over their total time), the time of each, and the decodes the call
// made in all (for the CPU time per decode).
type sample struct {
	rate    float64
	steps   []time.Duration
	decodes int
	chunks  int // serve: chunks with text (fewer than tokens when a token has no text of its own)
}

// cpuTime is the CPU time (user and system) of the process so far (0 where
// the platform does not say).
func cpuTime() time.Duration { return time.Duration(cputime.Seconds() * float64(time.Second)) }

func run(c *config) error {
	if c.model == "" {
		return errors.New("-m is required")
	}
	if c.gen < 2 || c.rounds < 1 {
		return errors.New("-n must be at least 2 and -rounds at least 1")
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if _, err := llamacpp.InitBackends("", logger); err != nil {
		return err
	}
	m, err := llamacpp.Load(c.model, llamacpp.ModelOptions{CPUOnly: !c.gpu, Logger: logger})
	if err != nil {
		return err
	}
	defer m.Close()
	prompt, err := m.Tokenize(c.prompt, true, true)
	if err != nil {
		return err
	}
	if len(prompt)+c.gen+1 > c.ctx {
		return fmt.Errorf("-c %d is too small for a prompt of %d tokens and %d generated", c.ctx, len(prompt), c.gen+1)
	}
	vs, closeAll, err := makeVariants(c, m, prompt, logger)
	defer closeAll()
	if err != nil {
		return err
	}
	ctx := context.Background()
	for _, v := range vs { // warm-up
		if _, err := v.measure(ctx); err != nil {
			return fmt.Errorf("%s: %w", v.name, err)
		}
	}
	if c.cpuprofile != "" {
		f, err := os.Create(c.cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	var rep strings.Builder
	threads := c.threads
	if threads == 0 {
		threads = runtime.NumCPU()
	}
	dev := m.Device()
	fmt.Fprintf(&rep, "servetg: %s (%s), %s %s, -t %d, prompt %d tokens, %d decodes timed, serve -np %d -c %d, %d rounds\n\n",
		c.model, m.Description(), dev.Name, dev.Description, threads, len(prompt), c.gen, c.slots, c.ctx, c.rounds)
	t, err := measureRounds(ctx, c, vs, &rep)
	if err != nil {
		return err
	}
	t.summarize(vs, &rep)
	out := io.Writer(os.Stdout)
	if c.out != "" {
		f, err := os.Create(c.out)
		if err != nil {
			return err
		}
		defer f.Close()
		out = io.MultiWriter(os.Stdout, f)
	}
	_, err = io.WriteString(out, rep.String())
	return err
}

// makeVariants makes the contexts (and serve's server) of tg, run and serve,
// or of the one -only names. closeAll closes what was made, also after an
// error.
func makeVariants(c *config, m *llamacpp.Model, prompt []int32, logger *slog.Logger) (vs []variant, closeAll func(), err error) {
	var closers []func()
	closeAll = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	newCtx := func(o llamacpp.ContextOptions) (*llamacpp.Context, error) {
		x, err := m.NewContext(o)
		if err == nil {
			closers = append(closers, func() { x.Close() })
		}
		return x, err
	}
	// tg: what `sattva bench -n N` times, in the context it makes for it.
	tgc, err := newCtx(llamacpp.ContextOptions{ContextSize: c.gen, Threads: c.threads})
	if err != nil {
		return nil, closeAll, err
	}
	// run: the library's generation loop, greedy.
	rc, err := newCtx(llamacpp.ContextOptions{ContextSize: c.ctx, Threads: c.threads})
	if err != nil {
		return nil, closeAll, err
	}
	// serve: one streaming client through the handler over loopback.
	sc, err := newCtx(llamacpp.ContextOptions{ContextSize: c.ctx, Parallel: c.slots, Threads: c.threads})
	if err != nil {
		return nil, closeAll, err
	}
	srv, err := serve.New(sc, serve.Options{ModelName: "m", Logger: logger})
	if err != nil {
		return nil, closeAll, err
	}
	closers = append(closers, func() { srv.Close() })
	hs := httptest.NewServer(srv)
	closers = append(closers, hs.Close)
	vs = []variant{tgVariant(c, tgc), runVariant(c, rc, prompt), serveVariant(c, hs.URL)}
	if c.only != "" {
		i := slices.IndexFunc(vs, func(v variant) bool { return v.name == c.only })
		if i < 0 {
			return nil, closeAll, fmt.Errorf("-only %q: want tg, run or serve", c.only)
		}
		vs = vs[i : i+1]
	}
	return vs, closeAll, nil
}

func tgVariant(c *config, tgc *llamacpp.Context) variant {
	return variant{"tg", func(ctx context.Context) (sample, error) {
		r, err := tgc.Bench(ctx, llamacpp.BenchOptions{GenTokens: c.gen, Repetitions: 1, StepTimes: true})
		if err != nil {
			return sample{}, err
		}
		// Bench runs a warm-up repetition first: 2×gen decodes.
		return sample{rate: float64(c.gen) / r.Gen[0].Seconds(), steps: r.GenSteps[0], decodes: 2 * c.gen}, nil
	}}
}

// runVariant: like a slot, the context keeps the prompt's cells from the
// last call: each call decodes one prompt token and gen tokens after the
// first.
func runVariant(c *config, rc *llamacpp.Context, prompt []int32) variant {
	return variant{"run", func(ctx context.Context) (sample, error) {
		var first, last time.Time
		steps := make([]time.Duration, 0, c.gen)
		n := 0
		for _, err := range rc.Generate(ctx, prompt, llamacpp.GenerateOptions{MaxTokens: c.gen + 1, IgnoreEOS: true}) {
			if err != nil {
				return sample{}, err
			}
			now := time.Now()
			if n == 0 {
				first = now
			} else {
				steps = append(steps, now.Sub(last))
			}
			last = now
			n++
		}
		if n != c.gen+1 {
			return sample{}, fmt.Errorf("run generated %d tokens, want %d", n, c.gen+1)
		}
		return sample{rate: float64(c.gen) / last.Sub(first).Seconds(), steps: steps, decodes: c.gen + 1}, nil
	}}
}

func serveVariant(c *config, url string) variant {
	hc := &http.Client{}
	body := sse.CompletionBody("m", c.prompt, c.gen+1)
	return variant{"serve", func(ctx context.Context) (sample, error) {
		r := sse.Stream(ctx, hc, url+"/v1/completions", body, 0)
		switch {
		case r.Err != nil:
			return sample{}, r.Err
		case r.Status != http.StatusOK:
			return sample{}, fmt.Errorf("serve: HTTP %d", r.Status)
		case !r.Usage || r.Tokens != c.gen+1:
			return sample{}, fmt.Errorf("serve: %d tokens (usage %v), want %d", r.Tokens, r.Usage, c.gen+1)
		}
		return sample{r.Rate(), r.Gaps, c.gen + 1, r.Chunks}, nil
	}}
}

// tally is what the rounds measured, per variant.
type tally struct {
	rates          [][]float64     // per round: decodes over their total time
	steps          [][]float64     // every timed decode's duration, seconds
	cpu            []time.Duration // CPU time of the process during each variant
	decodes        []int
	chunks, tokens int // serve's text chunks and tokens
	gen            int
}

// measureRounds runs c.rounds rounds, each variant once in an order that
// rotates, and writes a row per round to rep.
func measureRounds(ctx context.Context, c *config, vs []variant, rep *strings.Builder) (*tally, error) {
	fmt.Fprintf(rep, "| round | order |")
	for _, v := range vs {
		fmt.Fprintf(rep, " %s tok/s |", v.name)
	}
	fmt.Fprintf(rep, "\n|---:|---|%s\n", strings.Repeat("---:|", len(vs)))
	t := &tally{rates: make([][]float64, len(vs)), steps: make([][]float64, len(vs)),
		cpu: make([]time.Duration, len(vs)), decodes: make([]int, len(vs)), gen: c.gen}
	for r := range c.rounds {
		order := make([]int, len(vs))
		for i := range order {
			order[i] = (i + r) % len(vs)
		}
		got := make([]float64, len(vs))
		for _, i := range order {
			c0 := cpuTime()
			x, err := vs[i].measure(ctx)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", vs[i].name, err)
			}
			t.cpu[i] += cpuTime() - c0
			t.decodes[i] += x.decodes
			if vs[i].name == "serve" {
				t.chunks += x.chunks
				t.tokens += c.gen + 1
			}
			got[i] = x.rate
			t.rates[i] = append(t.rates[i], x.rate)
			for _, d := range x.steps {
				t.steps[i] = append(t.steps[i], d.Seconds())
			}
		}
		names := make([]string, len(order))
		for k, i := range order {
			names[k] = vs[i].name
		}
		fmt.Fprintf(rep, "| %d | %s |", r+1, strings.Join(names, ","))
		for i := range vs {
			fmt.Fprintf(rep, " %.1f |", got[i])
		}
		fmt.Fprintf(rep, "\n")
	}
	return t, nil
}

// summarize writes the rows over all rounds and the ratios to tg.
func (t *tally) summarize(vs []variant, rep *strings.Builder) {
	row := func(label string, f func(i int) float64, format string) {
		fmt.Fprintf(rep, "| %s | |", label)
		for i := range vs {
			if x := f(i); math.IsNaN(x) {
				fmt.Fprintf(rep, " — |")
			} else {
				fmt.Fprintf(rep, " "+format+" |", x)
			}
		}
		fmt.Fprintf(rep, "\n")
	}
	row("median of rounds", func(i int) float64 { return median(t.rates[i]) }, "%.1f")
	row("1 / median decode", func(i int) float64 { return 1 / median(t.steps[i]) }, "%.1f")
	// The client's gaps are no decode times: a chunk delayed on its way
	// lets the next ones arrive at once, so their low quantiles mean
	// nothing; the loops' own steps are decodes.
	p10 := func(i int) float64 {
		if vs[i].name == "serve" {
			return math.NaN()
		}
		return quantile(t.steps[i], 0.10)
	}
	row("1 / p10 decode (not serve's)", func(i int) float64 { return 1 / p10(i) }, "%.1f")
	row("CPU µs per decode (process)", func(i int) float64 { return float64(t.cpu[i].Microseconds()) / float64(t.decodes[i]) }, "%.0f")
	if t.tokens > 0 {
		fmt.Fprintf(rep, "\nserve: %d text chunks for %d tokens\n", t.chunks, t.tokens)
	}
	if len(vs) > 1 && vs[0].name == "tg" {
		fmt.Fprintf(rep, "\n")
		for i := 1; i < len(vs); i++ {
			fmt.Fprintf(rep, "%s/tg: %.3f by the medians of rounds, %.3f by the median decode",
				vs[i].name, median(t.rates[i])/median(t.rates[0]), median(t.steps[0])/median(t.steps[i]))
			if !math.IsNaN(p10(i)) {
				fmt.Fprintf(rep, ", %.3f by the p10 decode", p10(0)/p10(i))
			}
			fmt.Fprintf(rep, "\n")
		}
	}
}

// quantile is the q-quantile of x (nearest rank).
func quantile(x []float64, q float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	return s[min(len(s)-1, max(0, int(q*float64(len(s)))))]
}

func median(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
