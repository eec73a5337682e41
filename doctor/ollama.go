package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/sattva/sattva/evalrun"
)

func checkOllama(ctx context.Context, r *Report, o *Options) {
	c := Check{ID: "ollama", Stage: StageServe, Facts: map[string]string{}}
	host := o.OllamaHost
	if host == "" {
		host = o.Getenv("OLLAMA_HOST")
	}
	u, err := evalrun.OllamaURL(host)
	if err != nil {
		c.Status, c.Summary, c.Fix = Warn, err.Error(), "set OLLAMA_HOST to host:port, e.g. 127.0.0.1:11434"
		r.add(c)
		return
	}
	c.Facts["url"] = u.String()
	bin, binErr := o.LookPath("ollama")
	if binErr == nil {
		c.Facts["binary"] = bin
	}
	v, err := ollamaVersion(ctx, o.HTTPClient, u)
	switch {
	case err == nil:
		c.Status, c.Summary = OK, fmt.Sprintf("Ollama %s at %s", v, u)
		c.Facts["version"] = v
	case binErr == nil:
		c.Status, c.Summary = Warn, fmt.Sprintf("Ollama is installed (%s) but not answering at %s: %v", bin, u, err)
		c.Fix = forOS(o.GOOS, "start the Ollama app (or: ollama serve); if it listens elsewhere, set OLLAMA_HOST",
			"start it: ollama serve (or systemctl start ollama where it is a service); if it listens elsewhere, set OLLAMA_HOST")
	default:
		c.Status, c.Summary = Warn, fmt.Sprintf("Ollama not found on PATH and not answering at %s (%v); sattva export still writes the GGUF and Modelfile", u, err)
		c.Fix = forOS(o.GOOS, "install Ollama with its Windows installer from ollama.com, then: ollama create NAME -f Modelfile",
			"install Ollama (ollama.com/download: the install script on Linux, the app on macOS), then: ollama create NAME -f Modelfile")
	}
	r.add(c)
}

// ollamaVersion asks GET /api/version.
func ollamaVersion(ctx context.Context, hc *http.Client, base *url.URL) (string, error) {
	u := *base
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/version"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP %d from %s", resp.StatusCode, u.String())
	}
	var v struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.Version == "" {
		return "", fmt.Errorf("%s answered, but not like Ollama (%q)", u.String(), lastLine(string(body)))
	}
	return v.Version, nil
}
