//go:build cgo

package differential_test

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/llamacpp"
	"github.com/sattva/sattva/quantize"
)

// TestQuantizeRowsMatchesGGML is the property test: for every format, every
// row kind, with and without an importance matrix, the Go bytes equal those
// of ggml_quantize_chunk. 14 kinds × 13 types × 2 × 96 rows ≈ 35,000 rows.
func TestQuantizeRowsMatchesGGML(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const nrows = 96
	for _, typ := range testTypes {
		for _, kind := range rowKinds {
			for _, withIM := range []bool{false, true} {
				ncols := 512
				if typ.BlockSize() == 32 && r.IntN(2) == 0 {
					ncols = 96 // rows that are not a multiple of 256
				}
				x := genRows(r, kind, nrows*ncols)
				var im []float32
				if withIM {
					im = genIMatrix(r, ncols)
				}
				want, err := llamacpp.QuantizeRows(typ, x, nrows, ncols, im)
				if err != nil {
					t.Fatal(err)
				}
				got := make([]byte, len(want))
				if err := quantize.QuantizeRows(typ, got, x, ncols, im); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					rs := len(want) / nrows
					for i := 0; i < nrows; i++ {
						if !bytes.Equal(got[i*rs:(i+1)*rs], want[i*rs:(i+1)*rs]) {
							t.Errorf("%v %s imatrix=%v: row %d differs:\n go %x\n  C %x", typ, kind, withIM, i, got[i*rs:i*rs+min(rs, 40)], want[i*rs:i*rs+min(rs, 40)])
							break
						}
					}
				}
				// Parallel quantization gives the same bytes.
				par := make([]byte, len(want))
				if err := quantize.QuantizeRowsParallel(t.Context(), typ, par, x, ncols, im, 3); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(par, got) {
					t.Errorf("%v %s: parallel result differs from serial", typ, kind)
				}
			}
		}
	}
}

// TestDequantizeMatchesGGML checks DequantizeRows against ggml's to_float on
// the quantized rows (compared as bits).
func TestDequantizeMatchesGGML(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, typ := range testTypes {
		for _, kind := range rowKinds {
			const ncols, nrows = 512, 8
			x := genRows(r, kind, ncols*nrows)
			q, err := llamacpp.QuantizeRows(typ, x, nrows, ncols, nil)
			if err != nil {
				t.Fatal(err)
			}
			want, err := llamacpp.Dequantize(typ, q, len(x))
			if err != nil {
				t.Fatal(err)
			}
			got := make([]float32, len(x))
			if err := quantize.DequantizeRows(typ, got, q); err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Errorf("%v %s: element %d: go %v, C %v", typ, kind, i, got[i], want[i])
					break
				}
			}
		}
	}
}

// FuzzQuantize is differential: any bytes, read as float32 rows, quantize
// to the same bytes in Go and in ggml. Non-finite values are replaced, as
// llama.cpp never quantizes them.
func FuzzQuantize(f *testing.F) {
	f.Add(uint8(0), false, bytes.Repeat([]byte{0x3f, 0x80, 0, 0}, 256))
	f.Add(uint8(7), true, bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 200}, 128))
	f.Fuzz(func(t *testing.T, sel uint8, withIM bool, data []byte) {
		typ := testTypes[int(sel)%len(testTypes)]
		bs := typ.BlockSize()
		n := len(data) / 4 / 256 * 256
		if n == 0 {
			return
		}
		x := make([]float32, n)
		for i := range x {
			v := math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || math.Abs(float64(v)) > 1e30 {
				v = float32(i%17) - 8
			}
			x[i] = v
		}
		ncols := 256
		if bs == 32 && n%512 == 0 {
			ncols = 512
		}
		var im []float32
		if withIM {
			im = make([]float32, ncols)
			for i := range im {
				im[i] = abs(x[i]) + 0.5
			}
		}
		want, err := llamacpp.QuantizeRows(typ, x, n/ncols, ncols, im)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(want))
		if err := quantize.QuantizeRows(typ, got, x, ncols, im); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%v (imatrix %v): bytes differ", typ, withIM)
		}
	})
}

func abs(f float32) float32 { return float32(math.Abs(float64(f))) }

// BenchmarkQuantizeRows runs the Go and the C quantizer side by side on the
// same rows, one thread each (ggml_quantize_chunk is single-threaded), without
// and with an importance matrix.
func BenchmarkQuantizeRows(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	const ncols, nrows = 4096, 32
	x := genRows(r, "normal", ncols*nrows)
	im := genIMatrix(r, ncols)
	for _, typ := range []gguf.Type{gguf.TypeQ4_K, gguf.TypeQ5_K, gguf.TypeQ6_K, gguf.TypeQ8_0, gguf.TypeQ4_0, gguf.TypeQ3_K, gguf.TypeQ2_K,
		gguf.TypeIQ4_NL, gguf.TypeIQ4_XS} {
		rs, _ := quantize.RowSize(typ, ncols)
		dst := make([]byte, rs*nrows)
		for _, w := range []struct {
			name string
			im   []float32
		}{{"", nil}, {"-imatrix", im}} {
			b.Run(typ.String()+"/go"+w.name, func(b *testing.B) {
				b.SetBytes(int64(4 * len(x)))
				b.ReportAllocs()
				for b.Loop() {
					if err := quantize.QuantizeRows(typ, dst, x, ncols, w.im); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(typ.String()+"/ggml"+w.name, func(b *testing.B) {
				b.SetBytes(int64(4 * len(x)))
				b.ReportAllocs()
				for b.Loop() {
					if _, err := llamacpp.QuantizeRows(typ, x, nrows, ncols, w.im); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
