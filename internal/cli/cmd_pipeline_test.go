package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/sattva/sattva/internal/fixture"
)

// pipelineProject writes a project over the repository's stories260K copy.
func pipelineProject(t *testing.T, extra string) string {
	t.Helper()
	dir := t.TempDir()
	hf := filepath.Join(fixture.Repo(), "testdata", "stories260K", "hf")
	os.WriteFile(filepath.Join(dir, "d.jsonl"), []byte(`{"instruction":"Date 29.01.1988: the five numbers?","input":"","output":"2, 3, 1, 8, 5","lang":"en"}`+"\n"), 0o644)
	y := "name: s\nbase: " + hf + "\ntemplate: plain\ndata:\n  train: [d.jsonl]\n" + extra
	path := filepath.Join(dir, "sattva.yaml")
	os.WriteFile(path, []byte(y), 0o644)
	return path
}

func TestTrainPrintConfig(t *testing.T) {
	path := pipelineProject(t, "train:\n  lora_rank: 4\n")
	code, out, errs := runSattva(t, "train", path, "--print-config", "--trainer", "none")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"# trainer: none", "lora_rank: 4\n", "template: plain\n", "stage: sft\n", `"formatting": "alpaca"`} {
		if !strings.Contains(out, want) {
			t.Errorf("--print-config lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(path), "out")); err == nil {
		t.Error("--print-config wrote files")
	}
}

func TestPipelineExitCodes(t *testing.T) {
	// An invalid project file: exit 3 with file:line.
	dir := t.TempDir()
	bad := filepath.Join(dir, "sattva.yaml")
	os.WriteFile(bad, []byte("name: s\nbase: b\ndata:\n  train: [d.jsonl]\ntrain:\n  lora_r: 8\n"), 0o644)
	for _, cmd := range [][]string{{"train", bad}, {"export", bad}, {"pipeline", "run", bad}} {
		code, _, errs := runSattva(t, cmd...)
		if code != ExitInvalidInput || !strings.Contains(errs, "sattva.yaml:6:3: train.lora_r: unknown key") {
			t.Errorf("%v: exit %d, %s", cmd, code, errs)
		}
	}
	// A bad --force is a usage error.
	if code, _, _ := runSattva(t, "pipeline", "run", pipelineProject(t, ""), "--force", "training"); code != ExitUsage {
		t.Errorf("--force training: exit %d", code)
	}
	// A missing base folder is refused before anything runs (exit 3).
	path := pipelineProject(t, "")
	b, _ := os.ReadFile(path)
	os.WriteFile(path, bytes.Replace(b, []byte("base: "), []byte("base: /nonexistent"), 1), 0o644)
	code, _, errs := runSattva(t, "pipeline", "run", path)
	if code != ExitInvalidInput || !strings.Contains(errs, "sattva.yaml:2:7: base:") {
		t.Errorf("missing base: exit %d: %s", code, errs)
	}
}

func TestExportCommand(t *testing.T) {
	path := pipelineProject(t, "export:\n  types: [q8_0]\n")
	code, out, errs := runSattva(t, "export", path, "-q")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "no trained adapter") || !strings.Contains(out, "s-q8_0.gguf") || !strings.Contains(out, "sattva ollama create s") {
		t.Errorf("output:\n%s", out)
	}
	mf, err := os.ReadFile(filepath.Join(filepath.Dir(path), "out", "export", "Modelfile"))
	if err != nil || !strings.Contains(string(mf), "FROM ./s-q8_0.gguf") {
		t.Errorf("Modelfile %v:\n%s", err, mf)
	}
}

func TestOllamaCreateCommand(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("shell script")
	}
	bin := t.TempDir()
	rec := filepath.Join(bin, "rec")
	os.WriteFile(filepath.Join(bin, "ollama"), []byte("#!/bin/sh\necho \"$PWD|$*|$OLLAMA_HOST\" > "+rec+"\necho 'writing manifest'\n"), 0o755)
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	path := pipelineProject(t, "")
	mfDir := filepath.Join(filepath.Dir(path), "out", "export")
	os.MkdirAll(mfDir, 0o755)
	os.WriteFile(filepath.Join(mfDir, "Modelfile"), []byte("FROM ./x.gguf\n"), 0o644)
	code, out, errs := runSattva(t, "ollama", "create", "-p", path, "--host", "127.0.0.1:1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	got, _ := os.ReadFile(rec)
	want := mfDir + "|create s -f " + filepath.Join(mfDir, "Modelfile") + "|127.0.0.1:1\n"
	if string(got) != want {
		t.Errorf("ollama got %q, want %q", got, want)
	}
	if !strings.Contains(out, "ollama run s") {
		t.Errorf("output: %s", out)
	}
}
