package quantize

import (
	"math"
	"sync"
)

// FP32ToFP16 converts f to IEEE half precision exactly as ggml's
// ggml_compute_fp32_to_fp16 does: round to nearest even, subnormals kept,
// overflow to infinity, every NaN to the quiet NaN 0x7E00 with f's sign.
func FP32ToFP16(f float32) uint16 {
	const scaleToInf = float32(0x1.0p+112)
	const scaleToZero = float32(0x1.0p-110)
	base := float32(float32(abs32(f)*scaleToInf) * scaleToZero)

	w := math.Float32bits(f)
	shl1w := w + w
	sign := w & 0x80000000
	bias := shl1w & 0xFF000000
	if bias < 0x71000000 {
		bias = 0x71000000
	}
	base = math.Float32frombits((bias>>1)+0x07800000) + base
	bits := math.Float32bits(base)
	expBits := (bits >> 13) & 0x00007C00
	mantBits := bits & 0x00000FFF
	nonsign := expBits + mantBits
	if shl1w > 0xFF000000 {
		nonsign = 0x7E00
	}
	return uint16(sign>>16) | uint16(nonsign)
}

// FP16ToFP32 converts an IEEE half to float32 (exact), as
// ggml_compute_fp16_to_fp32.
func FP16ToFP32(h uint16) float32 {
	w := uint32(h) << 16
	sign := w & 0x80000000
	twoW := w + w
	const expOffset = uint32(0xE0) << 23
	const expScale = float32(0x1.0p-112)
	normalized := math.Float32frombits((twoW>>4)+expOffset) * expScale
	const magicMask = uint32(126) << 23
	const magicBias = float32(0.5)
	denormalized := math.Float32frombits((twoW>>17)|magicMask) - magicBias
	const denormCutoff = uint32(1) << 27
	var r uint32
	if twoW < denormCutoff {
		r = sign | math.Float32bits(denormalized)
	} else {
		r = sign | math.Float32bits(normalized)
	}
	return math.Float32frombits(r)
}

// FP32ToBF16 converts f to bfloat16 as ggml_compute_fp32_to_bf16: round to
// nearest even, NaNs forced quiet, subnormals kept.
func FP32ToBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 64
	}
	return uint16((u + (0x7fff + ((u >> 16) & 1))) >> 16)
}

// BF16ToFP32 widens a bfloat16 to float32 (exact).
func BF16ToFP32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

func abs32(f float32) float32 { return math.Float32frombits(math.Float32bits(f) &^ (1 << 31)) }

// fp16Table holds FP16ToFP32 of every half, for decoding whole rows (ggml's
// CPU backend keeps the same table); 256 KiB, built on first use.
var fp16Table = sync.OnceValue(func() *[1 << 16]float32 {
	t := new([1 << 16]float32)
	for i := range t {
		t[i] = FP16ToFP32(uint16(i))
	}
	return t
})

// decodeF16 converts little-endian halves in src to float32 in dst.
func decodeF16(dst []float32, src []byte) {
	t := fp16Table()
	src = src[:2*len(dst)]
	for i := range dst {
		dst[i] = t[uint16(src[2*i])|uint16(src[2*i+1])<<8]
	}
}
