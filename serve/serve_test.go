//go:build cgo

package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/sattva/sattva/convert"
	"github.com/sattva/sattva/internal/fixture"
	"github.com/sattva/sattva/llamacpp"
)

const storiesGGUF = "stories260K/ref/stories260K-f32.ref.gguf"

var testLog = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

func loadModel(t testing.TB, path string) *llamacpp.Model {
	t.Helper()
	if _, err := llamacpp.InitBackends("", testLog); err != nil {
		t.Fatal(err)
	}
	m, err := llamacpp.Load(path, llamacpp.ModelOptions{Logger: testLog, CPUOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// startServer serves m with n slots behind an httptest server.
func startServer(t testing.TB, m *llamacpp.Model, n int, o Options) (*Server, *httptest.Server) {
	t.Helper()
	lc, err := m.NewContext(llamacpp.ContextOptions{ContextSize: 512, Parallel: n, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	if o.ModelName == "" {
		o.ModelName = "stories"
	}
	o.Logger = testLog
	s, err := New(lc, o)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		hs.Close()
		s.Close()
		lc.Close()
	})
	return s, hs
}

// httptestServer serves s until the test ends and returns its URL.
func httptestServer(t testing.TB, s *Server) string {
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return hs.URL
}

// libraryGreedy is what `sattva run` does for a prompt text: tokenize with
// BOS and special tokens, generate greedily in a fresh context.
func libraryGreedy(t testing.TB, m *llamacpp.Model, text string, maxTokens int) string {
	t.Helper()
	toks, err := m.Tokenize(text, true, true)
	if err != nil {
		t.Fatal(err)
	}
	if bos := m.BOS(); len(toks) > 1 && toks[0] == bos && toks[1] == bos {
		toks = toks[1:]
	}
	lc, err := m.NewContext(llamacpp.ContextOptions{ContextSize: 512, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	var sb strings.Builder
	for tok, err := range lc.Generate(context.Background(), toks, llamacpp.GenerateOptions{MaxTokens: maxTokens}) {
		if err != nil {
			t.Fatal(err)
		}
		sb.WriteString(tok.Text)
	}
	return sb.String()
}

func openaiClient(hs *httptest.Server, opts ...option.RequestOption) openai.Client {
	return openai.NewClient(append([]option.RequestOption{option.WithBaseURL(hs.URL + "/v1"), option.WithAPIKey("unused"), option.WithMaxRetries(0)}, opts...)...)
}

func TestOpenAIChatAndCompletions(t *testing.T) {
	m := loadModel(t, fixture.Path(t, storiesGGUF))
	_, hs := startServer(t, m, 4, Options{})
	c := openaiClient(hs)
	ctx := context.Background()
	prompts := []string{"Once upon a time", "Lily and Tom went to the park", "The cat"}
	for _, p := range prompts {
		want := libraryGreedy(t, m, p, 48)
		// chat (stories260K has no chat template: the contents are the prompt)
		cc, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
			Model:     "stories",
			Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage(p)},
			MaxTokens: openai.Int(48), Temperature: openai.Float(0),
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := cc.Choices[0].Message.Content; got != want {
			t.Errorf("chat %q:\n got %q\nwant %q (library)", p, got, want)
		}
		if cc.Usage.CompletionTokens != 48 || cc.Choices[0].FinishReason != "length" {
			t.Errorf("usage %+v finish %q, want 48 tokens, length", cc.Usage, cc.Choices[0].FinishReason)
		}
		// streaming chat
		st := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
			Model:     "stories",
			Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage(p)},
			MaxTokens: openai.Int(48), Temperature: openai.Float(0),
			StreamOptions: openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)},
		})
		var acc openai.ChatCompletionAccumulator
		chunks := 0
		for st.Next() {
			acc.AddChunk(st.Current())
			chunks++
		}
		if err := st.Err(); err != nil {
			t.Fatal(err)
		}
		if got := acc.Choices[0].Message.Content; got != want || chunks < 10 {
			t.Errorf("stream %q in %d chunks:\n got %q\nwant %q", p, chunks, got, want)
		}
		if acc.Usage.CompletionTokens != 48 {
			t.Errorf("stream usage %+v", acc.Usage)
		}
		// completions with logprobs
		cp, err := c.Completions.New(ctx, openai.CompletionNewParams{
			Model:     "stories",
			Prompt:    openai.CompletionNewParamsPromptUnion{OfString: openai.String(p)},
			MaxTokens: openai.Int(48), Temperature: openai.Float(0), Logprobs: openai.Int(3),
		})
		if err != nil {
			t.Fatal(err)
		}
		ch := cp.Choices[0]
		if ch.Text != want {
			t.Errorf("completion %q:\n got %q\nwant %q", p, ch.Text, want)
		}
		lp := ch.Logprobs
		if len(lp.Tokens) != 48 || len(lp.TokenLogprobs) != 48 || len(lp.TopLogprobs) != 48 {
			t.Fatalf("logprobs of %d/%d/%d tokens, want 48", len(lp.Tokens), len(lp.TokenLogprobs), len(lp.TopLogprobs))
		}
		if strings.Join(lp.Tokens, "") != strings.TrimPrefix(want, "") {
			t.Errorf("logprob tokens %q do not spell the text", lp.Tokens)
		}
		for i, v := range lp.TokenLogprobs {
			best := v
			for _, x := range lp.TopLogprobs[i] {
				best = max(best, x)
			}
			// greedy: the chosen token is the most likely one
			if v > 0 || v < best-1e-5 || len(lp.TopLogprobs[i]) == 0 {
				t.Fatalf("token %d: logprob %g, top %v", i, v, lp.TopLogprobs[i])
			}
		}
	}
	models, err := c.Models.List(ctx)
	if err != nil || len(models.Data) != 1 || models.Data[0].ID != "stories" {
		t.Fatalf("models %+v, %v", models, err)
	}
}

// numerologySchemaParam is the control suite's JSON answer as a schema.
func numerologySchemaParam(t *testing.T) map[string]any {
	var v map[string]any
	if err := json.Unmarshal([]byte(numerologySchema), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestOpenAIJSONSchema(t *testing.T) {
	m := loadModel(t, fixture.Path(t, storiesGGUF))
	_, hs := startServer(t, m, 2, Options{})
	c := openaiClient(hs)
	for _, temp := range []float64{0, 0.9} {
		cc, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
			Model:       "stories",
			Messages:    []openai.ChatCompletionMessageParamUnion{openai.UserMessage("For the date 01.01.2000 return only a JSON object")},
			MaxTokens:   openai.Int(400),
			Temperature: openai.Float(temp), Seed: openai.Int(7),
			ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONSchema: &openai.ResponseFormatJSONSchemaParam{
				JSONSchema: openai.ResponseFormatJSONSchemaJSONSchemaParam{Name: "numbers", Schema: numerologySchemaParam(t), Strict: openai.Bool(true)},
			}},
		})
		if err != nil {
			t.Fatal(err)
		}
		text := cc.Choices[0].Message.Content
		var got struct{ Jiva, Dharma, Approach, Method, Karma *int }
		d := json.NewDecoder(strings.NewReader(text))
		d.DisallowUnknownFields()
		if err := d.Decode(&got); err != nil || got.Jiva == nil || got.Karma == nil || *got.Jiva < 1 || *got.Jiva > 9 {
			t.Fatalf("temperature %g: %q is not the schema's JSON: %v (finish %s)", temp, text, err, cc.Choices[0].FinishReason)
		}
		if cc.Choices[0].FinishReason != "stop" {
			t.Errorf("finish %q: the grammar should end the answer", cc.Choices[0].FinishReason)
		}
	}
	// json_object
	cc, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:     "stories",
		Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Once upon a time")},
		MaxTokens: openai.Int(300), Temperature: openai.Float(0),
		ResponseFormat: openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &openai.ResponseFormatJSONObjectParam{}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if text := cc.Choices[0].Message.Content; cc.Choices[0].FinishReason == "stop" && !json.Valid([]byte(text)) {
		t.Errorf("json_object answer %q is not JSON", text)
	} else if !strings.HasPrefix(strings.TrimSpace(text), "{") {
		t.Errorf("json_object answer %q does not start an object", text)
	}
}

// Every grammar SchemaGrammar writes parses in llama.cpp.
func TestSchemaGrammarsParseInLlamaCpp(t *testing.T) {
	m := loadModel(t, fixture.Path(t, storiesGGUF))
	lc, err := m.NewContext(llamacpp.ContextOptions{ContextSize: 256, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	sl, err := lc.NewSlots()
	if err != nil {
		t.Fatal(err)
	}
	defer sl.Close()
	schemas := []string{numerologySchema, `{"type":"object"}`,
		`{"type":"object","properties":{"a":{"type":"string","maxLength":4},"b":{"type":"array","items":{"enum":[1,"x",null]},"maxItems":2},"c":{"type":["number","null"]}},"required":["b"]}`,
		`{"$defs":{"n":{"type":"object","properties":{"next":{"anyOf":[{"$ref":"#/$defs/n"},{"type":"null"}]}}}},"$ref":"#/$defs/n"}`,
		`{"type":"object","properties":{"x":{"type":"boolean"},"y":{"const":{"k":[1,2]}}}}`,
		`{"type":"object","additionalProperties":{"type":"integer"}}`,
	}
	for _, sc := range schemas {
		g, err := SchemaGrammar([]byte(sc))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sl.Start(0, []int32{m.BOS()}, llamacpp.SlotOptions{Grammar: g}); err != nil {
			t.Fatalf("%s:\n%s\n%v", sc, g, err)
		}
		sl.Stop(0)
	}
	if _, err := sl.Start(0, []int32{m.BOS()}, llamacpp.SlotOptions{Grammar: "root ::= ("}); !errors.Is(err, llamacpp.ErrGrammar) {
		t.Fatalf("bad grammar: %v, want ErrGrammar", err)
	}
}

func TestOllamaClient(t *testing.T) {
	m := loadModel(t, fixture.Path(t, storiesGGUF))
	_, hs := startServer(t, m, 2, Options{Version: "0.24.0-sattva"})
	u, _ := url.Parse(hs.URL)
	c := api.NewClient(u, hs.Client())
	ctx := context.Background()
	p := "Once upon a time"
	want := libraryGreedy(t, m, p, 40)
	opts := map[string]any{"temperature": 0, "num_predict": 40}
	for _, stream := range []bool{true, false} {
		var got strings.Builder
		var last api.ChatResponse
		err := c.Chat(ctx, &api.ChatRequest{Model: "stories", Messages: []api.Message{{Role: "user", Content: p}}, Options: opts, Stream: &stream},
			func(r api.ChatResponse) error { got.WriteString(r.Message.Content); last = r; return nil })
		if err != nil {
			t.Fatal(err)
		}
		if got.String() != want || !last.Done || last.DoneReason != "length" || last.EvalCount != 40 {
			t.Errorf("chat (stream %v): %q done %v %q eval %d\nwant %q", stream, got.String(), last.Done, last.DoneReason, last.EvalCount, want)
		}
		got.Reset()
		var lastG api.GenerateResponse
		err = c.Generate(ctx, &api.GenerateRequest{Model: "stories:latest", Prompt: p, Raw: true, Options: opts, Stream: &stream},
			func(r api.GenerateResponse) error { got.WriteString(r.Response); lastG = r; return nil })
		if err != nil {
			t.Fatal(err)
		}
		if got.String() != want || !lastG.Done || lastG.PromptEvalCount == 0 {
			t.Errorf("generate (stream %v): %q\nwant %q", stream, got.String(), want)
		}
	}
	tags, err := c.List(ctx)
	if err != nil || len(tags.Models) != 1 || tags.Models[0].Name != "stories:latest" {
		t.Fatalf("tags %+v %v", tags, err)
	}
	v, err := c.Version(ctx)
	if err != nil || v != "0.24.0-sattva" {
		t.Fatalf("version %q %v", v, err)
	}
	err = c.Chat(ctx, &api.ChatRequest{Model: "llama3", Messages: []api.Message{{Role: "user", Content: p}}}, func(api.ChatResponse) error { return nil })
	var se api.StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown model: %v, want 404", err)
	}
}

// llama31-tiny has Llama 3.1's chat template: the server renders it like
// the library does.
func TestChatTemplateLlama31Tiny(t *testing.T) {
	out := filepath.Join(t.TempDir(), "tiny.gguf")
	if _, err := convert.Convert(context.Background(), fixture.Path(t, "llama31-tiny/hf"), out, convert.Options{}); err != nil {
		t.Fatal(err)
	}
	m := loadModel(t, out)
	_, hs := startServer(t, m, 2, Options{ModelName: "tiny"})
	msgs := []llamacpp.ChatMessage{{Role: "system", Content: "You are SatTva."}, {Role: "user", Content: "Compute the five numbers for 05.11.2004"}}
	text, err := m.ApplyChatTemplate(msgs, true)
	if err != nil {
		t.Fatal(err)
	}
	// JSON carries text, not bytes: the random weights' answer ends in a
	// split character, which JSON encoders replace with U+FFFD.
	want := jsonText(libraryGreedy(t, m, text, 24))
	c := openaiClient(hs)
	cc, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model:     "tiny",
		Messages:  []openai.ChatCompletionMessageParamUnion{openai.SystemMessage(msgs[0].Content), openai.UserMessage(msgs[1].Content)},
		MaxTokens: openai.Int(24), Temperature: openai.Float(0),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := cc.Choices[0].Message.Content; got != want || want == "" {
		t.Errorf("chat:\n got %q\nwant %q", got, want)
	}
	u, _ := url.Parse(hs.URL)
	oc := api.NewClient(u, hs.Client())
	var got strings.Builder
	stream := false
	err = oc.Chat(context.Background(), &api.ChatRequest{Model: "tiny", Messages: []api.Message{{Role: "system", Content: msgs[0].Content}, {Role: "user", Content: msgs[1].Content}},
		Options: map[string]any{"temperature": 0, "num_predict": 24}, Stream: &stream}, func(r api.ChatResponse) error { got.WriteString(r.Message.Content); return nil })
	if err != nil || got.String() != want {
		t.Errorf("ollama chat %q, %v\nwant %q", got.String(), err, want)
	}
}

// jsonText is s after a trip through JSON.
func jsonText(s string) string {
	b, _ := json.Marshal(s)
	var out string
	json.Unmarshal(b, &out)
	return out
}

func postRaw(t *testing.T, url, body string) (*http.Response, apiError) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e apiError
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &e)
	return resp, e
}

func TestClientErrors(t *testing.T) {
	m := loadModel(t, fixture.Path(t, storiesGGUF))
	_, hs := startServer(t, m, 2, Options{MaxBodyBytes: 4096})
	chat := hs.URL + "/v1/chat/completions"
	big := `{"model":"stories","messages":[{"role":"user","content":"` + strings.Repeat("a", 5000) + `"}]}`
	cases := []struct {
		name, url, body string
		status          int
		code            string
	}{
		{"invalid json", chat, `{"model":`, 400, ""},
		{"oversized", chat, big, 413, "request_too_large"},
		{"unknown model", chat, `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, 404, "model_not_found"},
		{"unsupported schema", chat, `{"model":"stories","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"string","pattern":"a+"}}}}`, 400, "unsupported_schema"},
		{"unsatisfiable schema", chat, `{"model":"stories","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"integer","minimum":3,"maximum":1}}}}`, 400, "unsupported_schema"},
		{"bad grammar", chat, `{"model":"stories","messages":[{"role":"user","content":"hi"}],"grammar":"root ::= ("}`, 400, "invalid_grammar"},
		{"grammar no token matches", chat, `{"model":"stories","messages":[{"role":"user","content":"hi"}],"grammar":"root ::= \"\\x00\""}`, 400, "invalid_grammar"},
		{"max_tokens too large", chat, `{"model":"stories","messages":[{"role":"user","content":"hi"}],"max_tokens":100000}`, 400, ""},
		{"empty messages", chat, `{"model":"stories","messages":[]}`, 400, ""},
		{"n>1", chat, `{"model":"stories","messages":[{"role":"user","content":"hi"}],"n":2}`, 400, ""},
		{"bad role", chat, `{"model":"stories","messages":[{"role":"wizard","content":"hi"}]}`, 400, ""},
		{"no endpoint", hs.URL + "/v1/embeddings", `{}`, 404, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, e := postRaw(t, c.url, c.body)
			if resp.StatusCode != c.status || e.Error.Message == "" || e.Error.Type == "" {
				t.Fatalf("status %d %+v, want %d with an OpenAI error", resp.StatusCode, e, c.status)
			}
			if c.code != "" && (e.Error.Code == nil || *e.Error.Code != c.code) {
				t.Fatalf("code %v, want %s (%s)", e.Error.Code, c.code, e.Error.Message)
			}
		})
	}
	// The server is unharmed.
	resp, e := postRaw(t, chat, `{"model":"stories","messages":[{"role":"user","content":"hi"}],"max_tokens":5,"temperature":0}`)
	if resp.StatusCode != 200 {
		t.Fatalf("after the errors: %d %+v", resp.StatusCode, e)
	}
	// Ollama's error shape under /api/.
	resp, err := http.Post(hs.URL+"/api/chat", "application/json", strings.NewReader(`{"model":`))
	if err != nil {
		t.Fatal(err)
	}
	var oe struct{ Error string }
	json.NewDecoder(resp.Body).Decode(&oe)
	resp.Body.Close()
	if resp.StatusCode != 400 || oe.Error == "" {
		t.Fatalf("ollama error: %d %+v", resp.StatusCode, oe)
	}
}

func TestAPIKey(t *testing.T) {
	m := loadModel(t, fixture.Path(t, storiesGGUF))
	_, hs := startServer(t, m, 1, Options{APIKey: "s3cret"})
	c := openaiClient(hs)
	_, err := c.Models.List(context.Background())
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != 401 {
		t.Fatalf("wrong key: %v, want 401", err)
	}
	c = openaiClient(hs, option.WithAPIKey("s3cret"))
	if _, err := c.Models.List(context.Background()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(hs.URL + "/health")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("health without key: %v %v", resp, err)
	}
	resp.Body.Close()
}

// A full queue answers 503 with Retry-After at once; a client that goes
// away mid-stream frees its slot.
func TestQueueFullAndDisconnect(t *testing.T) {
	m := loadModel(t, fixture.Path(t, storiesGGUF))
	s, hs := startServer(t, m, 1, Options{MaxQueue: 1})
	long := `{"model":"stories","prompt":"Once","max_tokens":400,"ignore_eos":true,"stream":true}`
	// One running, one waiting.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	first := make(chan struct{})
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, "POST", hs.URL+"/v1/completions", strings.NewReader(long))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			br.ReadString('\n')
			if i == 0 {
				close(first)
			}
			io.Copy(io.Discard, br)
		}()
		if i == 0 {
			<-first
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.sched.pending() != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	resp, e := postRaw(t, hs.URL+"/v1/completions", `{"model":"stories","prompt":"Once","max_tokens":4}`)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || e.Error.Code == nil || *e.Error.Code != "queue_full" {
		t.Fatalf("full queue: %d %q %+v", resp.StatusCode, resp.Header.Get("Retry-After"), e)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("503 took %v", d)
	}
	cancel() // both clients leave
	wg.Wait()
	deadline = time.Now().Add(2 * time.Second)
	for {
		var busy int
		for i := range s.sched.running {
			_ = i
		}
		resp, e := postRaw(t, hs.URL+"/v1/completions", `{"model":"stories","prompt":"Once","max_tokens":4,"temperature":0}`)
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot not freed after the client left: %d %+v (busy %d)", resp.StatusCode, e, busy)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestShutdownFinishesInFlight(t *testing.T) {
	m := loadModel(t, fixture.Path(t, storiesGGUF))
	s, hs := startServer(t, m, 2, Options{})
	done := make(chan string)
	go func() {
		resp, err := http.Post(hs.URL+"/v1/completions", "application/json", strings.NewReader(`{"model":"stories","prompt":"Once","max_tokens":100,"temperature":0,"ignore_eos":true}`))
		if err != nil {
			done <- err.Error()
			return
		}
		var cr completionResponse
		json.NewDecoder(resp.Body).Decode(&cr)
		resp.Body.Close()
		if len(cr.Choices) == 0 || cr.Usage == nil || cr.Usage.CompletionTokens != 100 {
			done <- "incomplete answer"
			return
		}
		done <- ""
	}()
	for s.metrics != nil && testutilSlotsBusy(s) == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a loaded machine is slow
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if msg := <-done; msg != "" {
		t.Fatal(msg)
	}
	resp, e := postRaw(t, hs.URL+"/v1/completions", `{"model":"stories","prompt":"Once","max_tokens":4}`)
	if resp.StatusCode != 503 {
		t.Fatalf("after shutdown: %d %+v", resp.StatusCode, e)
	}
}

func testutilSlotsBusy(s *Server) int {
	var b bytes.Buffer
	req := httptest.NewRequest("GET", "/metrics", nil)
	rr := httptest.NewRecorder()
	s.ServeHTTP(rr, req)
	b.Write(rr.Body.Bytes())
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(l, "sattva_slots_busy ") {
			if strings.TrimPrefix(l, "sattva_slots_busy ") != "0" {
				return 1
			}
		}
	}
	return 0
}
