//go:build cgo

package differential_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sattva/sattva/internal/fixture"
	"github.com/sattva/sattva/internal/ollamatest"
	"github.com/sattva/sattva/llamacpp"
	"github.com/sattva/sattva/pipeline"
)

func TestOllamaServesExport(t *testing.T) {
	hf := filepath.Join(fixture.Repo(), "testdata", "stories260K", "hf")
	published, err := os.ReadFile(fixture.Path(t, "stories260K/llama2c/published_greedy.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if testing.Short() {
		t.Skip("-short: starts ollama serve")
	}
	bin := ollamatest.Binary()
	if bin == "" {
		t.Skip("no ollama: run scripts/install-ollama.sh (builds the pinned v0.6.5 into .tools/) or set SATTVA_OLLAMA")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	dir := t.TempDir()
	proj := fmt.Sprintf("name: stories260k\nbase: %s\ntemplate: plain\ndata:\n  train: [d.jsonl]\noutput: out\n"+
		"export:\n  types: [f32]\nollama:\n  parameters: {temperature: 0, repeat_penalty: 1, num_ctx: 512}\n", hf)
	os.WriteFile(filepath.Join(dir, "d.jsonl"), []byte(`{"instruction":"q","output":"a"}`+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "sattva.yaml"), []byte(proj), 0o644)
	p, err := pipeline.LoadProject(filepath.Join(dir, "sattva.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := pipeline.Export(ctx, p, pipeline.ExportOptions{Tools: pipeline.ConvertTools(0, nil), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	model := res.Models["f32"]

	// ollama serve on a free loopback port, its models in a temp folder.
	host, _ := ollamatest.Start(t, bin)
	if err := pipeline.OllamaCreate(ctx, "stories260k", res.Modelfile, pipeline.OllamaOptions{Bin: bin, Host: host}); err != nil {
		t.Fatal(err)
	}

	const prompt, n = "Once upon a time", 32
	body, _ := json.Marshal(map[string]any{"model": "stories260k", "prompt": prompt, "raw": true, "stream": false,
		"options": map[string]any{"temperature": 0, "repeat_penalty": 1, "num_predict": n}})
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+host+"/api/generate", bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var gen struct {
		Response  string `json:"response"`
		EvalCount int    `json:"eval_count"`
		Error     string `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&gen)
	resp.Body.Close()
	if gen.Error != "" || gen.EvalCount != n {
		t.Fatalf("ollama: %q (%d tokens)", gen.Error, gen.EvalCount)
	}

	// The same greedy continuation through llama.cpp in this process.
	if _, err := llamacpp.InitBackends("", nil); err != nil {
		t.Fatal(err)
	}
	m, err := llamacpp.Load(model, llamacpp.ModelOptions{CPUOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c, err := m.NewContext(llamacpp.ContextOptions{ContextSize: 512})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	toks, err := m.Tokenize(prompt, true, true)
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for tok, err := range c.Generate(ctx, toks, llamacpp.GenerateOptions{MaxTokens: n, Sampling: llamacpp.SamplingOptions{Temperature: 0, RepeatPenalty: 1}}) {
		if err != nil {
			t.Fatal(err)
		}
		sb.WriteString(tok.Text)
	}
	if gen.Response != sb.String() {
		t.Errorf("ollama and llama.cpp differ:\nollama: %q\nllama.cpp: %q", gen.Response, sb.String())
	}
	if !strings.HasPrefix(string(published), prompt+gen.Response) {
		t.Errorf("ollama's text is not the published greedy text:\n%q\nwant a prefix of\n%q", prompt+gen.Response, published[:200])
	}
	t.Logf("ollama %s served the export and continued %q with %q", bin, prompt, gen.Response)

	// Through /api/chat the Modelfile's TEMPLATE renders system + user; the
	// answer must equal llama.cpp's on RenderPrompt's text (the trainer's format).
	const system, user, nc = "Lily and Tom", "One day", 16
	body, _ = json.Marshal(map[string]any{"model": "stories260k", "stream": false,
		"messages": []map[string]string{{"role": "system", "content": system}, {"role": "user", "content": user}},
		"options":  map[string]any{"temperature": 0, "repeat_penalty": 1, "num_predict": nc}})
	req, _ = http.NewRequestWithContext(ctx, "POST", "http://"+host+"/api/chat", bytes.NewReader(body))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var chat struct {
		Message struct{ Content string } `json:"message"`
		Error   string                   `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&chat)
	resp.Body.Close()
	if chat.Error != "" {
		t.Fatal(chat.Error)
	}
	rendered, _ := pipeline.RenderPrompt("plain", system, user)
	toks, err = m.Tokenize(rendered, true, true)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := m.NewContext(llamacpp.ContextOptions{ContextSize: 512})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	sb.Reset()
	for tok, err := range c2.Generate(ctx, toks, llamacpp.GenerateOptions{MaxTokens: nc, Sampling: llamacpp.SamplingOptions{Temperature: 0, RepeatPenalty: 1}}) {
		if err != nil {
			t.Fatal(err)
		}
		sb.WriteString(tok.Text)
	}
	if chat.Message.Content != sb.String() {
		t.Errorf("ollama chat through the TEMPLATE and llama.cpp on RenderPrompt differ:\nollama: %q\nllama.cpp: %q", chat.Message.Content, sb.String())
	}
	t.Logf("chat: %q", chat.Message.Content)
}
