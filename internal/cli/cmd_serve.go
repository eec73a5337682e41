package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ollama/ollama/parser"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sattva/sattva/llamacpp"
	"github.com/sattva/sattva/serve"
)

type serveOptions struct {
	Model        string
	Alias        string
	Host         string
	Port         int
	Parallel     int
	LoRA         []string
	APIKey       string
	APIKeyEnv    string
	Insecure     bool
	Queue        int
	MaxBody      int64
	MaxTokens    int
	DrainTimeout time.Duration
	engineFlags
	samplingFlags
	flags *pflag.FlagSet
	// ready, when set, receives the listening address (tests).
	ready func(addr string)
}

func newServeCmd(s *Streams) *cobra.Command {
	o := &serveOptions{}
	c := &cobra.Command{
		Use:   "serve MODEL.gguf|EXPORT-DIR",
		Short: "Serve a GGUF model over OpenAI- and Ollama-compatible HTTP APIs",
		Long: "Serve one model (with LoRA adapters) through llama.cpp: POST /v1/chat/completions,\n" +
			"/v1/completions, GET /v1/models (OpenAI); POST /api/chat, /api/generate, GET /api/tags,\n" +
			"/api/version (Ollama); GET /health and /metrics (Prometheus). -np (--parallel) requests are decoded\n" +
			"at once (continuous batching); more wait in a queue of --queue, beyond which the\n" +
			"server answers 503. Given an export folder (sattva export), the Modelfile's FROM,\n" +
			"ADAPTER, SYSTEM and PARAMETERs are used; flags given explicitly win over them.\n" +
			"It listens on 127.0.0.1 unless --host says otherwise; another address needs\n" +
			"--api-key (clients send Authorization: Bearer KEY) or --insecure. SIGTERM or\n" +
			"Ctrl-C stops accepting, lets running requests finish for --drain-timeout, then\n" +
			"cuts them and exits 0.",
		Example: "  sattva serve model.gguf -np 8 -c 4096\n" +
			"  sattva serve export/ --port 8080\n" +
			"  sattva serve base.gguf --lora adapter.gguf:0.8 --host 0.0.0.0 --api-key-env SATTVA_API_KEY",
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 {
				if o.Model != "" && o.Model != args[0] {
					return usagef("give the model once: -m %s or %s", o.Model, args[0])
				}
				o.Model = args[0]
			}
			if o.Model == "" {
				return usagef("serve needs a model: sattva serve MODEL.gguf")
			}
			o.flags = c.Flags()
			return runServe(c.Context(), s, o)
		},
	}
	f := c.Flags()
	bindModel(f, &o.Model)
	f.Lookup("model").Usage = "the GGUF model, or an export folder with a Modelfile (or give it as the first argument)"
	f.StringVarP(&o.Alias, "alias", "a", "", "the model's name in the APIs (default: the file's name without .gguf)")
	f.StringVar(&o.Host, "host", "127.0.0.1", "address to listen on")
	f.IntVar(&o.Port, "port", 8080, "port to listen on (0: any free port)")
	f.IntVar(&o.Parallel, "parallel", 4, "-np: slots, requests decoded at once")
	f.StringArrayVar(&o.LoRA, "lora", nil, "LoRA adapter GGUF, FILE or FILE:SCALE (repeatable)")
	f.StringVar(&o.APIKey, "api-key", "", "require this Bearer token (visible in ps; prefer --api-key-env)")
	f.StringVar(&o.APIKeyEnv, "api-key-env", "", "environment variable holding the Bearer token")
	f.BoolVar(&o.Insecure, "insecure", false, "allow a non-loopback --host without an API key")
	f.IntVar(&o.Queue, "queue", 0, "requests that may wait for a slot before 503 (0: 4 × slots)")
	f.Int64Var(&o.MaxBody, "max-body", 1<<20, "largest request body in bytes")
	f.IntVar(&o.MaxTokens, "n-predict-max", 0, "largest max_tokens a request may ask for (0: the slot's context size)")
	f.DurationVar(&o.DrainTimeout, "drain-timeout", 30*time.Second, "on SIGTERM, how long running requests may take to finish")
	o.engineFlags.bind(f, 4096)
	f.Lookup("ctx-size").Usage = "context size of each slot in tokens (prompt + answer)"
	o.samplingFlags.bind(f, 0)
	f.Lookup("n-predict").Usage = "tokens a request generates when it sets no max_tokens (0: until the end or the limit)"
	f.Lookup("temp").Usage = "temperature of requests that set none (0: greedy)"
	return c
}

// exportModel reads an export folder's Modelfile: the model and adapter it
// names, its SYSTEM and PARAMETERs, and the export's name.
type exportModel struct {
	Model, Adapter, Name, System string
	Params                       map[string][]string
}

func readExport(dir string) (*exportModel, error) {
	f, err := os.Open(filepath.Join(dir, "Modelfile"))
	if err != nil {
		return nil, fmt.Errorf("%s is a folder without a Modelfile: %w", dir, err)
	}
	defer f.Close()
	mf, err := parser.ParseFile(f)
	if err != nil {
		return nil, &invalidModelfile{fmt.Errorf("%s: %w", f.Name(), err)}
	}
	e := &exportModel{Params: map[string][]string{}, Name: filepath.Base(filepath.Clean(dir))}
	rel := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	for _, c := range mf.Commands {
		switch c.Name {
		case "model":
			e.Model = rel(c.Args)
		case "adapter":
			e.Adapter = rel(c.Args)
		case "system":
			e.System = c.Args
		case "template", "license", "message", "requires", "renderer", "parser":
		default:
			e.Params[c.Name] = append(e.Params[c.Name], c.Args)
		}
	}
	if e.Model == "" {
		return nil, &invalidModelfile{fmt.Errorf("%s: no FROM", f.Name())}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "manifest.json")); err == nil {
		var m struct{ Name string }
		if json.Unmarshal(b, &m) == nil && m.Name != "" {
			e.Name = m.Name
		}
	}
	return e, nil
}

type invalidModelfile struct{ error }

func (e *invalidModelfile) Unwrap() error      { return e.error }
func (e *invalidModelfile) InvalidInput() bool { return true }

// applyParams sets the sampling flags the user did not give from the
// Modelfile's PARAMETERs.
func (o *serveOptions) applyParams(p map[string][]string) error {
	num := func(name, flag string, dst *float32) error {
		v, ok := p[name]
		if !ok || o.flags.Changed(flag) {
			return nil
		}
		x, err := strconv.ParseFloat(v[len(v)-1], 32)
		if err != nil {
			return &invalidModelfile{fmt.Errorf("Modelfile PARAMETER %s %q: %w", name, v[len(v)-1], err)}
		}
		*dst = float32(x)
		return nil
	}
	integer := func(name, flag string, dst *int) error {
		v, ok := p[name]
		if !ok || o.flags.Changed(flag) {
			return nil
		}
		x, err := strconv.Atoi(v[len(v)-1])
		if err != nil {
			return &invalidModelfile{fmt.Errorf("Modelfile PARAMETER %s %q: %w", name, v[len(v)-1], err)}
		}
		*dst = x
		return nil
	}
	for _, e := range []error{
		num("temperature", "temp", &o.Temp), num("top_p", "top-p", &o.TopP), num("min_p", "min-p", &o.MinP),
		num("repeat_penalty", "repeat-penalty", &o.RepeatPenalty),
		integer("top_k", "top-k", &o.TopK), integer("repeat_last_n", "repeat-last-n", &o.RepeatLastN),
		integer("num_predict", "n-predict", &o.MaxTokens),
	} {
		if e != nil {
			return e
		}
	}
	if v, ok := p["seed"]; ok && !o.flags.Changed("seed") {
		x, err := strconv.ParseInt(v[len(v)-1], 10, 64)
		if err != nil {
			return &invalidModelfile{fmt.Errorf("Modelfile PARAMETER seed %q: %w", v[len(v)-1], err)}
		}
		o.Seed = x
	}
	if v, ok := p["stop"]; ok && !o.flags.Changed("stop") {
		o.Stop = v
	}
	if v, ok := p["num_ctx"]; ok && !o.flags.Changed("ctx-size") {
		x, err := strconv.Atoi(v[len(v)-1])
		if err != nil {
			return &invalidModelfile{fmt.Errorf("Modelfile PARAMETER num_ctx %q: %w", v[len(v)-1], err)}
		}
		o.ContextSize = x
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func runServe(ctx context.Context, s *Streams, o *serveOptions) error {
	if o.APIKeyEnv != "" {
		o.APIKey = os.Getenv(o.APIKeyEnv)
		if o.APIKey == "" {
			return usagef("--api-key-env %s: the variable is empty", o.APIKeyEnv)
		}
	}
	if !isLoopback(o.Host) && o.APIKey == "" && !o.Insecure {
		return usagef("--host %s is not a loopback address: give --api-key (or --api-key-env), or --insecure to serve without one", o.Host)
	}
	if o.Parallel < 1 || o.Parallel > 256 {
		return usagef("-np %d: want 1 to 256 slots", o.Parallel)
	}
	fa, err := llamacpp.ParseFlashAttention(o.FlashAttn)
	if err != nil {
		return usagef("-fa: %v", err)
	}
	var system string
	name := strings.TrimSuffix(filepath.Base(o.Model), ".gguf")
	if st, err := os.Stat(o.Model); err == nil && st.IsDir() {
		e, err := readExport(o.Model)
		if err != nil {
			return err
		}
		if err := o.applyParams(e.Params); err != nil {
			return err
		}
		o.Model, system, name = e.Model, e.System, e.Name
		if e.Adapter != "" && len(o.LoRA) == 0 {
			o.LoRA = []string{e.Adapter}
		}
	}
	if o.Alias != "" {
		name = o.Alias
	}
	adapters, err := parseLoRAFlags(o.LoRA)
	if err != nil {
		return err
	}
	m, err := o.load(s, o.Model, adapters)
	if err != nil {
		return err
	}
	defer m.Close()
	lc, err := m.NewContext(llamacpp.ContextOptions{ContextSize: o.ContextSize, Parallel: o.Parallel, Threads: o.Threads, FlashAttention: fa})
	if err != nil {
		return err
	}
	defer lc.Close()
	d := serve.Defaults{
		System: system, Temperature: &o.Temp, TopK: &o.TopK, TopP: &o.TopP, MinP: &o.MinP,
		RepeatPenalty: &o.RepeatPenalty, RepeatLastN: &o.RepeatLastN, Seed: &o.Seed,
		MaxTokens: o.samplingFlags.MaxTokens, Stop: o.Stop,
	}
	srv, err := serve.New(lc, serve.Options{
		ModelName: name, MaxQueue: o.Queue, MaxBodyBytes: o.MaxBody, MaxTokens: o.MaxTokens,
		APIKey: o.APIKey, Defaults: d, Version: Version, Logger: o.logger(s.ErrOut),
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(o.Host, strconv.Itoa(o.Port)))
	if err != nil {
		srv.Close()
		return err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 64 << 10}
	dev := m.Device()
	fmt.Fprintf(s.ErrOut, "sattva: serving %s as %q on http://%s (%d slots × %d tokens, %s %s)\n",
		o.Model, name, ln.Addr(), lc.Parallel(), lc.ContextSize(), dev.Name, dev.Description)
	if o.ready != nil {
		o.ready(ln.Addr().String())
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		srv.Close()
		return err
	case <-ctx.Done():
	}
	fmt.Fprintf(s.ErrOut, "sattva: stopping: running requests have %v to finish\n", o.DrainTimeout)
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.DrainTimeout)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- hs.Shutdown(dctx) }() // stop accepting; idle connections close
	cut := srv.Shutdown(dctx)
	// The generations have ended; let their handlers write their last bytes.
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
	}
	hs.Close()
	if errors.Is(cut, context.DeadlineExceeded) {
		fmt.Fprintln(s.ErrOut, "sattva: requests still running at the deadline were cut")
	}
	fmt.Fprintln(s.ErrOut, "sattva: stopped")
	return &silentError{code: ExitOK} // a requested stop is a clean exit
}
