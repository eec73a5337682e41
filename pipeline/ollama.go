package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ErrNoOllama is returned when the ollama executable cannot be found.
var ErrNoOllama = errors.New("pipeline: ollama is not installed (https://ollama.com/download, or scripts/install-ollama.sh)")

// OllamaOptions control OllamaCreate.
type OllamaOptions struct {
	// Bin is the ollama executable ("" looks up "ollama" on PATH).
	Bin string
	// Host sets OLLAMA_HOST for the client ("" leaves the environment's).
	Host string
	// OnLine receives the client's output lines.
	OnLine func(line string, stderr bool)
}

// FindOllama returns the ollama executable: bin if given, else "ollama" on PATH.
func FindOllama(bin string) (string, error) {
	if bin == "" {
		bin = "ollama"
	}
	p, err := exec.LookPath(bin)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoOllama, err)
	}
	return p, nil
}

// OllamaCreate runs `ollama create NAME -f MODELFILE` from the Modelfile's
// folder (Ollama resolves FROM and ADAPTER paths against it). The server
// must be running; the client's output tail is in the error when it fails.
func OllamaCreate(ctx context.Context, name, modelfile string, o OllamaOptions) error {
	if !validName(name) {
		return fmt.Errorf("pipeline: %q is not a valid Ollama model name", name)
	}
	if _, err := os.Stat(modelfile); err != nil {
		return err
	}
	bin, err := FindOllama(o.Bin)
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(modelfile)
	if err != nil {
		return err
	}
	c := Command{Path: bin, Args: []string{"create", name, "-f", abs}, Dir: filepath.Dir(abs)}
	if o.Host != "" {
		c.Env = []string{"OLLAMA_HOST=" + o.Host}
	}
	return RunProcess(ctx, c, RunOptions{OnLine: o.OnLine})
}

// OllamaVersion asks the Ollama server at baseURL (http://host:port) for its
// version: GET /api/version, {"version": "0.6.5"}.
func OllamaVersion(ctx context.Context, baseURL string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(baseURL, "/")+"/api/version", nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("pipeline: asking Ollama's version: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("pipeline: %s/api/version: %s", baseURL, resp.Status)
	}
	var v struct {
		Version string `json:"version"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&v); err != nil {
		return "", fmt.Errorf("pipeline: %s/api/version: %w", baseURL, err)
	}
	return v.Version, nil
}

// AdapterSupport says whether an Ollama of version accepts a Modelfile
// ADAPTER: v0.34.1 and later reject it ("LoRA adapters are no longer
// supported") and no longer quantize on import, so sattva must give them a
// merged model. An unparsable version (a dev build) is accepted.
func AdapterSupport(version string) error {
	v := strings.TrimPrefix(strings.TrimSpace(version), "v")
	if i := strings.IndexAny(v, "-+ "); i >= 0 {
		v = v[:i]
	}
	parts := strings.Split(v, ".")
	var n [3]int
	for i := 0; i < 3 && i < len(parts); i++ {
		x, err := strconv.Atoi(parts[i])
		if err != nil {
			return nil
		}
		n[i] = x
	}
	if n == [3]int{} {
		return nil
	}
	if n[0] > 0 || n[1] > 34 || n[1] == 34 && n[2] >= 1 {
		return fmt.Errorf("pipeline: Ollama %s rejects ADAPTER in a Modelfile (\"LoRA adapters are no longer supported\", since v0.34.1) and no longer quantizes on import: export with export.adapter: merge (the default) and run `sattva export` again", version)
	}
	return nil
}
