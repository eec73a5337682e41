//go:build cgo

package llamacpp

import (
	"math"
	"testing"

	"github.com/sattva/sattva/gguf"
)

// TestQuantizeRowsNonFiniteRefused: ggml's IQ1/IQ2/IQ3 quantizers abort the
// process (GGML_ASSERT(grid_index >= 0), "point not on grid") or segfault on
// a NaN or an infinity; QuantizeRows refuses them for every type before any
// C code runs, in the values and in the importance matrix.
func TestQuantizeRowsNonFiniteRefused(t *testing.T) {
	const rows, cols = 2, 256
	im := make([]float32, cols)
	for i := range im {
		im[i] = 1
	}
	for typ := range quantizable {
		for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
			src := make([]float32, rows*cols)
			for i := range src {
				src[i] = float32(i%7) - 3
			}
			src[5] = bad
			if _, err := QuantizeRows(typ, src, rows, cols, im); err == nil {
				t.Errorf("%v: value %v accepted", typ, bad)
			}
			src[5] = 1
			badIM := append([]float32(nil), im...)
			badIM[9] = bad
			if _, err := QuantizeRows(typ, src, rows, cols, badIM); err == nil {
				t.Errorf("%v: imatrix weight %v accepted", typ, bad)
			}
		}
	}
	src := make([]float32, rows*cols)
	if _, err := QuantizeRows(gguf.TypeIQ3_S, src, rows, cols, im); err != nil {
		t.Errorf("IQ3_S of zeros: %v", err)
	}
}
