package evalrun

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// MaxResponseBytes bounds a server's response body the HTTP runners read.
const MaxResponseBytes = 16 << 20

// HTTPError is a server's non-2xx answer.
type HTTPError struct {
	URL    string
	Status int
	Body   string // the start of the body
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("%s: HTTP %d: %s", e.URL, e.Status, e.Body)
}

func postJSON(ctx context.Context, c *http.Client, url string, header http.Header, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return err
	}
	if len(data) > MaxResponseBytes {
		return fmt.Errorf("%s: response larger than %d bytes", url, MaxResponseBytes)
	}
	if resp.StatusCode/100 != 2 {
		return &HTTPError{URL: url, Status: resp.StatusCode, Body: truncate(strings.TrimSpace(string(data)), 300)}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s: bad JSON response: %w", url, err)
	}
	return nil
}

// runConcurrent answers reqs with at most n in flight, calling one for each.
func runConcurrent(ctx context.Context, reqs []GenRequest, n int, one func(ctx context.Context, r GenRequest) GenResult, onDone func(int, GenResult)) error {
	if n < 1 {
		n = 1
	}
	start := time.Now()
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
loop:
	for i := range reqs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break loop
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			r := one(ctx, reqs[i])
			if ctx.Err() != nil && r.Err != nil {
				return // interrupted: not an answer
			}
			r.Duration = time.Since(start)
			onDone(i, r)
		}(i)
	}
	wg.Wait()
	return ctx.Err()
}

// --- Ollama ---

// OllamaRunner asks an Ollama server (/api/chat, or /api/generate with raw
// prompts when the chat template is off).
type OllamaRunner struct {
	BaseURL     string // e.g. http://127.0.0.1:11434
	Model       string // the model's name in Ollama
	Concurrency int    // requests in flight; 0: 1 (Ollama queues the rest anyway)
	NumCtx      int    // options.num_ctx; 0: Ollama's default
	NumThread   int    // options.num_thread; 0: Ollama's default
	Client      *http.Client
}

var _ Generator = (*OllamaRunner)(nil)
var _ Describer = (*OllamaRunner)(nil)

func (o *OllamaRunner) Name() string { return "ollama:" + o.Model }

func (o *OllamaRunner) Info() GeneratorInfo {
	return GeneratorInfo{Runner: "ollama", Model: o.Model, Endpoint: o.BaseURL, Parallel: max(1, o.Concurrency)}
}

type ollamaOptions struct {
	Temperature   float64  `json:"temperature"`
	Seed          int64    `json:"seed"`
	NumPredict    int      `json:"num_predict,omitempty"`
	TopK          int      `json:"top_k,omitempty"`
	TopP          float64  `json:"top_p,omitempty"`
	MinP          float64  `json:"min_p,omitempty"`
	RepeatPenalty float64  `json:"repeat_penalty,omitempty"`
	Stop          []string `json:"stop,omitempty"`
	NumCtx        int      `json:"num_ctx,omitempty"`
	NumThread     int      `json:"num_thread,omitempty"`
}

type ollamaChatRequest struct {
	Model    string        `json:"model"`
	Messages []Message     `json:"messages,omitempty"`
	Prompt   string        `json:"prompt,omitempty"`
	Raw      bool          `json:"raw,omitempty"`
	Stream   bool          `json:"stream"`
	Options  ollamaOptions `json:"options"`
}

type ollamaResponse struct {
	Message *struct {
		Content string `json:"content"`
	} `json:"message"`
	Response        string `json:"response"`
	Done            bool   `json:"done"`
	DoneReason      string `json:"done_reason"`
	PromptEvalCount int    `json:"prompt_eval_count"`
	EvalCount       int    `json:"eval_count"`
	Error           string `json:"error"`
}

func (o *OllamaRunner) client() *http.Client {
	if o.Client != nil {
		return o.Client
	}
	return http.DefaultClient
}

// Generate implements Generator.
func (o *OllamaRunner) Generate(ctx context.Context, reqs []GenRequest, onDone func(int, GenResult)) error {
	return runConcurrent(ctx, reqs, o.Concurrency, o.one, onDone)
}

func (o *OllamaRunner) one(ctx context.Context, r GenRequest) GenResult {
	base := strings.TrimRight(o.BaseURL, "/")
	in := ollamaChatRequest{Model: o.Model, Options: ollamaOptions{
		Temperature: r.Sampling.Temperature, Seed: int64(r.Sampling.Seed), NumPredict: r.MaxTokens,
		TopK: r.Sampling.TopK, TopP: r.Sampling.TopP, MinP: r.Sampling.MinP, RepeatPenalty: r.Sampling.RepeatPenalty,
		Stop: r.Stop, NumCtx: o.NumCtx, NumThread: o.NumThread,
	}}
	url := base + "/api/chat"
	if r.ChatTemplate {
		in.Messages = r.Messages
	} else {
		url = base + "/api/generate"
		in.Prompt = RawPrompt(r.Messages)
		in.Raw = true
	}
	var out ollamaResponse
	if err := postJSON(ctx, o.client(), url, nil, in, &out); err != nil {
		return GenResult{Err: err}
	}
	if out.Error != "" {
		return GenResult{Err: errors.New("ollama: " + out.Error)}
	}
	text := out.Response
	if out.Message != nil {
		text = out.Message.Content
	}
	reason := out.DoneReason
	if reason == "stop" {
		reason = "eog" // Ollama says "stop" for both EOS and stop strings
	} else if reason == "length" {
		reason = "max_tokens"
	}
	return GenResult{Text: text, PromptTokens: out.PromptEvalCount, Tokens: out.EvalCount, StopReason: reason}
}

// --- OpenAI-compatible ---

// OpenAIRunner asks an OpenAI-compatible server (llama-server, vLLM,
// sattva serve, …): /v1/chat/completions, or /v1/completions with raw
// prompts when the chat template is off. With several BaseURLs (servers of
// the same model) the cases are spread over them, Concurrency in flight on
// each; a case that fails with a 5xx or 429, a timeout or a connection error
// is tried again (on another server when there is one) up to Retries times.
// Each answer records the server that gave it (GenResult.Host).
type OpenAIRunner struct {
	BaseURL     string   // up to and without /v1, e.g. http://127.0.0.1:8080
	BaseURLs    []string // several servers; when set, BaseURL is not used
	Model       string
	APIKey      string // sent as a Bearer token when not empty
	Concurrency int    // requests in flight per server; 0: 1
	// Retries is how many more times a case is tried after a 5xx, 429,
	// timeout or connection error (0: none).
	Retries int
	// Timeout bounds one request (0: none).
	Timeout time.Duration
	Client  *http.Client
}

var _ Generator = (*OpenAIRunner)(nil)
var _ Describer = (*OpenAIRunner)(nil)

func (o *OpenAIRunner) Name() string { return "openai:" + o.Model }

func (o *OpenAIRunner) hosts() []string {
	if len(o.BaseURLs) > 0 {
		return o.BaseURLs
	}
	return []string{o.BaseURL}
}

func (o *OpenAIRunner) Info() GeneratorInfo {
	h := o.hosts()
	return GeneratorInfo{Runner: "openai", Model: o.Model, Endpoint: strings.Join(h, ","), Parallel: max(1, o.Concurrency) * len(h)}
}

type openAIRequest struct {
	Model         string    `json:"model"`
	Messages      []Message `json:"messages,omitempty"`
	Prompt        string    `json:"prompt,omitempty"`
	MaxTokens     int       `json:"max_tokens,omitempty"`
	Temperature   float64   `json:"temperature"`
	TopP          float64   `json:"top_p,omitempty"`
	Seed          int64     `json:"seed"`
	Stop          []string  `json:"stop,omitempty"`
	TopK          int       `json:"top_k,omitempty"`          // llama-server, vLLM extension
	MinP          float64   `json:"min_p,omitempty"`          // llama-server, vLLM extension
	RepeatPenalty float64   `json:"repeat_penalty,omitempty"` // llama-server extension
	IgnoreEOS     bool      `json:"ignore_eos,omitempty"`     // llama-server, vLLM extension
}

type openAIResponse struct {
	Choices []struct {
		Message *struct {
			Content string `json:"content"`
		} `json:"message"`
		Text         string `json:"text"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
}

// Generate implements Generator.
func (o *OpenAIRunner) Generate(ctx context.Context, reqs []GenRequest, onDone func(int, GenResult)) error {
	return runPool(ctx, reqs, o.hosts(), max(1, o.Concurrency), o.Retries, func(ctx context.Context, host string, r GenRequest) GenResult {
		if o.Timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, o.Timeout)
			defer cancel()
		}
		res := o.one(ctx, host, r)
		res.Host = host
		return res
	}, onDone)
}

// retryable reports whether a failed request may succeed on another try:
// a 5xx or 429 answer, a timeout, a refused or broken connection.
func retryable(err error) bool {
	var he *HTTPError
	if errors.As(err, &he) {
		return he.Status >= 500 || he.Status == http.StatusTooManyRequests
	}
	return err != nil
}

// runPool answers reqs over hosts, per host n requests in flight. A failed
// request that is retryable goes back to the queue (at most retries times),
// preferring a host other than the one that failed it.
func runPool(ctx context.Context, reqs []GenRequest, hosts []string, n, retries int, one func(ctx context.Context, host string, r GenRequest) GenResult, onDone func(int, GenResult)) error {
	type item struct {
		i, tries, skips int
		last            string // host of the last failure
	}
	queue := make(chan item, len(reqs))
	for i := range reqs {
		queue <- item{i: i}
	}
	start := time.Now()
	var left sync.WaitGroup
	left.Add(len(reqs))
	all := make(chan struct{})
	go func() { left.Wait(); close(all) }()
	var wg sync.WaitGroup
	for _, h := range hosts {
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					var it item
					select {
					case it = <-queue:
					case <-all:
						return
					case <-ctx.Done():
						return
					}
					if it.last == h && len(hosts) > 1 && it.skips < 3 {
						// Give another host the first chance at a retry (the
						// queue holds at most len(reqs) items: this never blocks).
						it.skips++
						queue <- it
						select {
						case <-time.After(20 * time.Millisecond):
						case <-ctx.Done():
							return
						}
						continue
					}
					r := one(ctx, h, reqs[it.i])
					if ctx.Err() != nil && r.Err != nil {
						left.Done()
						continue // interrupted: not an answer
					}
					if r.Err != nil && retryable(r.Err) && it.tries < retries {
						it.tries++
						it.last, it.skips = h, 0
						select {
						case <-time.After(time.Duration(it.tries) * 200 * time.Millisecond):
						case <-ctx.Done():
						}
						queue <- it
						continue
					}
					r.Attempts = it.tries + 1
					r.Duration = time.Since(start)
					onDone(it.i, r)
					left.Done()
				}
			}()
		}
	}
	wg.Wait()
	return ctx.Err()
}

func (o *OpenAIRunner) one(ctx context.Context, host string, r GenRequest) GenResult {
	base := strings.TrimSuffix(strings.TrimRight(host, "/"), "/v1")
	in := openAIRequest{Model: o.Model, MaxTokens: r.MaxTokens, Temperature: r.Sampling.Temperature, TopP: r.Sampling.TopP,
		Seed: int64(r.Sampling.Seed), Stop: r.Stop, TopK: r.Sampling.TopK, MinP: r.Sampling.MinP, RepeatPenalty: r.Sampling.RepeatPenalty, IgnoreEOS: r.IgnoreEOS}
	url := base + "/v1/chat/completions"
	if r.ChatTemplate {
		in.Messages = r.Messages
	} else {
		url = base + "/v1/completions"
		in.Prompt = RawPrompt(r.Messages)
	}
	h := http.Header{}
	if o.APIKey != "" {
		h.Set("Authorization", "Bearer "+o.APIKey)
	}
	c := o.Client
	if c == nil {
		c = http.DefaultClient
	}
	var out openAIResponse
	if err := postJSON(ctx, c, url, h, in, &out); err != nil {
		return GenResult{Err: err}
	}
	if len(out.Choices) == 0 {
		return GenResult{Err: fmt.Errorf("%s: no choices in the response", url)}
	}
	ch := out.Choices[0]
	text := ch.Text
	if ch.Message != nil {
		text = ch.Message.Content
	}
	reason := ch.FinishReason
	switch reason {
	case "stop":
		reason = "eog"
	case "length":
		reason = "max_tokens"
	}
	return GenResult{Text: text, PromptTokens: out.Usage.PromptTokens, Tokens: out.Usage.CompletionTokens, StopReason: reason}
}
