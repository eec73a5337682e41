package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/fixture"
)

func TestConvertCommand(t *testing.T) {
	hf := fixture.Path(t, "stories260K/hf")
	out := filepath.Join(t.TempDir(), "s.gguf")
	code, stdout, stderr := runSattva(t, "convert", hf, "--outtype", "q8_0", "-q", "-o", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "wrote "+out) {
		t.Errorf("stdout %q", stdout)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	if ft, _ := f.Uint32("general.file_type"); ft != 7 {
		t.Errorf("file_type %d", ft)
	}
	f.Close()

	dry := filepath.Join(t.TempDir(), "dry.gguf")
	code, stdout, _ = runSattva(t, "convert", hf, "--dry-run", "-o", dry)
	if code != 0 || !strings.Contains(stdout, "blk.0.attn_q.weight") || !strings.Contains(stdout, "nothing written") {
		t.Errorf("dry run: exit %d, %q", code, stdout)
	}
	if _, err := os.Stat(dry); !os.IsNotExist(err) {
		t.Errorf("dry run wrote %s", dry)
	}
}

func TestConvertCommandErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"architectures":["BertModel"]}`), 0o644)
	if code, _, stderr := runSattva(t, "convert", dir, "-q", "-o", filepath.Join(dir, "x.gguf")); code != ExitInvalidInput || !strings.Contains(stderr, "config.json") {
		t.Errorf("unsupported architecture: exit %d, %q", code, stderr)
	}
	if code, _, _ := runSattva(t, "convert", dir, "--outtype", "q9_9"); code != ExitUsage {
		t.Errorf("bad --outtype: exit %d", code)
	}
	if code, _, _ := runSattva(t, "convert", "lora", dir); code != ExitUsage {
		t.Errorf("lora without --base: exit %d", code)
	}
	if code, _, _ := runSattva(t, "synth", "--shape", "llama9", filepath.Join(dir, "s")); code != ExitUsage {
		t.Errorf("unknown shape: exit %d", code)
	}
}

func TestSynthAndLoRACommands(t *testing.T) {
	dir := t.TempDir()
	if code, _, stderr := runSattva(t, "synth", "--shape", "tiny", "-q", filepath.Join(dir, "hf")); code != 0 {
		t.Fatalf("synth: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "hf", "model.safetensors")); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "lora.gguf")
	code, stdout, stderr := runSattva(t, "convert", "lora", fixture.Path(t, "llama31-tiny/lora"), "--base", fixture.Path(t, "llama31-tiny/hf"), "-q", "-o", out)
	if code != 0 || !strings.Contains(stdout, "28 tensors") {
		t.Fatalf("convert lora: exit %d: %s %s", code, stdout, stderr)
	}
}
