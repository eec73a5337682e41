// Package serve answers OpenAI- and Ollama-compatible HTTP APIs from one
// GGUF model run by llama.cpp (package llamacpp), with continuous batching:
// a Server owns one llama.cpp Context of N sequences (slots); a request
// waits in a bounded queue for a free slot and starts decoding at the next
// step, beside the slots already generating; a slot keeps the KV cells of
// its last prompt, so a request that shares a prefix with it (a system
// prompt, an earlier turn) decodes only the rest; a request whose client
// goes away frees its slot at the next step.
//
// Endpoints: POST /v1/chat/completions, POST /v1/completions, GET
// /v1/models (OpenAI); POST /api/chat, POST /api/generate, GET /api/tags,
// GET /api/version (Ollama); GET /health; GET /metrics (Prometheus text).
//
// A Server is an http.Handler a Go program can mount; it does not listen.
// Shutdown refuses new requests, lets those in flight finish until its
// context is done, then cuts them.
package serve

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sattva/sattva/llamacpp"
)

// Defaults are the sampling settings a request gets for what it leaves
// unset: the server's flags, or an export folder's Modelfile. A nil pointer
// is llama.cpp's default.
type Defaults struct {
	System        string // Ollama: the system prompt when a request has none
	Temperature   *float32
	TopK          *int
	TopP          *float32
	MinP          *float32
	RepeatPenalty *float32
	RepeatLastN   *int
	Seed          *int64 // nil or < 0: a random seed per request
	MaxTokens     int    // 0: until end of generation or the limit
	Stop          []string
}

// Options configure a Server.
type Options struct {
	// ModelName is the name clients use ("sattva-q4_k_m"); requests for
	// any other name get 404. Ollama clients may add ":latest".
	ModelName string
	// MaxQueue is how many requests may wait for a slot; more get 503 with
	// Retry-After. 0: 4 × the slots.
	MaxQueue int
	// MaxBodyBytes bounds a request body (413 beyond). 0: 1 MiB.
	MaxBodyBytes int64
	// MaxPromptTokens bounds a prompt (400 beyond). 0: the context size
	// of a sequence less one.
	MaxPromptTokens int
	// MaxTokens bounds max_tokens / num_predict (400 beyond), and is the
	// limit of a request that sets none. 0: the context size of a sequence.
	MaxTokens int
	// APIKey, when set, is required as "Authorization: Bearer KEY" on every
	// endpoint but /health.
	APIKey string
	// RetryAfter is the Retry-After of a 503. 0: 1 s.
	RetryAfter time.Duration
	Defaults   Defaults
	// Version is what /api/version reports.
	Version string
	Logger  *slog.Logger
}

// Server is the http.Handler. It owns the slots of the Context given to New
// (not the Context itself).
type Server struct {
	o       Options
	model   *llamacpp.Model
	nCtx    int
	nSlots  int
	sched   *scheduler
	metrics *metrics
	mux     *http.ServeMux
	log     *slog.Logger
	created time.Time

	stopLoop context.CancelFunc
	inflight sync.WaitGroup
	mu       sync.Mutex
	closing  bool
}

var _ http.Handler = (*Server)(nil)

// New makes a Server over lc: it takes lc's sequences as slots (lc must not
// be used otherwise until Shutdown or Close) and starts the scheduler.
func New(lc *llamacpp.Context, o Options) (*Server, error) {
	slots, err := lc.NewSlots()
	if err != nil {
		return nil, err
	}
	nctx := lc.ContextSize()
	if o.ModelName == "" {
		slots.Close()
		return nil, errors.New("serve: Options.ModelName is empty")
	}
	if o.MaxQueue <= 0 {
		o.MaxQueue = 4 * slots.Len()
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 1 << 20
	}
	if o.MaxPromptTokens <= 0 || o.MaxPromptTokens >= nctx {
		o.MaxPromptTokens = nctx - 1
	}
	if o.MaxTokens <= 0 {
		o.MaxTokens = nctx
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{o: o, model: lc.Model(), nCtx: nctx, nSlots: slots.Len(), log: o.Logger, created: time.Now()}
	s.metrics = newMetrics()
	s.sched = newScheduler(slots, o.MaxQueue, s.metrics)
	ctx, cancel := context.WithCancel(context.Background())
	s.stopLoop = cancel
	go s.sched.run(ctx)
	s.routes()
	return s, nil
}

// Slots is the number of requests decoded at once.
func (s *Server) Slots() int { return s.nSlots }

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("POST /v1/chat/completions", s.chatCompletions)
	m.HandleFunc("POST /v1/completions", s.completions)
	m.HandleFunc("GET /v1/models", s.models)
	m.HandleFunc("POST /api/chat", s.ollamaChat)
	m.HandleFunc("POST /api/generate", s.ollamaGenerate)
	m.HandleFunc("GET /api/tags", s.ollamaTags)
	m.HandleFunc("GET /api/version", s.ollamaVersion)
	m.HandleFunc("GET /health", s.health)
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "sattva is running") })
	m.Handle("GET /metrics", s.metrics.handler())
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, http.StatusNotFound, "not_found_error", "", fmt.Sprintf("no endpoint %s %s", r.Method, r.URL.Path))
	})
	s.mux = m
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
	start := time.Now()
	defer func() {
		s.metrics.requests.WithLabelValues(endpointLabel(r.URL.Path), fmt.Sprint(rec.code)).Inc()
		s.metrics.duration.WithLabelValues(endpointLabel(r.URL.Path)).Observe(time.Since(start).Seconds())
	}()
	if s.o.APIKey != "" && r.URL.Path != "/health" && !s.authorized(r) {
		rec.Header().Set("WWW-Authenticate", `Bearer realm="sattva"`)
		writeError(rec, r, http.StatusUnauthorized, "authentication_error", "invalid_api_key", "missing or wrong API key (Authorization: Bearer KEY)")
		return
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(rec, r.Body, s.o.MaxBodyBytes)
	}
	s.mux.ServeHTTP(rec, r)
}

func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(s.o.APIKey)) == 1
}

func endpointLabel(p string) string {
	switch p {
	case "/v1/chat/completions", "/v1/completions", "/v1/models", "/api/chat", "/api/generate", "/api/tags", "/api/version", "/health", "/metrics":
		return p
	}
	return "other"
}

// statusRecorder remembers the status code; Unwrap lets
// http.ResponseController reach Flush.
type statusRecorder struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.code, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if closing {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "shutting down"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "slots": s.nSlots, "queue": s.sched.pending()})
}

// Shutdown refuses new requests (503), lets those in flight finish until
// ctx is done, then cuts the rest (their clients see an error or a cut
// stream) and stops the scheduler, which gives the Context back. It
// returns ctx's error when it had to cut.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.sched.drain()
	done := make(chan struct{})
	go func() {
		s.inflight.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.stopLoop()
	<-s.sched.stopped
	if err != nil {
		<-done // the cut requests return promptly
	}
	return err
}

// Close cuts every request now and stops the scheduler.
func (s *Server) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.Shutdown(ctx)
	return nil
}

// --- generation shared by both APIs ---

// genParams is one request's generation settings after defaults.
type genParams struct {
	prompt    []int32
	maxTokens int
	stop      []string
	ignoreEOS bool
	slot      llamacpp.SlotOptions
}

// genResult is a finished generation.
type genResult struct {
	text         string
	tokens       []llamacpp.SlotToken // with logprobs when asked for them
	promptTokens int
	reused       int
	genTokens    int
	reason       string // llamacpp.StopEOG, StopMaxTokens, StopString, StopContextFull
	ttft, total  time.Duration
	promptDur    time.Duration // from slot start to the first token
}

// requestError is an error with its HTTP status, OpenAI type and code.
type requestError struct {
	status     int
	typ, code  string
	msg        string
	retryAfter bool
}

func (e *requestError) Error() string { return e.msg }

func badRequest(format string, args ...any) *requestError {
	return &requestError{status: http.StatusBadRequest, typ: "invalid_request_error", msg: fmt.Sprintf(format, args...)}
}

// asRequestError maps an error of generate to its HTTP answer.
func (s *Server) asRequestError(err error) *requestError {
	var re *requestError
	switch {
	case errors.As(err, &re):
		return re
	case errors.Is(err, ErrQueueFull):
		return &requestError{status: http.StatusServiceUnavailable, typ: "unavailable_error", code: "queue_full", msg: fmt.Sprintf("all %d slots are busy and %d requests wait: try again later", s.nSlots, s.o.MaxQueue), retryAfter: true}
	case errors.Is(err, ErrShuttingDown):
		return &requestError{status: http.StatusServiceUnavailable, typ: "unavailable_error", code: "shutting_down", msg: err.Error(), retryAfter: true}
	case errors.Is(err, llamacpp.ErrGrammar):
		return &requestError{status: http.StatusBadRequest, typ: "invalid_request_error", code: "invalid_grammar", msg: err.Error()}
	case errors.Is(err, llamacpp.ErrContextFull):
		return &requestError{status: http.StatusBadRequest, typ: "invalid_request_error", code: "context_length_exceeded", msg: err.Error()}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return &requestError{status: 499, typ: "cancelled", msg: "request cancelled"}
	default:
		return &requestError{status: http.StatusInternalServerError, typ: "server_error", msg: err.Error()}
	}
}

// checkPrompt bounds the prompt and the tokens asked for.
func (s *Server) checkPrompt(p *genParams) error {
	if len(p.prompt) == 0 {
		return badRequest("the prompt is empty")
	}
	if len(p.prompt) > s.o.MaxPromptTokens {
		return &requestError{status: http.StatusBadRequest, typ: "invalid_request_error", code: "context_length_exceeded",
			msg: fmt.Sprintf("the prompt has %d tokens; this server takes at most %d", len(p.prompt), s.o.MaxPromptTokens)}
	}
	if p.maxTokens < 0 {
		return badRequest("max_tokens %d is negative", p.maxTokens)
	}
	if p.maxTokens > s.o.MaxTokens {
		return badRequest("max_tokens %d is more than this server's limit of %d", p.maxTokens, s.o.MaxTokens)
	}
	if p.maxTokens == 0 {
		p.maxTokens = s.o.MaxTokens
		if s.o.Defaults.MaxTokens > 0 {
			p.maxTokens = min(s.o.Defaults.MaxTokens, s.o.MaxTokens)
		}
	}
	if len(p.stop) > 16 {
		return badRequest("at most 16 stop strings")
	}
	for _, x := range p.stop {
		if len(x) > 256 {
			return badRequest("a stop string is longer than 256 bytes")
		}
	}
	return nil
}

// generate runs p through the scheduler. onText, when not nil, gets the
// text as it becomes final (stop strings held back) and the tokens it came
// from; flush, when not nil, is called after the texts of each batch of
// events the scheduler delivered (one token each while the handler keeps
// up, several when it fell behind: then they go out in one write). An error
// from either (the client went away) ends the generation.
func (s *Server) generate(ctx context.Context, p genParams, onText func(text string, toks []llamacpp.SlotToken) error, flush func() error) (genResult, error) {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return genResult{}, ErrShuttingDown
	}
	s.inflight.Add(1)
	s.mu.Unlock()
	defer s.inflight.Done()
	if err := s.checkPrompt(&p); err != nil {
		return genResult{}, err
	}
	arrived := time.Now()
	jctx, cancel := context.WithCancel(ctx)
	j := &job{ctx: jctx, cancel: cancel, prompt: p.prompt, opts: p.slot, maxTokens: p.maxTokens, ignoreEOS: p.ignoreEOS, notify: make(chan struct{}, 1)}
	if err := s.sched.submit(j); err != nil {
		cancel()
		if errors.Is(err, ErrQueueFull) {
			s.metrics.rejected.Inc()
		}
		return genResult{}, err
	}
	defer s.sched.withdraw(j)
	res := genResult{promptTokens: len(p.prompt)}
	sb := newStopBuf(p.stop)
	var text strings.Builder
	var started time.Time
	var pendingToks []llamacpp.SlotToken
	keepToks := p.slot.Logprobs > 0
	wrote := false // onText was called since the last flush
	emit := func(t string, final bool) error {
		if t == "" && !final {
			return nil
		}
		text.WriteString(t)
		toks := pendingToks
		pendingToks = nil
		if onText != nil && (t != "" || len(toks) > 0) {
			wrote = true
			return onText(t, toks)
		}
		return nil
	}
	for {
		select {
		case <-j.notify:
		case <-ctx.Done():
			return res, ctx.Err()
		}
		for _, e := range j.take() {
			if !e.started.IsZero() {
				started = e.started
				res.reused = e.reused
				continue
			}
			if e.done {
				if e.err != nil {
					return res, e.err
				}
				res.reason = e.reason
				if err := emit(sb.flush(), true); err != nil {
					return res, err
				}
				return s.finished(res, text.String(), arrived, started), nil
			}
			res.genTokens++
			if res.genTokens == 1 {
				res.ttft = time.Since(arrived)
				res.promptDur = time.Since(started)
				s.metrics.ttft.Observe(res.ttft.Seconds())
			}
			if keepToks {
				res.tokens = append(res.tokens, e.tok)
				pendingToks = append(pendingToks, e.tok)
			}
			out, stopped := sb.add(e.tok.Text)
			if stopped {
				res.reason = llamacpp.StopString
				if err := emit(out, true); err != nil {
					return res, err
				}
				return s.finished(res, text.String(), arrived, started), nil
			}
			if err := emit(out, false); err != nil {
				return res, err
			}
		}
		if wrote && flush != nil {
			wrote = false
			if err := flush(); err != nil {
				return res, err
			}
		}
	}
}

func (s *Server) finished(res genResult, text string, arrived, started time.Time) genResult {
	res.text = text
	res.total = time.Since(arrived)
	if res.genTokens > 1 {
		if d := res.total - res.ttft; d > 0 {
			s.metrics.tokPerSec.Observe(float64(res.genTokens-1) / d.Seconds())
		}
	}
	return res
}

// stopBuf holds back text that may begin a stop string, and an incomplete
// UTF-8 sequence at the end (a character split over tokens).
type stopBuf struct {
	stops []string
	held  string
}

func newStopBuf(stops []string) *stopBuf {
	b := &stopBuf{}
	for _, x := range stops {
		if x != "" {
			b.stops = append(b.stops, x)
		}
	}
	return b
}

// add takes a piece and returns the text that is now final; stopped is true
// when a stop string appeared (the text is cut before it).
func (b *stopBuf) add(piece string) (out string, stopped bool) {
	t := b.held + piece
	best := -1
	for _, x := range b.stops {
		if k := strings.Index(t, x); k >= 0 && (best < 0 || k < best) {
			best = k
		}
	}
	if best >= 0 {
		b.held = ""
		return t[:best], true
	}
	keep := 0
	for _, x := range b.stops {
		for n := min(len(x)-1, len(t)); n > keep; n-- {
			if strings.HasSuffix(t, x[:n]) {
				keep = n
				break
			}
		}
	}
	keep = max(keep, incompleteTail(t))
	b.held = t[len(t)-keep:]
	return t[:len(t)-keep], false
}

func (b *stopBuf) flush() string {
	t := b.held
	b.held = ""
	return t
}

// incompleteTail is the length of a UTF-8 sequence cut short at the end of s.
func incompleteTail(s string) int {
	for n := 1; n <= 3 && n <= len(s); n++ {
		c := s[len(s)-n]
		if c < 0x80 {
			return 0
		}
		if c >= 0xC0 { // a lead byte
			if !utf8.FullRuneInString(s[len(s)-n:]) {
				return n
			}
			return 0
		}
	}
	return 0
}

// newID is a random request id with a prefix ("chatcmpl-…").
func newID(prefix string) string {
	var b [12]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}
