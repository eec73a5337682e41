package evalrun

import (
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

// Runner is a Generator that holds resources (a loaded model, connections)
// until Close. Close is idempotent.
type Runner interface {
	Generator
	Close() error
}

// Runner kinds NewRunner knows.
const (
	RunnerLlamaCpp = "llamacpp" // the GGUF in this process (RunnerOptions.Local)
	RunnerOllama   = "ollama"   // an Ollama server's /api/chat
	RunnerOpenAI   = "openai"   // an OpenAI-compatible server's /v1/chat/completions
)

// RunnerKinds lists the kinds NewRunner accepts, the default first.
func RunnerKinds() []string { return []string{RunnerLlamaCpp, RunnerOllama, RunnerOpenAI} }

// MaxParallel caps the in-process runner's default number of sequences.
const MaxParallel = 64

// Adapter is a LoRA adapter GGUF applied to the model at load, with its scale.
type Adapter struct {
	Path  string
	Scale float32
}

// RunnerOptions configure NewRunner. Fields a kind does not use are ignored.
type RunnerOptions struct {
	Model    string    // GGUF path (llamacpp) or the served model's name
	Adapters []Adapter // llamacpp only
	// Parallel is how many cases are answered at once: sequences of one
	// context for llamacpp (0: all, up to MaxParallel), requests in flight
	// for the HTTP runners (0: 1).
	Parallel int
	// Host is the server: for ollama an OLLAMA_HOST value ("" reads
	// $OLLAMA_HOST, then 127.0.0.1:11434; see OllamaURL), for openai a URL or
	// host:port without /v1 ("": http://127.0.0.1:8080).
	Host string
	// Hosts, for openai, are several servers of the same model to spread
	// the cases over (Parallel in flight on each); when set, Host is not
	// used. ollama takes at most one.
	Hosts   []string
	Retries int           // openai: tries again after a 5xx, 429, timeout or connection error
	Timeout time.Duration // openai: bounds one request (0: none)
	APIKey  string        // openai: sent as a Bearer token when not empty

	// The in-process runner's settings (llamarun.Options).
	ContextSize int    // per sequence; 0: the longest prompt plus its max tokens
	Threads     int    // 0: llama.cpp's choice
	GPULayers   int    // 0 or -1: all when a GPU is present
	CPUOnly     bool   // no GPU even when one is present
	BackendDir  string // ggml backend plugins; "": $SATTVA_BACKEND_DIR or beside the executable
	FlashAttn   string // llama.cpp's -fa: auto (""), on or off
	Logger      *slog.Logger
	// Progress, when set, is called with the tokens generated so far and
	// the most the batch can generate.
	Progress func(done, total int64)

	// Local makes the in-process runner. Package evalrun does not link the
	// engine: the command line passes llamarun's constructor; nil refuses
	// the llamacpp kind.
	Local func(RunnerOptions) (Runner, error)
}

// NewRunner makes the runner of the given kind (RunnerKinds). The caller
// closes it.
func NewRunner(kind string, o RunnerOptions) (Runner, error) {
	switch kind {
	case RunnerLlamaCpp:
		if o.Local == nil {
			return nil, fmt.Errorf("evalrun: the %s runner needs RunnerOptions.Local (this program has no engine)", kind)
		}
		return o.Local(o)
	case RunnerOllama:
		if len(o.Hosts) > 1 {
			return nil, fmt.Errorf("evalrun: the %s runner takes one host, not %d", kind, len(o.Hosts))
		}
		host := o.Host
		if len(o.Hosts) == 1 {
			host = o.Hosts[0]
		}
		if host == "" {
			host = os.Getenv("OLLAMA_HOST")
		}
		u, err := OllamaURL(host)
		if err != nil {
			return nil, err
		}
		return &OllamaRunner{BaseURL: u.String(), Model: o.Model, Concurrency: o.Parallel}, nil
	case RunnerOpenAI:
		hosts := []string{serverURL(o.Host, "http://127.0.0.1:8080")}
		if len(o.Hosts) > 0 {
			hosts = hosts[:0]
			for _, h := range o.Hosts {
				hosts = append(hosts, serverURL(h, "http://127.0.0.1:8080"))
			}
		}
		return &OpenAIRunner{BaseURLs: hosts, Model: o.Model, APIKey: o.APIKey, Concurrency: o.Parallel, Retries: o.Retries, Timeout: o.Timeout}, nil
	}
	return nil, fmt.Errorf("evalrun: unknown runner %q (want %s)", kind, strings.Join(RunnerKinds(), ", "))
}

// Close implements Runner; an HTTP runner holds nothing to free.
func (o *OllamaRunner) Close() error { return nil }

// Close implements Runner; an HTTP runner holds nothing to free.
func (o *OpenAIRunner) Close() error { return nil }

// serverURL turns "host:port" or "" into a URL without a trailing slash.
func serverURL(h, def string) string {
	if h == "" {
		return def
	}
	if !strings.Contains(h, "://") {
		h = "http://" + h
	}
	return strings.TrimRight(h, "/")
}

// OllamaURL turns an OLLAMA_HOST value into the base URL Ollama's client
// uses: scheme http, host 127.0.0.1 for an empty or 0.0.0.0 host, port 11434
// when none is given.
func OllamaURL(host string) (*url.URL, error) {
	host = strings.TrimSpace(host)
	scheme := "http"
	if s, rest, ok := strings.Cut(host, "://"); ok {
		scheme, host = s, rest
	}
	host, path, _ := strings.Cut(host, "/")
	h, port, err := net.SplitHostPort(host)
	if err != nil {
		h, port = host, "11434"
		if scheme == "https" {
			port = "443"
		}
	}
	if h == "" || h == "0.0.0.0" || h == "::" || h == "[::]" {
		h = "127.0.0.1"
	}
	u := &url.URL{Scheme: scheme, Host: net.JoinHostPort(strings.Trim(h, "[]"), port)}
	if path != "" {
		u.Path = "/" + strings.TrimSuffix(path, "/")
	}
	if scheme != "http" && scheme != "https" {
		return nil, fmt.Errorf("OLLAMA_HOST %q: scheme must be http or https", host)
	}
	return u, nil
}
