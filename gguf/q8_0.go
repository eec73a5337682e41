package gguf

import (
	"encoding/binary"
	"math"

	"github.com/sattva/sattva/half"
)

// Q8_0 is ggml's simplest block type, written by both the converter
// (convert_hf_to_gguf.py --outtype q8_0) and the quantizer, so it lives here,
// beside the type table, as in gguf-py's quants.py. A block is 32 values: an
// F16 scale d = max|x|/127 and 32 int8 quants round-half-away(x/d).
//
// gguf-py (numpy) and ggml agree on every block of finite values and differ
// when a block holds a NaN or an infinity, so both rules are here under
// names that say which; each caller keeps the one it reproduces.

// QuantizeQ8_0GGML encodes one block exactly as ggml's
// quantize_row_q8_0_ref: max|x| by MAX(amax, fabsf(v)), the scale rounded
// to F16 by ggml's rule (half.FromFloat32GGML).
func QuantizeQ8_0GGML(x *[32]float32, y *[34]byte) {
	var amax float32
	for _, v := range x {
		av := math.Float32frombits(math.Float32bits(v) &^ (1 << 31))
		if !(amax > av) { // MAX(amax, fabsf(v))
			amax = av
		}
	}
	d, id := q8_0Scale(amax)
	binary.LittleEndian.PutUint16(y[0:2], half.FromFloat32GGML(d))
	for j, v := range x {
		t := float64(float32(v * id))
		y[2+j] = uint8(int8(int32(t + math.Copysign(0.5, t))))
	}
}

// QuantizeQ8_0Numpy encodes one block exactly as gguf-py's numpy
// Q8_0.quantize_blocks: a NaN anywhere makes max|x| NaN (numpy's max), the
// scale is rounded to F16 by numpy's rule (half.FromFloat32Numpy) and the
// quants by np.round's half away from zero on x*(1/d).
func QuantizeQ8_0Numpy(x *[32]float32, y *[34]byte) {
	var amax float32
	for _, v := range x {
		a := float32(math.Abs(float64(v)))
		if a > amax || a != a {
			amax = a
		}
	}
	d, id := q8_0Scale(amax)
	binary.LittleEndian.PutUint16(y[0:2], half.FromFloat32Numpy(d))
	for i, v := range x {
		q := float32(v * id)
		y[2+i] = byte(int8(math.Round(float64(q))))
	}
}

// q8_0Scale is a block's scale d = max|x|/127 and its inverse (0 for an
// all-zero block), both rules' first step.
func q8_0Scale(amax float32) (d, id float32) {
	d = amax / 127
	if d != 0 {
		id = 1 / d
	}
	return d, id
}

// DequantizeQ8_0 decodes one block as ggml's dequantize_row_q8_0.
func DequantizeQ8_0(x *[34]byte, y *[32]float32) {
	d := half.ToFloat32GGML(binary.LittleEndian.Uint16(x[0:2]))
	for j := range y {
		y[j] = float32(int8(x[2+j])) * d
	}
}
