package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sattva/sattva/llamacpp"
)

// engineFlags are the llama.cpp flags shared by run, chat and bench.
type engineFlags struct {
	BackendDir  string
	Threads     int
	GPULayers   int // -1 all, 0 none
	ContextSize int
	FlashAttn   string // auto, on, off
	Verbose     bool
}

// bind binds the engine flags under llama.cpp's names (-ngl, -c, -t, -fa;
// see llamaflags.go for the one-dash spellings and the hidden old names).
func (e *engineFlags) bind(f *pflag.FlagSet, ctxDefault int) {
	f.StringVar(&e.BackendDir, "backend-dir", "", "folder of ggml backend plugins (default $"+llamacpp.BackendDirEnv+", else lib/ollama beside the sattva binary)")
	f.IntVarP(&e.Threads, "threads", "t", 0, "CPU threads (0: all CPUs)")
	f.IntVar(&e.GPULayers, "n-gpu-layers", -1, "-ngl: layers to offload to the GPU (-1: all, 0: CPU only)")
	f.IntVarP(&e.ContextSize, "ctx-size", "c", ctxDefault, "context size in tokens (0: min(4096, the model's))")
	f.StringVar(&e.FlashAttn, "flash-attn", "auto", "-fa: flash attention: auto, on or off")
	f.BoolVarP(&e.Verbose, "verbose", "v", false, "show llama.cpp's log and timings on stderr")
}

// flashAttention parses --flash-attn.
func (e *engineFlags) flashAttention() (llamacpp.FlashAttention, error) {
	return parseFlashAttn(e.FlashAttn)
}

// parseFlashAttn reads llama.cpp's -fa values (auto, on, off; 1 and 0 too).
func parseFlashAttn(v string) (llamacpp.FlashAttention, error) {
	fa, err := llamacpp.ParseFlashAttention(v)
	if err != nil {
		return 0, usagef("--flash-attn %q: want auto, on or off", v)
	}
	return fa, nil
}

// logger is llama.cpp's log: errors only, everything with -v (llamalog.go).
func (e *engineFlags) logger(w io.Writer) *slog.Logger {
	return newLlamaLogger(w, e.Verbose)
}

// load initialises the backends and loads the model with adapters.
func (e *engineFlags) load(s *Streams, path string, adapters []llamacpp.Adapter) (*llamacpp.Model, error) {
	if _, err := e.flashAttention(); err != nil {
		return nil, err
	}
	log := e.logger(s.ErrOut)
	if _, err := llamacpp.InitBackends(e.BackendDir, log); err != nil {
		return nil, err
	}
	mo := llamacpp.ModelOptions{GPULayers: e.GPULayers, CPUOnly: e.GPULayers == 0, LoRA: adapters, Logger: log}
	return llamacpp.Load(path, mo)
}

// bindModel binds -m/--model, llama.cpp's spelling, for commands that also
// take the model as their first argument.
func bindModel(f *pflag.FlagSet, model *string) {
	f.StringVarP(model, "model", "m", "", "GGUF model file (or give it as the first argument)")
}

// modelArg takes the model from the first argument or -m, not both.
func modelArg(model *string, args []string) error {
	switch {
	case len(args) == 1 && *model != "":
		return usagef("give the model as the argument or with -m, not both")
	case len(args) == 1:
		*model = args[0]
	case *model == "":
		return usagef("no model: give a GGUF file as the first argument or with -m")
	}
	return nil
}

// parseLoRAFlags parses --lora FILE[:SCALE] flags (parseLoRA, cmd_eval.go).
func parseLoRAFlags(specs []string) ([]llamacpp.Adapter, error) {
	var out []llamacpp.Adapter
	for _, sp := range specs {
		a, err := parseLoRA(sp)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// samplingFlags bind the sampler options.
type samplingFlags struct {
	Temp, TopP, MinP, RepeatPenalty float32
	TopK, RepeatLastN               int
	Seed                            int64
	MaxTokens                       int
	Stop                            []string
	flags                           *pflag.FlagSet // to tell the flags the user gave
}

func (sf *samplingFlags) bind(f *pflag.FlagSet, maxTokens int) {
	sf.flags = f
	f.Float32Var(&sf.Temp, "temp", 0, "temperature (0: greedy)")
	f.IntVar(&sf.TopK, "top-k", 40, "top-k sampling (0: off)")
	f.Float32Var(&sf.TopP, "top-p", 0.95, "top-p sampling (1: off)")
	f.Float32Var(&sf.MinP, "min-p", 0.05, "min-p sampling (0: off)")
	f.Float32Var(&sf.RepeatPenalty, "repeat-penalty", 1, "repeat penalty (1: off)")
	f.IntVar(&sf.RepeatLastN, "repeat-last-n", 64, "tokens the repeat penalty looks back on")
	f.Int64Var(&sf.Seed, "seed", -1, "sampling seed (-1: random)")
	f.IntVarP(&sf.MaxTokens, "n-predict", "n", maxTokens, "most tokens to generate (0: until the end or the context is full)")
	f.StringArrayVar(&sf.Stop, "stop", nil, "stop when this text appears (repeatable)")
}

func (sf *samplingFlags) options() (llamacpp.GenerateOptions, uint32) {
	seed := uint32(sf.Seed)
	if sf.Seed < 0 {
		seed = rand.Uint32()
	}
	return llamacpp.GenerateOptions{
		MaxTokens: sf.MaxTokens,
		Stop:      sf.Stop,
		Sampling: llamacpp.SamplingOptions{
			Temperature: sf.Temp, TopK: sf.TopK, TopP: sf.TopP, MinP: sf.MinP,
			RepeatPenalty: sf.RepeatPenalty, RepeatLastN: sf.RepeatLastN, Seed: seed,
		},
	}, seed
}

type runOptions struct {
	Model  string
	Prompt string
	System string
	LoRA   []string
	Raw    bool
	engineFlags
	samplingFlags
}

func newRunCmd(s *Streams) *cobra.Command {
	o := &runOptions{}
	c := &cobra.Command{
		Use:   "run MODEL -p PROMPT  (or: run -m MODEL -p PROMPT)",
		Short: "Generate a reply from a GGUF model with llama.cpp",
		Long: "Load a GGUF model (with LoRA adapters applied at load) and stream the reply to\n" +
			"PROMPT. The model's own chat template wraps the prompt (and --system) unless\n" +
			"--raw. Greedy by default; --temp samples. Sampler flags not given take the\n" +
			"model's recommended sampler (general.sampling.*) where it has one, as llama-cli\n" +
			"does; -v says which. Runs on the GPU when a CUDA backend plugin is found (see\n" +
			"--backend-dir), else on the CPU.",
		Example: "  sattva run model.gguf -p \"Compute the five numbers for 05.11.2004\"\n" +
			"  sattva run base.gguf --lora adapter.gguf:0.8 -p \"Hi\" --temp 0.7 -v\n" +
			"  sattva run stories.gguf --raw -p \"Once upon a time\" -n 100",
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if err := modelArg(&o.Model, args); err != nil {
				return err
			}
			if !c.Flags().Changed("prompt") {
				return usagef("run needs a prompt: -p PROMPT")
			}
			return runRun(c.Context(), s, o)
		},
	}
	f := c.Flags()
	bindModel(f, &o.Model)
	f.StringVarP(&o.Prompt, "prompt", "p", "", "the user's message (or, with --raw, the whole prompt text); - reads it from stdin")
	f.StringVar(&o.System, "system", "", "system message")
	f.StringArrayVar(&o.LoRA, "lora", nil, "LoRA adapter GGUF, FILE or FILE:SCALE (repeatable)")
	f.BoolVar(&o.Raw, "raw", false, "no chat template: the prompt text is tokenized as it is (special tokens parsed)")
	o.engineFlags.bind(f, 0)
	o.samplingFlags.bind(f, 512)
	return c
}

func runRun(ctx context.Context, s *Streams, o *runOptions) error {
	adapters, err := parseLoRAFlags(o.LoRA)
	if err != nil {
		return err
	}
	if o.Prompt == "-" {
		b, err := io.ReadAll(s.In)
		if err != nil {
			return err
		}
		o.Prompt = strings.TrimRight(string(b), "\n")
	}
	m, err := o.load(s, o.Model, adapters)
	if err != nil {
		return err
	}
	defer m.Close()
	prompt, err := buildPrompt(s, m, o.Raw, o.System, o.Prompt, o.Verbose)
	if err != nil {
		return err
	}
	fa, err := o.flashAttention()
	if err != nil {
		return err
	}
	lc, err := m.NewContext(llamacpp.ContextOptions{ContextSize: o.ContextSize, Threads: o.Threads, FlashAttention: fa})
	if err != nil {
		return err
	}
	defer lc.Close()
	gen, seed := o.samplingFlags.options()
	gen.Sampling = withModelSampling(s.ErrOut, o.samplingFlags.flags, o.Model, gen.Sampling, o.Verbose)
	if o.Verbose {
		d := m.Device()
		fmt.Fprintf(s.ErrOut, "model %s (%s) on %s %s; prompt %d tokens; seed %d\n", o.Model, m.Description(), d.Name, d.Description, len(prompt), seed)
	}
	st, err := streamReply(ctx, s.Out, lc, prompt, gen)
	fmt.Fprintln(s.Out)
	if o.Verbose {
		st.report(s.ErrOut)
	}
	return err
}

// buildPrompt tokenizes the prompt, through the model's chat template unless raw.
func buildPrompt(s *Streams, m *llamacpp.Model, raw bool, system, user string, verbose bool) ([]int32, error) {
	text := user
	if !raw {
		var msgs []llamacpp.ChatMessage
		if system != "" {
			msgs = append(msgs, llamacpp.ChatMessage{Role: "system", Content: system})
		}
		msgs = append(msgs, llamacpp.ChatMessage{Role: "user", Content: user})
		t, err := m.ApplyChatTemplate(msgs, true)
		switch {
		case errors.Is(err, llamacpp.ErrNoChatTemplate):
			fmt.Fprintln(s.ErrOut, "sattva: the model has no chat template llama.cpp knows; using the prompt as it is (--raw)")
		case err != nil:
			return nil, err
		default:
			text = t
		}
	}
	toks, err := m.Tokenize(text, true, true)
	if err != nil {
		return nil, err
	}
	if verbose {
		fmt.Fprintf(s.ErrOut, "prompt: %q\n", text)
	}
	return toks, nil
}

// genStats are the timings of one streamed reply.
type genStats struct {
	promptTokens, genTokens int
	firstToken, total       time.Duration
}

func (g genStats) report(w io.Writer) {
	pp := float64(g.promptTokens) / g.firstToken.Seconds()
	tg := 0.0
	if g.genTokens > 1 {
		tg = float64(g.genTokens-1) / (g.total - g.firstToken).Seconds()
	}
	fmt.Fprintf(w, "prompt %d tokens in %.3fs (%.1f tok/s); generated %d tokens (%.1f tok/s)\n",
		g.promptTokens, g.firstToken.Seconds(), pp, g.genTokens, tg)
}

// streamReply writes the generated text as it comes and returns the reply's timings.
func streamReply(ctx context.Context, w io.Writer, lc *llamacpp.Context, prompt []int32, gen llamacpp.GenerateOptions) (genStats, error) {
	st := genStats{promptTokens: len(prompt)}
	start := time.Now()
	defer func() { st.total = time.Since(start) }()
	for tok, err := range lc.Generate(ctx, prompt, gen) {
		if err != nil {
			st.total = time.Since(start)
			return st, err
		}
		if st.genTokens == 0 {
			st.firstToken = time.Since(start)
		}
		st.genTokens++
		io.WriteString(w, tok.Text)
	}
	st.total = time.Since(start)
	return st, nil
}
