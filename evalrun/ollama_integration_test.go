//go:build linux || darwin

package evalrun

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sattva/sattva/internal/fixture"
)

// ollamaBinary finds a real Ollama: $SATTVA_OLLAMA, <repo>/.tools/ollama
// (scripts/install-ollama.sh puts the pinned v0.6.5 there), or PATH.
func ollamaBinary() string {
	if p := os.Getenv("SATTVA_OLLAMA"); p != "" {
		return p
	}
	if p := filepath.Join(fixture.Repo(), ".tools", "ollama"); fileExists(p) {
		return p
	}
	if p, err := exec.LookPath("ollama"); err == nil {
		return p
	}
	return ""
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// ciInstallsOllama reports whether the CI entry point installs Ollama (then a
// missing binary under CI=true is a failure, not a skip).
func ciInstallsOllama() bool {
	for _, f := range []string{".ci/run", "Makefile"} {
		b, err := os.ReadFile(filepath.Join(fixture.Repo(), f))
		if err == nil && bytes.Contains(b, []byte("install-ollama")) {
			return true
		}
	}
	return false
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startOllama runs `ollama serve` on a free loopback port with its models in a
// temporary folder and returns the base URL and the environment for the
// ollama client.
func startOllama(t *testing.T, bin string) (string, []string) {
	t.Helper()
	home := t.TempDir()
	host := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	env := append(os.Environ(), "OLLAMA_HOST="+host, "OLLAMA_MODELS="+filepath.Join(home, "models"), "HOME="+home, "OLLAMA_NOPRUNE=1")
	cmd := exec.Command(bin, "serve")
	cmd.Env = env
	// serve starts runner processes: run it in its own process group so
	// that cleanup ends them too, and log to a file they may inherit.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logPath := filepath.Join(home, "serve.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("ollama serve log (last 3000 bytes):\n%s", tail(string(b), 3000))
		}
	})
	url := "http://" + host
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(url + "/api/version")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("ollama serve did not answer on %s within 60 s: %v", url, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return url, env
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// The Ollama runner against a real `ollama serve` (the pinned v0.6.5) with a
// model created from the shared stories260K GGUF: greedy continuations of
// "Once upon a time" must follow the text llama2.c's author published for
// this model, and match our own llama.cpp runner token for token.
func TestOllamaRunnerRealServer(t *testing.T) {
	bin := ollamaBinary()
	if bin == "" {
		msg := "no ollama binary: set $SATTVA_OLLAMA, run scripts/install-ollama.sh (installs .tools/ollama), or put ollama on PATH"
		if os.Getenv("CI") == "true" && ciInstallsOllama() {
			t.Fatal(msg + " (CI installs it, so it must be there)")
		}
		t.Skip(msg)
	}
	gguf := fixture.Path(t, "stories260K/ref/stories260K-f32.ref.gguf")
	published, err := os.ReadFile(fixture.Path(t, "stories260K/llama2c/published_greedy.txt"))
	if err != nil {
		t.Fatal(err)
	}
	url, env := startOllama(t, bin)
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
	s, err := ParseSuite("stories.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	t.Log("model created")
	g := &OllamaRunner{BaseURL: url, Model: "stories", NumThread: 1, NumCtx: 512}
	rep, err := Run(ctx, s, g, RunOptions{})
	t.Logf("ollama answered in %.1f s", rep.WallSeconds)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Cases {
		if c.Status == StatusError {
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
	ours, err := Run(ctx, s, lr, RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range ours.Cases {
		if ours.Cases[i].Answer != rep.Cases[i].Answer {
			t.Errorf("%s: llamacpp %q, ollama %q", ours.Cases[i].ID, ours.Cases[i].Answer, rep.Cases[i].Answer)
		}
	}
}
