//go:build linux || darwin

package llamarun

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sattva/sattva/evalrun"
	"github.com/sattva/sattva/internal/fixture"
	"github.com/sattva/sattva/internal/ollamatest"
)

// The Ollama runner against a real `ollama serve` (the pinned v0.6.5) with a
// model created from the shared stories260K GGUF: greedy continuations of
// "Once upon a time" must follow the text llama2.c's author published for
// this model, and match our own llama.cpp runner token for token.
func TestOllamaRunnerRealServer(t *testing.T) {
	bin := ollamatest.Require(t)
	gguf := fixture.Path(t, "stories260K/ref/stories260K-f32.ref.gguf")
	published, err := os.ReadFile(fixture.Path(t, "stories260K/llama2c/published_greedy.txt"))
	if err != nil {
		t.Fatal(err)
	}
	host, env := ollamatest.Start(t, bin)
	url := "http://" + host
	t.Logf("ollama %s serving on %s", bin, url)
	mf := filepath.Join(t.TempDir(), "Modelfile")
	os.WriteFile(mf, []byte("FROM "+gguf+"\nPARAMETER repeat_penalty 1\nPARAMETER temperature 0\n"), 0o644)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	create := exec.CommandContext(ctx, bin, "create", "stories", "-f", mf)
	create.Env = env
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("ollama create: %v\n%s", err, out)
	}

	src := `name: stories
defaults:
  chat_template: false
  max_tokens: 40
  sampling: {temperature: 0, seed: 1, repeat_penalty: 1}
cases:
  - id: once
    lang: en
    prompt: "Once upon a time"
    expect:
      contains_any: [Lily, girl]
      language: true
  - id: lily
    lang: en
    prompt: "Once upon a time, there was a little girl named Lily."
    expect:
      contains_all: [She]
`
	s, err := evalrun.ParseSuite("stories.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	t.Log("model created")
	g := &evalrun.OllamaRunner{BaseURL: url, Model: "stories", NumThread: 1, NumCtx: 512}
	rep, err := evalrun.Run(ctx, s, g, evalrun.RunOptions{})
	t.Logf("ollama answered in %.1f s", rep.WallSeconds)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Cases {
		if c.Status == evalrun.StatusError {
			t.Fatalf("%s: %s", c.ID, c.Error)
		}
		want := strings.TrimPrefix(string(published), c.Prompt)
		got := c.Answer
		if len(got) < 40 || !strings.HasPrefix(want, got) {
			t.Errorf("%s: Ollama's greedy answer %q does not continue the published text %q", c.ID, got, want[:min(len(want), len(got)+20)])
		}
		if c.Tokens != 40 {
			t.Errorf("%s: %d tokens, want num_predict 40", c.ID, c.Tokens)
		}
	}
	if rep.Summary.Passed != 2 {
		t.Errorf("summary %+v", rep.Summary)
	}

	// The same suite through our llama.cpp runner gives the same text.
	lr := newStoriesRunner(t, 0)
	ours, err := evalrun.Run(ctx, s, lr, evalrun.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range ours.Cases {
		if ours.Cases[i].Answer != rep.Cases[i].Answer {
			t.Errorf("%s: llamacpp %q, ollama %q", ours.Cases[i].ID, ours.Cases[i].Answer, rep.Cases[i].Answer)
		}
	}
}
