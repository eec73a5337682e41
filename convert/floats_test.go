package convert

import (
	"math"
	"testing"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/half"
	"github.com/sattva/sattva/synth"
)

// TestQ8_0Block checks one block by hand: the largest magnitude maps to ±127
// and halves round away from zero.
func TestQ8_0Block(t *testing.T) {
	src := make([]float32, 32)
	src[0] = 127
	src[1] = -63.5
	src[2] = 0.5
	src[3] = -127
	dst := make([]byte, 34)
	if err := encodeQ8_0(dst, src, 32); err != nil {
		t.Fatal(err)
	}
	if d := half.ToFloat32(uint16(dst[0]) | uint16(dst[1])<<8); d != 1 {
		t.Errorf("scale %v, want 1", d)
	}
	if q := []int8{int8(dst[2]), int8(dst[3]), int8(dst[4]), int8(dst[5])}; q[0] != 127 || q[1] != -64 || q[2] != 1 || q[3] != -127 {
		t.Errorf("quants %v", q)
	}
	if err := encodeQ8_0(dst, src[:16], 16); err == nil {
		t.Error("rows of 16 accepted")
	}
}

// TestFusedMatchesGeneric: the one-pass converters give the bytes of
// decodeRows followed by the type's encoder, special values included.
func TestFusedMatchesGeneric(t *testing.T) {
	var vals []float32
	for _, v := range []float32{0, 1, -2.5, 65504, 65520, 1e-8, 6e-8, 3e-5, 1e30, -1e-30} {
		vals = append(vals, v, -v)
	}
	vals = append(vals, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), math.Float32frombits(0x7f800001), math.Float32frombits(0xff812345))
	state := uint64(1)
	for range 4096 {
		vals = append(vals, math.Float32frombits(uint32(synth.SplitMix64(&state))))
	}
	raw := map[string][]byte{"F32": make([]byte, 4*len(vals)), "BF16": make([]byte, 2*len(vals)), "F16": make([]byte, 2*len(vals))}
	for i, v := range vals {
		b := math.Float32bits(v)
		raw["F32"][4*i], raw["F32"][4*i+1], raw["F32"][4*i+2], raw["F32"][4*i+3] = byte(b), byte(b>>8), byte(b>>16), byte(b>>24)
		raw["BF16"][2*i], raw["BF16"][2*i+1] = byte(b>>16), byte(b>>24)
		raw["F16"][2*i], raw["F16"][2*i+1] = byte(b), byte(b>>8)
	}
	for _, dtype := range []string{"F32", "BF16", "F16"} {
		for _, typ := range []gguf.Type{gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16} {
			fused := fusedEncoder(dtype, typ)
			if fused == nil {
				continue
			}
			f := make([]float32, len(vals))
			if err := decodeRows(f, raw[dtype], dtype); err != nil {
				t.Fatal(err)
			}
			n, _ := typ.RowSize(int64(len(vals)))
			want := make([]byte, n)
			builtinEncoder(typ)(want, f, len(f))
			got := make([]byte, n)
			fused(got, raw[dtype])
			if string(got) != string(want) {
				for i := range got {
					if got[i] != want[i] {
						t.Errorf("%s -> %s: byte %d differs", dtype, typ, i)
						break
					}
				}
			}
		}
	}
}
