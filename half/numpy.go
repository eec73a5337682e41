package half

import "math"

// FromFloat32Numpy converts f to IEEE half precision with
// round-to-nearest-even, bit for bit as numpy's astype(np.float16)
// (npy_floatbits_to_halfbits): what llama.cpp's converter writes for F16
// tensors. A NaN keeps its sign and the top bits of its payload.
func FromFloat32Numpy(f float32) uint16 {
	x := math.Float32bits(f)
	if h, ok := NormalFromBitsNumpy(x); ok {
		return h
	}
	return FromBitsNumpySlow(x)
}

// NormalFromBitsNumpy converts the float32 bits x when the result is a normal half
// (2^-14 <= |f| < 65536, rounding up to infinity included); ok is false for
// every other input. Adding 0xfff plus the lowest kept bit rounds to nearest
// even exactly as numpy's "add 0x1000 unless the tie is already even"; a carry
// into the exponent is the right result. It is small enough to inline.
func NormalFromBitsNumpy(x uint32) (h uint16, ok bool) {
	abs := x & 0x7fffffff
	if abs-0x38800000 >= 0x47800000-0x38800000 {
		return 0, false
	}
	return uint16(x>>16)&0x8000 | uint16((abs+0xfff+(abs>>13)&1)>>13-112<<10), true
}

// FromBitsNumpySlow is numpy's npy_floatbits_to_halfbits for every input
// (the float32 bits x); row loops call NormalFromBitsNumpy first and this
// only where it declines.
func FromBitsNumpySlow(x uint32) uint16 {
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

// ToFloat32 converts a half-precision value to float32 exactly; a NaN keeps
// its payload bits (a signalling NaN stays signalling), as numpy's
// astype(np.float32) does.
func ToFloat32(h uint16) float32 {
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
