//go:build cgo

package llamacpp

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/sattva/sattva/internal/hostile"
)

// TestLoRAScaleNonFiniteRefused: the review's reproduction. A NaN or
// infinite LoRA scale was accepted and scaled every weight of the adapter
// into NaN. Load refuses it as invalid input, whichever command passes it
// (the CLI's --lora, a project's adapters, serve), and a finite scale loads.
func TestLoRAScaleNonFiniteRefused(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base.gguf")
	lora := filepath.Join(dir, "lora.gguf")
	if err := os.WriteFile(base, hostile.TinyLlama().Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lora, hostile.TinyLoRA().Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, s := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		m, err := Load(base, ModelOptions{CPUOnly: true, LoRA: []Adapter{{Path: lora, Scale: s}}})
		var le *LoadError
		if !errors.As(err, &le) || !le.Invalid || le.Path != lora {
			if m != nil {
				m.Close()
			}
			t.Fatalf("scale %v: %v, want an invalid-input LoadError naming the adapter", s, err)
		}
	}
	m, err := Load(base, ModelOptions{CPUOnly: true, LoRA: []Adapter{{Path: lora, Scale: 0.5}}})
	if err != nil {
		t.Fatalf("scale 0.5: %v", err)
	}
	m.Close()
}
