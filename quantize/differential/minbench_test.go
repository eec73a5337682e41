//go:build cgo

package differential_test

import (
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/llamacpp"
	"github.com/sattva/sattva/quantize"
)

// TestSideBySideMinTime alternates the Go and the C quantizer on the same
// rows many times and compares the fastest run of each, which a loaded
// machine disturbs far less than a mean. Run with SATTVA_SIDE_BY_SIDE=1
// (it takes ~20 s); prints one line per type.
func TestSideBySideMinTime(t *testing.T) {
	if os.Getenv("SATTVA_SIDE_BY_SIDE") == "" {
		t.Skip("set SATTVA_SIDE_BY_SIDE=1 to run")
	}
	r := rand.New(rand.NewPCG(3, 4))
	const ncols, nrows = 4096, 16
	x := genRows(r, "normal", ncols*nrows)
	types := []gguf.Type{gguf.TypeQ4_K, gguf.TypeQ5_K, gguf.TypeQ6_K, gguf.TypeQ8_0, gguf.TypeQ3_K, gguf.TypeQ2_K, gguf.TypeQ4_0}
	if os.Getenv("SATTVA_SIDE_BY_SIDE") == "imatrix" {
		// Every type with and without an importance matrix, IQ4_* included.
		types = append(types, gguf.TypeIQ4_NL, gguf.TypeIQ4_XS)
	}
	im := genIMatrix(r, ncols)
	for _, typ := range types {
		for _, w := range [][]float32{nil, im} {
			if w != nil && os.Getenv("SATTVA_SIDE_BY_SIDE") != "imatrix" {
				continue
			}
			rs, _ := quantize.RowSize(typ, ncols)
			dst := make([]byte, rs*nrows)
			bestGo, bestC := time.Hour, time.Hour
			for i := 0; i < 25; i++ {
				t0 := time.Now()
				quantize.QuantizeRows(typ, dst, x, ncols, w)
				bestGo = min(bestGo, time.Since(t0))
				t0 = time.Now()
				llamacpp.QuantizeRows(typ, x, nrows, ncols, w)
				bestC = min(bestC, time.Since(t0))
			}
			mb := func(d time.Duration) float64 { return float64(4*len(x)) / d.Seconds() / 1e6 }
			t.Logf("%-6v imatrix=%-5v go %8.2f MB/s  ggml %8.2f MB/s  go/ggml time %.2fx", typ, w != nil, mb(bestGo), mb(bestC), bestGo.Seconds()/bestC.Seconds())
		}
	}
}
