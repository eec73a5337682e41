package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
