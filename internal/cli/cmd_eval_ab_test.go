package cli

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sattva/sattva/convert"
	"github.com/sattva/sattva/evalrun"
	"github.com/sattva/sattva/internal/fixture"
	"github.com/sattva/sattva/llamacpp"
)

// tinyGGUFs converts the shared llama31-tiny checkpoint and its LoRA adapter
// to GGUF in a temporary folder.
func tinyGGUFs(t *testing.T) (base, lora string) {
	t.Helper()
	hf := fixture.Path(t, "llama31-tiny/hf")
	ad := fixture.Path(t, "llama31-tiny/lora")
	dir := t.TempDir()
	base = filepath.Join(dir, "tiny-f32.gguf")
	lora = filepath.Join(dir, "tiny-lora-f32.gguf")
	if _, err := convert.Convert(context.Background(), hf, base, convert.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := convert.ConvertLoRA(context.Background(), ad, hf, lora, convert.LoRAOptions{}); err != nil {
		t.Fatal(err)
	}
	return base, lora
}

func needEngine(t *testing.T) {
	t.Helper()
	if _, err := llamacpp.InitBackends("", nil); errors.Is(err, llamacpp.ErrNoEngine) {
		t.Skip("built without cgo: no llama.cpp engine")
	}
}

// A/B on llama31-tiny (Llama 3.1's architecture and tokenizer, random
// weights) with and without its LoRA adapter: the starter suite through the
// real chat template, answers compared case by case. Then a suite whose
// expectations are the base model's own answers: every case passes on the
// base, and each case the adapter changes is a regression, so the exit code
// is 1.
func TestEvalABLlama31TinyLoRA(t *testing.T) {
	needEngine(t)
	base, lora := tinyGGUFs(t)
	suite := filepath.Join(fixture.Repo(), "evals", "sattva-control.yaml")
	out := t.TempDir()
	code, stdout, errOut := evalCLI(t, context.Background(), "eval", suite, "--model", base, "--lora", lora, "--compare-with", base,
		"--max-tokens", "16", "--cpu", "--threads", "1", "--out", out, "--quiet", "--json")
	if code != ExitOK && code != ExitFailure {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc evalrun.Document
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Baseline == nil || doc.Comparison == nil {
		t.Fatal("no A/B comparison in the report")
	}
	if len(doc.Run.Generator.Adapters) != 1 || len(doc.Baseline.Generator.Adapters) != 0 {
		t.Errorf("adapters: run %v, baseline %v", doc.Run.Generator.Adapters, doc.Baseline.Generator.Adapters)
	}
	if len(doc.Comparison.Cases) != 30 || doc.Run.Summary.Errors+doc.Baseline.Summary.Errors != 0 {
		t.Fatalf("%d cases compared, errors %d/%d", len(doc.Comparison.Cases), doc.Baseline.Summary.Errors, doc.Run.Summary.Errors)
	}
	if doc.Comparison.Changed == 0 {
		t.Error("the LoRA adapter changed no answer")
	}
	t.Logf("A/B: %d of 30 answers changed, pass rate %.2f → %.2f", doc.Comparison.Changed, doc.Baseline.Summary.PassRate, doc.Run.Summary.PassRate)
	if (code == ExitFailure) != (doc.Comparison.Regressed > 0) {
		t.Errorf("exit %d with %d regressions", code, doc.Comparison.Regressed)
	}

	// Expectations = the base model's answers.
	var lines []string
	for _, c := range doc.Baseline.Cases {
		var sc *evalrun.CaseResult
		for i := range doc.Run.Cases {
			if doc.Run.Cases[i].ID == c.ID {
				sc = &doc.Run.Cases[i]
			}
		}
		if strings.TrimSpace(c.Answer) == "" || sc == nil {
			continue
		}
		b, _ := json.Marshal(map[string]any{"id": c.ID, "lang": c.Lang, "prompt": c.Prompt, "expect": map[string]any{"exact": c.Answer}})
		lines = append(lines, string(b))
	}
	sys, _ := json.Marshal(map[string]any{"suite": map[string]any{"name": "pinned", "defaults": map[string]any{"max_tokens": 16, "system": mustSystem(t, suite)}}})
	pinned := filepath.Join(t.TempDir(), "pinned.jsonl")
	os.WriteFile(pinned, []byte(string(sys)+"\n"+strings.Join(lines, "\n")+"\n"), 0o644)
	code, stdout, errOut = evalCLI(t, context.Background(), "eval", pinned, "--model", base, "--lora", lora, "--compare-with", base,
		"--cpu", "--threads", "1", "--out", t.TempDir(), "--quiet", "--json")
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("%v: %s", err, errOut)
	}
	if doc.Baseline.Summary.Passed != len(lines) {
		t.Fatalf("the base model does not reproduce its own answers: %d of %d (not deterministic?)", doc.Baseline.Summary.Passed, len(lines))
	}
	if doc.Comparison.Regressed == 0 || code != ExitFailure {
		t.Fatalf("exit %d with %d regressions; want 1 and > 0", code, doc.Comparison.Regressed)
	}
}

func mustSystem(t *testing.T, path string) string {
	s, err := evalrun.LoadSuite(path)
	if err != nil {
		t.Fatal(err)
	}
	return s.Defaults.System
}
