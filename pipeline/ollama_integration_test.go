//go:build cgo

package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sattva/sattva/convert"
	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/fixture"
	"github.com/sattva/sattva/llamacpp"
	"github.com/sattva/sattva/quantize"
)

// findOllamaForTest returns the ollama binary: $SATTVA_OLLAMA, ollama on
// PATH, or <repo>/.tools/ollama (scripts/install-ollama.sh puts the pinned
// v0.6.5 there); "" when there is none.
func findOllamaForTest() string {
	if p := os.Getenv("SATTVA_OLLAMA"); p != "" {
		return p
	}
	if p, err := exec.LookPath("ollama"); err == nil {
		return p
	}
	p := filepath.Join(fixture.Repo(), ".tools", "ollama")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return ""
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func realExportTools() ExportTools {
	return ExportTools{
		ConvertBase: func(ctx context.Context, hf, out, outType, merge string) error {
			ty, err := gguf.ParseType(outType)
			if err != nil {
				return err
			}
			o := convert.Options{OutType: ty}
			if merge != "" {
				o.MergeLoRA = []convert.LoRASpec{{Dir: merge, Scale: 1}}
			}
			_, err = convert.Convert(ctx, hf, out, o)
			return err
		},
		ConvertLoRA: func(ctx context.Context, a, b, out string) error {
			_, err := convert.ConvertLoRA(ctx, a, b, out, convert.LoRAOptions{})
			return err
		},
		Quantize: func(ctx context.Context, in, out, ft, imatrix string) error {
			t, err := quantize.ParseFileType(ft)
			if err != nil {
				return err
			}
			_, err = quantize.QuantizeFile(ctx, in, out, t, quantize.Options{})
			return err
		},
	}
}

// TestOllamaServesExport exports stories260K with sattva (convert, Modelfile,
// manifest), registers it with `ollama create` on a private `ollama serve`
// (loopback, OLLAMA_MODELS in a temp folder) and checks that Ollama's greedy
// continuation equals llama.cpp's in this process (what `sattva run` prints)
// and the text stories260K's author published.
func TestOllamaServesExport(t *testing.T) {
	hf := filepath.Join(fixture.Repo(), "testdata", "stories260K", "hf")
	published, err := os.ReadFile(fixture.Path(t, "stories260K/llama2c/published_greedy.txt"))
	if err != nil {
		t.Fatal(err)
	}
	bin := findOllamaForTest()
	if bin == "" {
		t.Skip("no ollama: run scripts/install-ollama.sh (builds the pinned v0.6.5 into .tools/) or set SATTVA_OLLAMA")
	}
	if testing.Short() {
		t.Skip("-short: starts ollama serve")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	dir := t.TempDir()
	proj := fmt.Sprintf("name: stories260k\nbase: %s\ntemplate: plain\ndata:\n  train: [d.jsonl]\noutput: out\n"+
		"export:\n  types: [f32]\nollama:\n  parameters: {temperature: 0, repeat_penalty: 1, num_ctx: 512}\n", hf)
	os.WriteFile(filepath.Join(dir, "d.jsonl"), []byte(`{"instruction":"q","output":"a"}`+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "sattva.yaml"), []byte(proj), 0o644)
	p, err := LoadProject(filepath.Join(dir, "sattva.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Export(ctx, p, ExportOptions{Tools: realExportTools(), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	model := res.Models["f32"]

	// ollama serve on a free loopback port, its models in the temp folder.
	host := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	serve := exec.Command(bin, "serve")
	serve.Env = append(os.Environ(), "OLLAMA_HOST="+host, "OLLAMA_MODELS="+filepath.Join(dir, "ollama-models"), "HOME="+dir)
	var serveLog bytes.Buffer
	serve.Stdout, serve.Stderr = &serveLog, &serveLog
	setProcessGroup(serve)
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		killGroup(serve.Process)
		serve.Wait()
		if t.Failed() {
			t.Logf("ollama serve log:\n%s", serveLog.String())
		}
	}()
	up := false
	for i := 0; i < 100 && !up; i++ {
		if r, err := http.Get("http://" + host + "/api/version"); err == nil {
			r.Body.Close()
			up = r.StatusCode == 200
		}
		if !up {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if !up {
		t.Fatal("ollama serve did not come up")
	}
	if err := OllamaCreate(ctx, "stories260k", res.Modelfile, OllamaOptions{Bin: bin, Host: host}); err != nil {
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
	rendered, _ := RenderPrompt("plain", system, user)
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
