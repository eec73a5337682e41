package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sattva/sattva/internal/fixture"
	"github.com/sattva/sattva/llamacpp"
	"github.com/sattva/sattva/pipeline"
)

// TestInitThenPipelineRun: the scaffold init makes is a project pipeline run
// takes through data, train (skipped without a trainer, or run) and export.
func TestInitThenPipelineRun(t *testing.T) {
	base := fixture.Path(t, "stories260K/hf")
	dir := filepath.Join(t.TempDir(), "proj")
	code, out, errs := runSattva(t, "init", dir, "--base", base, "--template", "plain", "--examples", "20", "--json")
	if code != 0 {
		t.Fatalf("init: exit %d %s", code, errs)
	}
	var r initResult
	if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.Entries) == 0 || r.Base != base {
		t.Fatalf("%v %s", err, out)
	}
	// The user's edits for a quick CPU run: one export type, eval of the
	// export alone with 8 new tokens and no pass bar (the base is untrained).
	// Without an inference engine (CGO_ENABLED=0) there is no eval stage.
	_, engineErr := llamacpp.InitBackends("", nil)
	withEval := !errors.Is(engineErr, llamacpp.ErrNoEngine)
	yml := filepath.Join(dir, "sattva.yaml")
	b, _ := os.ReadFile(yml)
	s := string(b)
	for _, r := range [][2]string{
		{"types: [q4_K_M, q8_0]", "types: [q8_0]"},
		{"  type: q4_K_M             # which export the Modelfile's FROM names", "  type: q8_0"},
		{"  type: q4_K_M             # which export is evaluated", "  type: q8_0"},
		{"  pass_bar: 0.8 ", "  pass_bar: 0 "},
		{"  compare_base: true ", "  compare_base: false "},
	} {
		if !strings.Contains(s, r[0]) {
			t.Fatalf("the example project changed: no %q", r[0])
		}
		s = strings.Replace(s, r[0], r[1], 1)
	}
	if !withEval {
		s = strings.Replace(s, "  suite: data/private/eval/control.yaml", "  suite: \"\"", 1)
	}
	if err := os.WriteFile(yml, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	suite := filepath.Join(dir, "data", "private", "eval", "control.yaml")
	sb, _ := os.ReadFile(suite)
	os.WriteFile(suite, []byte(strings.Replace(string(sb), "max_tokens: 64", "max_tokens: 8", 1)), 0o644)
	if _, err := pipeline.LoadProject(yml); err != nil {
		t.Fatal(err)
	}
	var pout, perr bytes.Buffer
	c := newPipelineCmd(&Streams{In: strings.NewReader(""), Out: &pout, ErrOut: &perr})
	c.SetArgs([]string{"run", yml, "-q", "--trainer", "none"})
	c.SetOut(&pout)
	c.SetErr(&perr)
	if err := c.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("pipeline run: %v\n%s\n%s", err, pout.String(), perr.String())
	}
	if !strings.Contains(pout.String(), "export") || !strings.Contains(pout.String(), "ran") {
		t.Fatalf("summary:\n%s", pout.String())
	}
	if withEval && !strings.Contains(pout.String(), "0/4 passed") && !strings.Contains(pout.String(), "/4 passed") {
		t.Fatalf("no eval in the summary:\n%s", pout.String())
	}
	ggufs, _ := filepath.Glob(filepath.Join(dir, "out", "export", "*.gguf"))
	if len(ggufs) == 0 {
		t.Fatalf("no GGUF exported:\n%s\n%s", pout.String(), perr.String())
	}
}

func TestInitBaseFromHubCache(t *testing.T) {
	cache := t.TempDir()
	commit := "0123456789abcdef0123456789abcdef01234567"
	repo := filepath.Join(cache, "models--meta-llama--Llama-3.1-8B")
	os.MkdirAll(filepath.Join(repo, "refs"), 0o755)
	os.WriteFile(filepath.Join(repo, "refs", "main"), []byte(commit), 0o644)
	os.MkdirAll(filepath.Join(repo, "snapshots", commit), 0o755)
	os.WriteFile(filepath.Join(repo, "snapshots", commit, "config.json"), []byte("{}"), 0o644)
	t.Setenv("HF_HUB_CACHE", cache)
	dir := t.TempDir()
	code, _, errs := runSattva(t, "init", dir, "--base", "meta-llama/Llama-3.1-8B", "--examples", "0")
	if code != 0 {
		t.Fatalf("exit %d %s", code, errs)
	}
	p, err := pipeline.LoadProject(filepath.Join(dir, "sattva.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Base != filepath.Join(repo, "snapshots", commit) {
		t.Fatalf("base %s", p.Base)
	}
	// An id not in the cache is accepted as it is, with the command that
	// fetches it; the project resolves it when the weights are needed.
	absent := t.TempDir()
	code, out, errs := runSattva(t, "init", absent, "--base", "meta-llama/absent")
	if code != ExitOK || !strings.Contains(out, "huggingface-cli download meta-llama/absent") {
		t.Fatalf("exit %d %s %s", code, out, errs)
	}
	p, err = pipeline.LoadProject(filepath.Join(absent, "sattva.yaml"))
	if err != nil || p.Base != "meta-llama/absent" {
		t.Fatalf("base %v %v", p, err)
	}
	code, _, errs = runSattva(t, "train", "--print-config", filepath.Join(absent, "sattva.yaml"))
	if code != ExitOK {
		t.Fatalf("train --print-config without weights: exit %d %s", code, errs)
	}
	code, _, errs = runSattva(t, "export", filepath.Join(absent, "sattva.yaml"))
	if code != ExitInvalidInput || !strings.Contains(errs, "huggingface-cli download meta-llama/absent") {
		t.Fatalf("export without weights: exit %d %s", code, errs)
	}
	code, _, _ = runSattva(t, "init", t.TempDir(), "--template", "chatml")
	if code != ExitUsage {
		t.Fatalf("bad template: exit %d", code)
	}
}
