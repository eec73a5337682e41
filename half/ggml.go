package half

import "math"

// FromFloat32GGML converts f to IEEE half precision exactly as ggml's
// ggml_compute_fp32_to_fp16 does: round to nearest even, subnormals kept,
// overflow to infinity, every NaN to the quiet NaN 0x7E00 with f's sign.
func FromFloat32GGML(f float32) uint16 {
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

// ToFloat32GGML converts an IEEE half to float32 as
// ggml_compute_fp16_to_fp32: exact for every number; a signalling NaN comes
// back quiet (the float multiply quiets it), where ToFloat32 keeps it.
func ToFloat32GGML(h uint16) float32 {
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

// BF16FromFloat32 converts f to bfloat16 as ggml_compute_fp32_to_bf16 and
// gguf-py's __compute_fp32_to_bf16 (the two agree on every input): round to
// nearest even, NaNs forced quiet, subnormals kept.
func BF16FromFloat32(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 64
	}
	return uint16((u + (0x7fff + ((u >> 16) & 1))) >> 16)
}

// BF16ToFloat32 widens a bfloat16 to float32 (exact).
func BF16ToFloat32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

func abs32(f float32) float32 { return math.Float32frombits(math.Float32bits(f) &^ (1 << 31)) }
