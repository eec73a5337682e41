//go:build cgo

package cli

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/sattva/sattva/internal/fixture"
)

// TestPlanRunMeasure checks the estimate against what llama.cpp itself
// allocates for stories260K (on the GPU when there is one, else every buffer
// on the CPU): weights, KV cache by type, and the compute buffer of the graph
// reserve, with parallel sequences.
func TestPlanRunMeasure(t *testing.T) {
	g := fixture.Path(t, "stories260K/ref/stories260K-f32.ref.gguf")
	for _, c := range []struct{ ctx, par, ub, cache, fa string }{
		{"512", "1", "128", "f16", "on"},
		{"512", "4", "64", "f16", "on"},
		{"512", "2", "128", "f16", "off"},
	} {
		code, out, errs := runSattva(t, "plan", "run", g, "--ctx", c.ctx, "--parallel", c.par, "--ubatch", c.ub, "--cache-type", c.cache, "--flash-attn", c.fa, "--measure", "--json")
		if code != 0 {
			t.Fatalf("%v: exit %d %s", c, code, errs)
		}
		var r struct {
			Estimate struct {
				Buffers int64 `json:"buffers_gpu_bytes"`
			} `json:"estimate"`
			Measured struct {
				Device  string             `json:"device"`
				Bytes   int64              `json:"gpu_buffer_bytes"`
				Buffers map[string]float64 `json:"buffers_mib"`
			} `json:"measured"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		if r.Measured.Bytes == 0 || len(r.Measured.Buffers) < 3 {
			t.Fatalf("%v: llama.cpp's buffer lines not captured: %+v", c, r.Measured)
		}
		rel := math.Abs(float64(r.Estimate.Buffers-r.Measured.Bytes)) / float64(r.Measured.Bytes)
		t.Logf("%v on %s: estimate %d, llama.cpp %d bytes (%.2f%%) %v", c, r.Measured.Device, r.Estimate.Buffers, r.Measured.Bytes, 100*rel, r.Measured.Buffers)
		if rel > 0.05 {
			t.Errorf("%v: estimate %d vs llama.cpp %d bytes: %.1f%% off", c, r.Estimate.Buffers, r.Measured.Bytes, 100*rel)
		}
	}
}
