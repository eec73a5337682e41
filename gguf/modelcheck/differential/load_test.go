//go:build cgo

package differential

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sattva/sattva/internal/hostile"
)

// TestTinyLlamaLoads: the fixture every hostile case breaks loads, tokenizes
// and generates in llama.cpp, and so does its adapter.
func TestTinyLlamaLoads(t *testing.T) {
	r := runChild(t, "model", hostile.TinyLlama().Bytes(), "")
	if r.code != childLoaded || r.crashed() != "" {
		t.Fatalf("exit %d %s:\n%s", r.code, r.crashed(), r.out)
	}
	base := writeTemp(t, hostile.TinyLlama().Bytes())
	r = runChild(t, "adapter", hostile.TinyLoRA().Bytes(), base)
	if r.code != childLoaded || r.crashed() != "" {
		t.Fatalf("adapter: exit %d %s:\n%s", r.code, r.crashed(), r.out)
	}
}

// TestHostileGGUFRefused loads every hostile GGUF (the review's
// reproductions among them) through llamacpp.Load in a child: each must be
// refused cleanly (exit 3 from a *LoadError), never abort the process.
// Before the model check, llama.cpp aborted on most of them.
func TestHostileGGUFRefused(t *testing.T) {
	base := writeTemp(t, hostile.TinyLlama().Bytes())
	for _, c := range hostile.GGUFCases() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			mode := "model"
			if c.Kind == hostile.AsAdapter {
				mode = "adapter"
			}
			r := runChild(t, mode, c.Data, base)
			if why := r.crashed(); why != "" {
				t.Fatalf("child crashed (%s):\n%s", why, r.out)
			}
			if r.code != childRefused {
				t.Fatalf("exit %d, want %d (refused):\n%s", r.code, childRefused, r.out)
			}
		})
	}
}

func writeTemp(t testing.TB, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "base.gguf")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
