package convert

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/sattva/sattva/gguf"
)

// FP32ToFP16 converts f to IEEE half precision with round-to-nearest-even,
// bit for bit as numpy's astype(np.float16) (npy_floatbits_to_halfbits): what
// llama.cpp's converter writes for F16 tensors.
func FP32ToFP16(f float32) uint16 {
	x := math.Float32bits(f)
	if h, ok := fp16Normal(x); ok {
		return h
	}
	return fp32ToFP16Slow(x)
}

// fp16Normal converts the float32 bits x when the result is a normal half
// (2^-14 <= |f| < 65536, rounding up to infinity included); ok is false for
// every other input. Adding 0xfff plus the lowest kept bit rounds to nearest
// even exactly as numpy's "add 0x1000 unless the tie is already even"; a carry
// into the exponent is the right result. It is small enough to inline.
func fp16Normal(x uint32) (h uint16, ok bool) {
	abs := x & 0x7fffffff
	if abs-0x38800000 >= 0x47800000-0x38800000 {
		return 0, false
	}
	return uint16(x>>16)&0x8000 | uint16((abs+0xfff+(abs>>13)&1)>>13-112<<10), true
}

// fp32ToFP16Slow is numpy's npy_floatbits_to_halfbits for every input.
func fp32ToFP16Slow(x uint32) uint16 {
	sign := uint16(x>>16) & 0x8000
	exp := x & 0x7f800000
	if exp >= 0x47800000 { // overflow, inf or NaN
		if exp == 0x7f800000 {
			sig := x & 0x007fffff
			if sig != 0 {
				r := uint16(0x7c00 + (sig >> 13))
				if r == 0x7c00 {
					r++
				}
				return sign + r
			}
		}
		return sign + 0x7c00
	}
	if exp <= 0x38000000 { // subnormal half or zero
		if exp < 0x33000000 {
			return sign
		}
		e := exp >> 23
		sig := 0x00800000 + (x & 0x007fffff)
		sig >>= 113 - e
		if (sig&0x3fff) != 0x1000 || x&0x7ff != 0 {
			sig += 0x1000
		}
		return sign + uint16(sig>>13)
	}
	hexp := uint16((exp - 0x38000000) >> 13)
	sig := x & 0x007fffff
	if sig&0x3fff != 0x1000 {
		sig += 0x1000
	}
	return sign + uint16(sig>>13) + hexp
}

// FP16ToFP32 converts a half-precision value to float32 exactly.
func FP16ToFP32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	man := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp == 0:
		if man == 0 {
			return math.Float32frombits(sign)
		}
		// subnormal: normalise
		e := uint32(113)
		for man&0x400 == 0 {
			man <<= 1
			e--
		}
		man &= 0x3ff
		return math.Float32frombits(sign | e<<23 | man<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
}

// FP32ToBF16 converts f to bfloat16 as gguf-py does (quants.py
// __compute_fp32_to_bf16): NaNs are made quiet, everything else is rounded to
// nearest even.
func FP32ToBF16(f float32) uint16 {
	n := math.Float32bits(f)
	if n&0x7fffffff > 0x7f800000 {
		n = n&0xffff0000 | 64<<16
	}
	return uint16((uint64(n) + uint64(0x7fff+((n>>16)&1))) >> 16)
}

// BF16ToFP32 widens a bfloat16 value to float32 exactly.
func BF16ToFP32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// RowEncoder encodes whole rows of float32 (len(src) a multiple of cols) into
// dst, which is exactly the GGUF bytes of those rows. It is how a per-tensor
// output type is produced; Options.Encoder plugs in encoders for types this
// package does not write itself (the k-quants of package quantize).
type RowEncoder func(dst []byte, src []float32, cols int) error

// builtinEncoder returns this package's encoder for t, or nil.
func builtinEncoder(t gguf.Type) RowEncoder {
	switch t {
	case gguf.TypeF32:
		return encodeF32
	case gguf.TypeF16:
		return encodeF16
	case gguf.TypeBF16:
		return encodeBF16
	case gguf.TypeQ8_0:
		return encodeQ8_0
	}
	return nil
}

func encodeF32(dst []byte, src []float32, _ int) error {
	for i, v := range src {
		binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
	}
	return nil
}

func encodeF16(dst []byte, src []float32, _ int) error {
	dst = dst[:2*len(src)]
	for i, v := range src {
		x := math.Float32bits(v)
		h, ok := fp16Normal(x)
		if !ok {
			h = fp32ToFP16Slow(x)
		}
		dst[2*i], dst[2*i+1] = byte(h), byte(h>>8)
	}
	return nil
}

func encodeBF16(dst []byte, src []float32, _ int) error {
	dst = dst[:2*len(src)]
	for i, v := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], FP32ToBF16(v))
	}
	return nil
}

// encodeQ8_0 writes Q8_0 blocks (fp16 scale, 32 int8) exactly as gguf-py's
// numpy Q8_0.quantize_blocks, which matches ggml's quantize_row_q8_0_ref:
// d = amax/127 in float32, q = round-half-away(x * (1/d)), d stored as fp16
// rounded to nearest even. (Written here because package quantize had no
// Q8_0 encoder when convert was written; the two are tested against the same
// llama.cpp reference hashes.)
func encodeQ8_0(dst []byte, src []float32, cols int) error {
	if cols%32 != 0 || len(src)%32 != 0 {
		return fmt.Errorf("convert: Q8_0 needs rows of a multiple of 32 values, not %d", cols)
	}
	for b := 0; b*32 < len(src); b++ {
		x := src[b*32 : b*32+32]
		out := dst[b*34 : b*34+34]
		var amax float32
		for _, v := range x {
			a := float32(math.Abs(float64(v)))
			if a > amax || a != a {
				amax = a
			}
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		binary.LittleEndian.PutUint16(out, FP32ToFP16(d))
		for i, v := range x {
			q := float32(v * id)
			out[2+i] = byte(int8(math.Round(float64(q))))
		}
	}
	return nil
}

// fusedEncoder returns a converter straight from a safetensors dtype's raw
// bytes to the output type's bytes, bit for bit what decodeRows followed by
// the type's RowEncoder gives, for the common pairs; nil otherwise.
func fusedEncoder(dtype string, t gguf.Type) func(dst, raw []byte) {
	switch {
	case dtype == "F32" && t == gguf.TypeF32, dtype == "F16" && t == gguf.TypeF16:
		return func(dst, raw []byte) { copy(dst, raw) }
	case dtype == "BF16" && t == gguf.TypeF16:
		return func(dst, raw []byte) {
			if len(raw) == 0 {
				return
			}
			_ = dst[len(raw)-1]
			for i := 0; i+1 < len(raw); i += 2 {
				b := (uint32(raw[i]) | uint32(raw[i+1])<<8) << 16
				h, ok := fp16Normal(b)
				if !ok {
					h = fp32ToFP16Slow(b)
				}
				dst[i], dst[i+1] = byte(h), byte(h>>8)
			}
		}
	case dtype == "BF16" && t == gguf.TypeBF16:
		return func(dst, raw []byte) {
			if len(raw) == 0 {
				return
			}
			_ = dst[len(raw)-1]
			for i := 0; i+1 < len(raw); i += 2 {
				b := uint16(raw[i]) | uint16(raw[i+1])<<8
				h := FP32ToBF16(math.Float32frombits(uint32(b) << 16))
				dst[i], dst[i+1] = byte(h), byte(h>>8)
			}
		}
	case dtype == "BF16" && t == gguf.TypeF32:
		return func(dst, raw []byte) {
			if len(raw) == 0 {
				return
			}
			_ = dst[2*len(raw)-1]
			for i := 0; i+1 < len(raw); i += 2 {
				dst[2*i], dst[2*i+1], dst[2*i+2], dst[2*i+3] = 0, 0, raw[i], raw[i+1]
			}
		}
	case dtype == "F32" && t == gguf.TypeF16:
		return func(dst, raw []byte) {
			for i := 0; i+3 < len(raw); i += 4 {
				h := FP32ToFP16(math.Float32frombits(binary.LittleEndian.Uint32(raw[i:])))
				dst[i/2], dst[i/2+1] = byte(h), byte(h>>8)
			}
		}
	}
	return nil
}

// decodeRows converts n values of a safetensors dtype in raw to float32.
func decodeRows(dst []float32, raw []byte, dtype string) error {
	switch dtype {
	case "F32":
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case "BF16":
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(raw[2*i:])) << 16)
		}
	case "F16":
		for i := range dst {
			dst[i] = FP16ToFP32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	case "F64":
		for i := range dst {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:])))
		}
	default:
		return fmt.Errorf("dtype %s cannot be converted to floating point weights", dtype)
	}
	return nil
}

// sourceDTypeOK reports whether a weight of this dtype can be converted.
func sourceDTypeOK(dtype string) bool {
	switch dtype {
	case "F32", "BF16", "F16", "F64":
		return true
	}
	return false
}
