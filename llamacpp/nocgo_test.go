//go:build !cgo

package llamacpp

import (
	"context"
	"errors"
	"testing"

	"github.com/sattva/sattva/gguf"
)

func TestNoEngine(t *testing.T) {
	if _, err := Load("x.gguf", ModelOptions{}); !errors.Is(err, ErrNoEngine) {
		t.Errorf("Load: %v", err)
	}
	if _, err := InitBackends("", nil); !errors.Is(err, ErrNoEngine) {
		t.Errorf("InitBackends: %v", err)
	}
	if _, err := QuantizeRows(gguf.TypeQ8_0, make([]float32, 32), 1, 32, nil); !errors.Is(err, ErrNoEngine) {
		t.Errorf("QuantizeRows: %v", err)
	}
	if err := Quantize(context.Background(), "a", "b", QuantizeOptions{}); !errors.Is(err, ErrNoEngine) {
		t.Errorf("Quantize: %v", err)
	}
	var c *Context
	for _, err := range c.Generate(context.Background(), nil, GenerateOptions{}) {
		if !errors.Is(err, ErrNoEngine) {
			t.Errorf("Generate: %v", err)
		}
	}
}
