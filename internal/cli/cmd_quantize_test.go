package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/fixture"
)

func TestQuantizeCommand(t *testing.T) {
	in := fixture.Path(t, "stories260K/ref/stories260K-f32.ref.gguf")
	out := filepath.Join(t.TempDir(), "q.gguf")
	code, stdout, stderr := runSattva(t, "quantize", "-q", "--json", in, out, "q4_k_m")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var s quantizeSummary
	if err := json.Unmarshal([]byte(stdout), &s); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	st, _ := os.Stat(out)
	if s.FileType != "Q4_K_M" || s.OutputBytes != st.Size() || s.Types["Q8_0"] != 3 || s.BitsPerWeight < 8 || s.BitsPerWeight > 8.5 {
		t.Errorf("summary %+v", s)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if ft, _ := f.Uint32("general.file_type"); ft != 15 {
		t.Errorf("general.file_type = %d, want 15", ft)
	}
	// The human summary names sizes and bits per weight.
	code, stdout, _ = runSattva(t, "quantize", "-q", in, filepath.Join(t.TempDir(), "q6.gguf"), "Q6_K")
	if code != 0 || !strings.Contains(stdout, "bits per weight") || !strings.Contains(stdout, "->") {
		t.Errorf("exit %d, summary %q", code, stdout)
	}
}

func TestQuantizeCommandErrors(t *testing.T) {
	in := fixture.Path(t, "stories260K/ref/stories260K-f32.ref.gguf")
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
		code int
	}{
		{"unknown type", []string{"quantize", in, filepath.Join(dir, "a"), "Q9_X"}, ExitUsage},
		{"unknown engine", []string{"quantize", "--engine", "cuda", in, filepath.Join(dir, "b"), "Q4_K_M"}, ExitUsage},
		{"bad tensor type flag", []string{"quantize", "--output-tensor-type", "q7", in, filepath.Join(dir, "c"), "Q4_K_M"}, ExitUsage},
		{"missing arguments", []string{"quantize", in}, ExitUsage},
		{"not a GGUF", []string{"quantize", "-q", filepath.Join(fixture.Path(t, "stories260K/hf"), "config.json"), filepath.Join(dir, "d"), "Q4_K_M"}, ExitInvalidInput},
		{"pure on rows of 64", []string{"quantize", "-q", "--pure", in, filepath.Join(dir, "e"), "Q4_K_M"}, ExitFailure},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runSattva(t, c.args...)
			if code != c.code {
				t.Errorf("exit %d, want %d (%s)", code, c.code, stderr)
			}
		})
	}
}
