// Package ollamatest runs a real `ollama serve` for integration tests: the
// pinned v0.6.5 that scripts/install-ollama.sh builds into <repo>/.tools/.
package ollamatest

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/sattva/sattva/internal/fixture"
)

// Binary finds a real Ollama: $SATTVA_OLLAMA, <repo>/.tools/ollama, or PATH;
// "" when there is none.
func Binary() string {
	if p := os.Getenv("SATTVA_OLLAMA"); p != "" {
		return p
	}
	if st, err := os.Stat(filepath.Join(fixture.Repo(), ".tools", "ollama")); err == nil && !st.IsDir() {
		return filepath.Join(fixture.Repo(), ".tools", "ollama")
	}
	if p, err := exec.LookPath("ollama"); err == nil {
		return p
	}
	return ""
}

// Require returns Binary, or skips t when there is none; under CI=true,
// where the CI entry point installs Ollama, a missing binary fails t.
func Require(t *testing.T) string {
	t.Helper()
	bin := Binary()
	if bin == "" {
		msg := "no ollama binary: set $SATTVA_OLLAMA, run scripts/install-ollama.sh (installs .tools/ollama), or put ollama on PATH"
		if os.Getenv("CI") == "true" && ciInstallsOllama() {
			t.Fatal(msg + " (CI installs it, so it must be there)")
		}
		t.Skip(msg)
	}
	return bin
}

// ciInstallsOllama reports whether the CI entry point installs Ollama.
func ciInstallsOllama() bool {
	for _, f := range []string{".ci/run", "Makefile"} {
		b, err := os.ReadFile(filepath.Join(fixture.Repo(), f))
		if err == nil && bytes.Contains(b, []byte("install-ollama")) {
			return true
		}
	}
	return false
}

// Start runs `ollama serve` on a free loopback port with its models in a
// temporary folder, waits until it answers, and stops it (with the runner
// processes it started) when t ends. It returns the host:port and the
// environment for the ollama client.
func Start(t *testing.T, bin string) (host string, env []string) {
	t.Helper()
	home := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host = fmt.Sprintf("127.0.0.1:%d", l.Addr().(*net.TCPAddr).Port)
	l.Close()
	env = append(os.Environ(), "OLLAMA_HOST="+host, "OLLAMA_MODELS="+filepath.Join(home, "models"), "HOME="+home, "OLLAMA_NOPRUNE=1")
	cmd := exec.Command(bin, "serve")
	cmd.Env = env
	// serve starts runner processes: run it in its own process group so
	// that cleanup ends them too, and log to a file they may inherit.
	setProcessGroup(cmd)
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
		killProcessGroup(cmd.Process)
		cmd.Wait()
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("ollama serve log (last 3000 bytes):\n%s", b[max(0, len(b)-3000):])
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + host + "/api/version")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("ollama serve did not answer on %s within 60 s: %v", host, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return host, env
}
