package quantize

import (
	"encoding/binary"

	"github.com/sattva/sattva/half"
)

// This file ports ggml-quants.c's 4-bit non-linear quants (IQ4_NL: blocks of
// 32 with one half scale; IQ4_XS: super-blocks of 256 with 6-bit sub-block
// scales) from quantize_row_iq4_nl_impl, quantize_iq4_nl and quantize_iq4_xs,
// operation for operation. ggml_quantize_chunk calls quantize_iq4_nl and
// quantize_iq4_xs with ntry = 7 whether or not an importance matrix is
// given, so there is one path with optional weights.

// kvaluesIQ4NL is ggml-common.h's kvalues_iq4nl: the 16 levels.
var kvaluesIQ4NL = [16]int8{-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113}

// kvaluesIQ4NLf holds the same levels as float32 (C promotes them).
var kvaluesIQ4NLf = func() (v [16]float32) {
	for i, k := range kvaluesIQ4NL {
		v[i] = float32(k)
	}
	return v
}()

const (
	blockIQ4NLSize = 18  // ggml_half d; uint8 qs[16]
	blockIQ4XSSize = 136 // ggml_half d; uint16 scales_h; uint8 scales_l[4]; uint8 qs[128]
	iq4NTry        = 7
)

// bestIndexIQ4 is best_index_int8(16, kvalues_iq4nl, x).
func bestIndexIQ4(x float32) uint8 {
	val := &kvaluesIQ4NLf
	if x <= val[0] {
		return 0
	}
	if x >= val[15] {
		return 15
	}
	ml, mu := 0, 15
	for mu-ml > 1 {
		mav := (ml + mu) / 2
		if x < val[mav] {
			mu = mav
		} else {
			ml = mav
		}
	}
	if float32(x-val[mu-1]) < float32(val[mu]-x) {
		return uint8(mu - 1)
	}
	return uint8(mu)
}

// iq4Scratch holds quantize_row_iq4_nl_impl's work arrays.
type iq4Scratch struct {
	L      [qkK]uint8
	weight [32]float32
	scales [qkK / 32]float32
}

// iq4Block is quantize_row_iq4_nl_impl with values = kvalues_iq4nl and ntry
// = 7 for a super-block of len(x) values (32 or 256) in blocks of 32. It
// returns dh[0] as a float (before rounding to half) and, for super-blocks,
// fills scalesH/scalesL. q4 receives len(x)/2 bytes.
func iq4Block(x []float32, q4 []byte, qw []float32, s *iq4Scratch) (dh uint16, scalesH uint16, scalesL [4]byte) {
	superBlock := len(x)
	const blockSize = 32
	var sigma2 float32
	for _, v := range x {
		sigma2 += float32(v * v)
	}
	sigma2 *= 2 / float32(superBlock)

	values := &kvaluesIQ4NLf
	L := s.L[:superBlock]
	var maxScale, amaxScale float32
	nb := superBlock / blockSize
	for ib := 0; ib < nb; ib++ {
		xb := x[ib*blockSize : (ib+1)*blockSize]
		Lb := L[ib*blockSize : (ib+1)*blockSize]
		w := s.weight[:]
		if qw != nil {
			q := qw[ib*blockSize : (ib+1)*blockSize]
			for j := range blockSize {
				w[j] = float32(q[j] * sqrt32(sigma2+float32(xb[j]*xb[j])))
			}
		} else {
			for j := range blockSize {
				w[j] = float32(xb[j] * xb[j])
			}
		}
		max, amax := signedAbsMax(xb)
		if amax < groupMaxEps {
			s.scales[ib] = 0
			continue
		}
		d := -max / values[0] // ntry > 0
		id := 1 / d
		var sumqx, sumq2 float32
		for j := range blockSize {
			al := float32(id * xb[j])
			l := bestIndexIQ4(al)
			Lb[j] = l
			q := values[l]
			wj := w[j]
			sumqx += float32(float32(wj*q) * xb[j])
			sumq2 += float32(float32(wj*q) * q)
		}
		d = sumqx / sumq2
		best := float32(d * sumqx)
		for itry := -iq4NTry; itry <= iq4NTry; itry++ {
			id = float32(itry+int(kvaluesIQ4NL[0])) / max
			sumqx, sumq2 = 0, 0
			for j := range blockSize {
				al := float32(id * xb[j])
				l := bestIndexIQ4(al)
				q := values[l]
				wj := w[j]
				sumqx += float32(float32(wj*q) * xb[j])
				sumq2 += float32(float32(wj*q) * q)
			}
			if sumq2 > 0 && float32(sumqx*sumqx) > float32(best*sumq2) {
				d = sumqx / sumq2
				best = float32(d * sumqx)
			}
		}
		s.scales[ib] = d
		if ad := abs32(d); ad > amaxScale {
			amaxScale = ad
			maxScale = d
		}
	}

	if nb > 1 {
		d := -maxScale / 32
		dh = half.FromFloat32GGML(d)
		var id float32
		if d != 0 {
			id = 1 / d
		}
		for ib := 0; ib < nb; ib++ {
			l := clampI(nearestInt(float32(id*s.scales[ib])), -32, 31)
			dl := float32(d * float32(l))
			var idl float32
			if dl != 0 {
				idl = 1 / dl
			}
			Lb := L[ib*blockSize : (ib+1)*blockSize]
			xb := x[ib*blockSize : (ib+1)*blockSize]
			for j := range blockSize {
				Lb[j] = bestIndexIQ4(float32(idl * xb[j]))
			}
			l += 32
			lL := uint8(l & 0xf)
			lH := uint16(l >> 4)
			if ib%2 == 0 {
				scalesL[ib/2] = lL
			} else {
				scalesL[ib/2] |= lL << 4
			}
			scalesH |= lH << (2 * (ib % 8))
		}
	} else {
		dh = half.FromFloat32GGML(s.scales[0])
		var id float32
		if s.scales[0] != 0 {
			id = 1 / s.scales[0]
		}
		for j := range superBlock {
			L[j] = bestIndexIQ4(float32(id * x[j]))
		}
	}
	for i := 0; i < superBlock/32; i++ {
		for j := range 16 {
			q4[16*i+j] = L[32*i+j] | L[32*i+16+j]<<4
		}
	}
	return dh, scalesH, scalesL
}

// quantizeRowIQ4NL is quantize_iq4_nl for one row.
func quantizeRowIQ4NL(y []byte, x, qw []float32, s *iq4Scratch) {
	for ib := 0; ib < len(x)/32; ib++ {
		var w []float32
		if qw != nil {
			w = qw[32*ib : 32*ib+32]
		}
		b := y[blockIQ4NLSize*ib : blockIQ4NLSize*(ib+1)]
		dh, _, _ := iq4Block(x[32*ib:32*ib+32], b[2:18], w, s)
		binary.LittleEndian.PutUint16(b, dh)
	}
}

// quantizeRowIQ4XS is quantize_iq4_xs for one row.
func quantizeRowIQ4XS(y []byte, x, qw []float32, s *iq4Scratch) {
	for ib := 0; ib < len(x)/qkK; ib++ {
		var w []float32
		if qw != nil {
			w = qw[qkK*ib : qkK*ib+qkK]
		}
		b := y[blockIQ4XSSize*ib : blockIQ4XSSize*(ib+1)]
		dh, sh, sl := iq4Block(x[qkK*ib:qkK*ib+qkK], b[8:136], w, s)
		binary.LittleEndian.PutUint16(b, dh)
		binary.LittleEndian.PutUint16(b[2:], sh)
		copy(b[4:8], sl[:])
	}
}

// dequantizeRowIQ4NL is dequantize_row_iq4_nl.
func dequantizeRowIQ4NL(x []byte, y []float32) {
	for i := 0; i < len(y)/32; i++ {
		b := x[blockIQ4NLSize*i:]
		d := getF16(b)
		qs := b[2:18]
		yb := y[32*i:]
		for j := range 16 {
			yb[j] = d * kvaluesIQ4NLf[qs[j]&0xf]
			yb[j+16] = d * kvaluesIQ4NLf[qs[j]>>4]
		}
	}
}

// dequantizeRowIQ4XS is dequantize_row_iq4_xs.
func dequantizeRowIQ4XS(x []byte, y []float32) {
	for i := 0; i < len(y)/qkK; i++ {
		b := x[blockIQ4XSSize*i:]
		d := getF16(b)
		sh := binary.LittleEndian.Uint16(b[2:])
		sl := b[4:8]
		qs := b[8:136]
		for ib := 0; ib < qkK/32; ib++ {
			ls := int32(sl[ib/2]>>(4*(ib%2)))&0xf | int32((sh>>(2*ib))&3)<<4
			dl := d * float32(ls-32)
			yb := y[qkK*i+32*ib:]
			q := qs[16*ib:]
			for j := range 16 {
				yb[j] = dl * kvaluesIQ4NLf[q[j]&0xf]
				yb[j+16] = dl * kvaluesIQ4NLf[q[j]>>4]
			}
		}
	}
}
