package cli

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOllamaCreateRefusesAdapterOnNewOllama: a Modelfile with ADAPTER and
// a server that reports v0.34.1 is refused before ollama is called, with
// the reason.
func TestOllamaCreateRefusesAdapterOnNewOllama(t *testing.T) {
	asked := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/version" {
			asked = true
			w.Write([]byte(`{"version":"0.34.1"}`))
			return
		}
		t.Errorf("unexpected request %s", r.URL.Path)
	}))
	defer srv.Close()
	dir := t.TempDir()
	mf := filepath.Join(dir, "Modelfile")
	os.WriteFile(mf, []byte("FROM ./base.gguf\nADAPTER ./lora.gguf\n"), 0o644)
	code, _, stderr := runSattva(t, "ollama", "create", "m", "-f", mf, "--host", srv.URL, "--ollama", filepath.Join(dir, "no-such-ollama"))
	if code == 0 || !asked || !strings.Contains(stderr, "LoRA adapters are no longer supported") || !strings.Contains(stderr, "export.adapter: merge") {
		t.Fatalf("code %d asked %v stderr %q", code, asked, stderr)
	}
	if strings.Contains(stderr, "no-such-ollama") {
		t.Errorf("ollama was called: %q", stderr)
	}
}
