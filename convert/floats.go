package convert

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/half"
)

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
		h, ok := half.NormalFromBitsNumpy(x)
		if !ok {
			h = half.FromBitsNumpySlow(x)
		}
		dst[2*i], dst[2*i+1] = byte(h), byte(h>>8)
	}
	return nil
}

func encodeBF16(dst []byte, src []float32, _ int) error {
	dst = dst[:2*len(src)]
	for i, v := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], half.BF16FromFloat32(v))
	}
	return nil
}

// encodeQ8_0 writes Q8_0 blocks exactly as gguf-py's numpy
// Q8_0.quantize_blocks (gguf.QuantizeQ8_0Numpy).
func encodeQ8_0(dst []byte, src []float32, cols int) error {
	if cols%32 != 0 || len(src)%32 != 0 {
		return fmt.Errorf("convert: Q8_0 needs rows of a multiple of 32 values, not %d", cols)
	}
	for b := 0; b*32 < len(src); b++ {
		gguf.QuantizeQ8_0Numpy((*[32]float32)(src[b*32:]), (*[34]byte)(dst[b*34:]))
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
				h, ok := half.NormalFromBitsNumpy(b)
				if !ok {
					h = half.FromBitsNumpySlow(b)
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
				h := half.BF16FromFloat32(math.Float32frombits(uint32(b) << 16))
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
				h := half.FromFloat32Numpy(math.Float32frombits(binary.LittleEndian.Uint32(raw[i:])))
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
			dst[i] = half.ToFloat32(binary.LittleEndian.Uint16(raw[2*i:]))
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
