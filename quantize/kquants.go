package quantize

import "encoding/binary"

// Block layouts of ggml's k-quants (256-element super-blocks, ggml-common.h):
//
//	Q2_K: scales[16], qs[64], d f16, dmin f16                  84 bytes
//	Q3_K: hmask[32], qs[64], scales[12], d f16                 110 bytes
//	Q4_K: d f16, dmin f16, scales[12], qs[128]                 144 bytes
//	Q5_K: d f16, dmin f16, scales[12], qh[32], qs[128]         176 bytes
//	Q6_K: ql[128], qh[64], scales[16] int8, d f16              210 bytes

const qkK = 256

// scratch is the per-goroutine working memory of the block quantizers, so
// that no block allocates.
type scratch struct {
	li8    [qkK]int8
	lu8    [qkK]uint8
	laux   [32]uint8
	w32    [32]float32
	scales [16]float32
	mins   [16]float32
	sw     [16]float32
	ls     [16]uint8
	lm     [16]uint8
	lsi8   [16]int8
	xm     [32]float32
	fl     [32]float32
	blk    [8]qkxBlock
	g      qkx8
	qwT    [32][8]float32
	g16    qx16
	qw16   [16][16]float32
	qx     [2]qxBlock
	iq4    iq4Scratch
}

func sumSquares256(x *[qkK]float32) float32 {
	var s float32
	for _, v := range x {
		s += float32(v * v)
	}
	return s
}

// packQ2 packs 2-bit values L (0..3) into 64 bytes as q2_K and q3_K do.
func packQ2(qs *[64]byte, L *[qkK]uint8) {
	for j := 0; j < qkK; j += 128 {
		a := (*[128]uint8)(L[j : j+128])
		q := (*[32]byte)(qs[j/4 : j/4+32])
		for l := range q {
			q[l] = a[l] | a[l+32]<<2 | a[l+64]<<4 | a[l+96]<<6
		}
	}
}

// ---- Q2_K

func quantizeBlockQ2_K(x *[qkK]float32, y *[84]byte, s *scratch) {
	const q4scale = float32(15)
	L := &s.lu8
	var maxScale, maxMin float32
	for j := 0; j < 16; j++ {
		xs := x[16*j : 16*j+16]
		w := s.w32[:16]
		for l, v := range xs {
			w[l] = abs32(v)
		}
		s.scales[j] = makeQkx2Quants(xs, w, L[16*j:16*j+16], s.laux[:16], 3, &s.mins[j], -0.5, 0.1, 15, true)
		if s.scales[j] > maxScale {
			maxScale = s.scales[j]
		}
		if s.mins[j] > maxMin {
			maxMin = s.mins[j]
		}
	}
	sc := (*[16]byte)(y[0:16])
	if maxScale > 0 {
		iscale := q4scale / maxScale
		for j := range sc {
			sc[j] = uint8(nearestInt(float32(iscale * s.scales[j])))
		}
		putF16(y[80:82], maxScale/q4scale)
	} else {
		*sc = [16]byte{}
		putF16(y[80:82], 0)
	}
	if maxMin > 0 {
		iscale := q4scale / maxMin
		for j := range sc {
			l := nearestInt(float32(iscale * s.mins[j]))
			sc[j] |= uint8(l << 4)
		}
		putF16(y[82:84], maxMin/q4scale)
	} else {
		putF16(y[82:84], 0)
	}
	requantQ2(x, y, L)
}

func quantizeBlockQ2_KW(x *[qkK]float32, y *[84]byte, qw *[qkK]float32, s *scratch) {
	L := &s.lu8
	sigma2 := sumSquares256(x) / qkK
	for j := 0; j < 16; j++ {
		xs := x[16*j : 16*j+16]
		w := s.w32[:16]
		q := qw[16*j : 16*j+16]
		var sw float32
		for l, v := range xs {
			w[l] = q[l] * sqrt32(sigma2+float32(v*v))
		}
		for l := range w {
			sw += w[l]
		}
		s.sw[j] = sw
		s.scales[j] = makeQkx3Quants(xs, w, L[16*j:16*j+16], s.laux[:16], 3, &s.mins[j], -0.9, 0.05, 36)
	}
	dm := makeQpQuants(s.scales[:], s.ls[:], 15, s.sw[:])
	mm := makeQpQuants(s.mins[:], s.lm[:], 15, s.sw[:])
	putF16(y[80:82], dm)
	putF16(y[82:84], mm)
	sc := (*[16]byte)(y[0:16])
	for j := range sc {
		sc[j] = s.ls[j] | s.lm[j]<<4
	}
	requantQ2(x, y, L)
}

// requantQ2 is the common end of quantize_row_q2_K_ref and _impl: with the
// block's scales (y[0:16]) and its rounded d and dmin (y[80:84]) written, it
// quantizes every sub-block again against them and packs the 2-bit values.
func requantQ2(x *[qkK]float32, y *[84]byte, L *[qkK]uint8) {
	dAll := getF16(y[80:82])
	mAll := getF16(y[82:84])
	sc := y[0:16]
	for j := 0; j < 16; j++ {
		d := dAll * float32(sc[j]&0xF)
		if d == 0 {
			continue
		}
		dm := mAll * float32(sc[j]>>4)
		xs := (*[16]float32)(x[16*j : 16*j+16])
		ls := (*[16]uint8)(L[16*j : 16*j+16])
		for ii, v := range xs {
			ls[ii] = uint8(clampI(nearestInt((v+dm)/d), 0, 3))
		}
	}
	packQ2((*[64]byte)(y[16:80]), L)
}

func dequantizeBlockQ2_K(x *[84]byte, y *[qkK]float32) {
	d := getF16(x[80:82])
	min := getF16(x[82:84])
	is := 0
	for n := 0; n < qkK; n += 128 {
		q := (*[32]byte)(x[16+n/4 : 16+n/4+32])
		out := (*[128]float32)(y[n : n+128])
		shift := 0
		for j := 0; j < 4; j++ {
			sc := x[is]
			is++
			dl := d * float32(sc&0xF)
			ml := min * float32(sc>>4)
			o := out[32*j : 32*j+32]
			for l := 0; l < 16; l++ {
				o[l] = float32(dl*float32((q[l]>>shift)&3)) - ml
			}
			sc = x[is]
			is++
			dl = d * float32(sc&0xF)
			ml = min * float32(sc>>4)
			for l := 0; l < 16; l++ {
				o[16+l] = float32(dl*float32((q[l+16]>>shift)&3)) - ml
			}
			shift += 2
		}
	}
}

// ---- Q3_K

// packQ3Scales stores 16 6-bit values l (0..63) the way q3_K does.
func packQ3Scales(sc *[12]byte, j int, l int32) {
	if j < 8 {
		sc[j] = uint8(l & 0xF)
	} else {
		sc[j-8] |= uint8((l & 0xF) << 4)
	}
	l >>= 4
	sc[j%4+8] |= uint8(l << (2 * (j / 4)))
}

func q3Scale(sc *[12]byte, j int) int8 {
	var v int8
	if j < 8 {
		v = int8(sc[j] & 0xF)
	} else {
		v = int8(sc[j-8] >> 4)
	}
	return (v | int8(((sc[8+j%4]>>(2*(j/4)))&3)<<4)) - 32
}

// finishQ3 requantizes with the stored scales and packs hmask and qs.
func finishQ3(x *[qkK]float32, y *[110]byte, s *scratch) {
	L := &s.li8
	sc := (*[12]byte)(y[96:108])
	dAll := getF16(y[108:110])
	for j := 0; j < 16; j++ {
		d := dAll * float32(q3Scale(sc, j))
		if d == 0 {
			continue
		}
		xs := (*[16]float32)(x[16*j : 16*j+16])
		ls := (*[16]int8)(L[16*j : 16*j+16])
		for ii, v := range xs {
			ls[ii] = int8(clampI(nearestInt(v/d), -4, 3) + 4)
		}
	}
	hmask := (*[32]byte)(y[0:32])
	*hmask = [32]byte{}
	U := &s.lu8
	m := 0
	hm := uint8(1)
	for j := 0; j < qkK; j++ {
		l := uint8(L[j])
		if l > 3 {
			hmask[m] |= hm
			l -= 4
		}
		U[j] = l
		m++
		if m == qkK/8 {
			m = 0
			hm <<= 1
		}
	}
	packQ2((*[64]byte)(y[32:96]), U)
}

func quantizeBlockQ3_K(x *[qkK]float32, y *[110]byte, s *scratch) {
	L := &s.li8
	var maxScale, amax float32
	for j := 0; j < 16; j++ {
		s.scales[j] = makeQ3Quants(x[16*j:16*j+16], L[16*j:16*j+16], 4)
		scale := abs32(s.scales[j])
		if scale > amax {
			amax = scale
			maxScale = s.scales[j]
		}
	}
	sc := (*[12]byte)(y[96:108])
	*sc = [12]byte{}
	if maxScale != 0 {
		iscale := -32 / maxScale
		for j := 0; j < 16; j++ {
			l := int32(int8(nearestInt(float32(iscale * s.scales[j]))))
			l = clampI(l, -32, 31) + 32
			packQ3Scales(sc, j, int32(int8(l)))
		}
		putF16(y[108:110], 1/iscale)
	} else {
		putF16(y[108:110], 0)
	}
	finishQ3(x, y, s)
}

func quantizeBlockQ3_KW(x *[qkK]float32, y *[110]byte, qw *[qkK]float32, s *scratch) {
	L := &s.li8
	sigma2 := 2 * sumSquares256(x) / qkK
	for j := 0; j < 16; j++ {
		xs := x[16*j : 16*j+16]
		w := s.w32[:16]
		q := qw[16*j : 16*j+16]
		for l, v := range xs {
			w[l] = q[l] * sqrt32(sigma2+float32(v*v))
		}
		var sumw float32
		for l := range w {
			sumw += w[l]
		}
		s.sw[j] = sumw
		s.scales[j] = makeQx16((*[16]float32)(xs), (*[16]int8)(L[16*j:16*j+16]), 4, (*[16]float32)(w))
	}
	sc := (*[12]byte)(y[96:108])
	*sc = [12]byte{}
	dBlock := makeQxQuants(s.scales[:], s.lsi8[:], 32, s.sw[:])
	for j := 0; j < 16; j++ {
		packQ3Scales(sc, j, int32(s.lsi8[j]))
	}
	putF16(y[108:110], dBlock)
	finishQ3(x, y, s)
}

func dequantizeBlockQ3_K(x *[110]byte, y *[qkK]float32) {
	dAll := getF16(x[108:110])
	sc := (*[12]byte)(x[96:108])
	hm := (*[32]byte)(x[0:32])
	m := uint8(1)
	is := 0
	for n := 0; n < qkK; n += 128 {
		q := (*[32]byte)(x[32+n/4 : 32+n/4+32])
		out := (*[128]float32)(y[n : n+128])
		shift := 0
		for j := 0; j < 4; j++ {
			o := out[32*j : 32*j+32]
			dl := dAll * float32(q3Scale(sc, is))
			is++
			for l := 0; l < 16; l++ {
				v := int32((q[l] >> shift) & 3)
				if hm[l]&m == 0 {
					v -= 4
				}
				o[l] = dl * float32(v)
			}
			dl = dAll * float32(q3Scale(sc, is))
			is++
			for l := 0; l < 16; l++ {
				v := int32((q[l+16] >> shift) & 3)
				if hm[l+16]&m == 0 {
					v -= 4
				}
				o[16+l] = dl * float32(v)
			}
			shift += 2
			m <<= 1
		}
	}
}

// ---- Q4_K and Q5_K share the 6-bit scale/min packing.

func packK4Scales(sc *[12]byte, j int, ls, lm uint8) {
	if j < 4 {
		sc[j] = ls
		sc[j+4] = lm
	} else {
		sc[j+4] = ls&0xF | (lm&0xF)<<4
		sc[j-4] |= (ls >> 4) << 6
		sc[j] |= (lm >> 4) << 6
	}
}

func scaleMinK4(j int, q *[12]byte) (d, m uint8) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return q[j+4]&0xF | (q[j-4]>>6)<<4, q[j+4]>>4 | (q[j]>>6)<<4
}

// refScalesK4 is the part of quantize_row_q{4,5}_K_ref that turns the
// sub-block scales and mins into 6-bit values and the two f16 super-scales.
func refScalesK4(y []byte, sc *[12]byte, s *scratch, maxScale, maxMin float32) {
	var invScale, invMin float32
	if maxScale > 0 {
		invScale = 63 / maxScale
	}
	if maxMin > 0 {
		invMin = 63 / maxMin
	}
	for j := 0; j < 8; j++ {
		ls := uint8(nearestInt(float32(invScale * s.scales[j])))
		lm := uint8(nearestInt(float32(invMin * s.mins[j])))
		if ls > 63 {
			ls = 63
		}
		if lm > 63 {
			lm = 63
		}
		packK4Scales(sc, j, ls, lm)
	}
	putF16(y[0:2], maxScale/63)
	putF16(y[2:4], maxMin/63)
}

// requantK4 recomputes the levels of each 32-element sub-block from the
// stored scales (shared tail of q4_K and q5_K).
func requantK4(x *[qkK]float32, y []byte, sc *[12]byte, L *[qkK]uint8, nmax int32) {
	dAll := getF16(y[0:2])
	mAll := getF16(y[2:4])
	for j := 0; j < 8; j++ {
		scv, mv := scaleMinK4(j, sc)
		d := dAll * float32(scv)
		if d == 0 {
			continue
		}
		dm := mAll * float32(mv)
		xs := (*[32]float32)(x[32*j : 32*j+32])
		ls := (*[32]uint8)(L[32*j : 32*j+32])
		for ii, v := range xs {
			ls[ii] = uint8(clampI(nearestInt((v+dm)/d), 0, nmax))
		}
	}
}

// impScalesK4 is the imatrix path's make_qp_quants step of q4_K and q5_K.
func impScalesK4(y []byte, sc *[12]byte, s *scratch, clamp bool) {
	dBlock := makeQpQuants(s.scales[:8], s.ls[:8], 63, s.sw[:8])
	mBlock := makeQpQuants(s.mins[:8], s.lm[:8], 63, s.sw[:8])
	for j := 0; j < 8; j++ {
		ls, lm := s.ls[j], s.lm[j]
		if clamp {
			ls = min(63, ls)
			lm = min(63, lm)
		}
		packK4Scales(sc, j, ls, lm)
	}
	putF16(y[0:2], dBlock)
	putF16(y[2:4], mBlock)
}

// refSubBlocksK4 runs make_qkx2_quants over the 8 sub-blocks as the _ref
// quantizers do (all eight at once with AVX2, see qkx8; else two at a
// time, see qkxBlock) and returns the largest scale and min.
func refSubBlocksK4(x *[qkK]float32, s *scratch, nmax int32, rmin float32, nstep int) (maxScale, maxMin float32) {
	L := &s.lu8
	if useAVX2 {
		g := &s.g
		w := &s.w32
		for j := 0; j < 8; j++ {
			xs := (*[32]float32)(x[32*j : 32*j+32])
			refWeights(xs, w)
			g.initLane(j, xs, w, nmax, false)
		}
		g.search(nmax, rmin, 0.1, nstep)
		g.levels(L, nmax)
		for j := 0; j < 8; j++ {
			s.scales[j] = g.scale[j]
			s.mins[j] = -g.min[j]
		}
		return maxScaleMin(s)
	}
	for j := 0; j < 8; j += 2 {
		for k := 0; k < 2; k++ {
			xs := (*[32]float32)(x[32*(j+k) : 32*(j+k)+32])
			refWeights(xs, &s.blk[k].w)
			s.blk[k].init(xs, (*[32]uint8)(L[32*(j+k):32*(j+k)+32]), nmax, false)
		}
		makeQkx32Pair(&s.blk[0], &s.blk[1], nmax, rmin, 0.1, nstep)
		for k := 0; k < 2; k++ {
			s.scales[j+k] = s.blk[k].scale
			s.mins[j+k] = -s.blk[k].min
		}
	}
	return maxScaleMin(s)
}

// refWeights sets w to the weights the _ref Q4_K/Q5_K quantizers give
// make_qkx2_quants for the 32 values xs: av_x + |x|, av_x the root mean
// square of xs.
func refWeights(xs, w *[32]float32) {
	var sumX2 float32
	for _, v := range xs {
		sumX2 += float32(v * v)
	}
	avX := sqrt32(sumX2 / 32)
	for l, v := range xs {
		w[l] = avX + abs32(v)
	}
}

// maxScaleMin returns the largest of the 8 sub-block scales and mins.
func maxScaleMin(s *scratch) (maxScale, maxMin float32) {
	for j := 0; j < 8; j++ {
		if s.scales[j] > maxScale {
			maxScale = s.scales[j]
		}
		if s.mins[j] > maxMin {
			maxMin = s.mins[j]
		}
	}
	return maxScale, maxMin
}

// impSubBlocksK4 runs make_qkx3_quants with importance weights over the 8
// sub-blocks: all eight at once with AVX2 (qkx8, the weights included),
// else in scalar lockstep, skipping the candidates that repeat the levels
// of the one before (see makeQkx32Group; make_qkx2_quants' 21 candidates
// repeat too seldom, about 22%, for the bound to pay).
func impSubBlocksK4(x *[qkK]float32, qw *[qkK]float32, s *scratch, nmax int32) {
	L := &s.lu8
	sigma2 := 2 * sumSquares256(x) / qkK
	if useAVX2 {
		g := &s.g
		for j := 0; j < 8; j++ {
			for l := 0; l < 32; l++ {
				g.x[l][j] = x[32*j+l]
				s.qwT[l][j] = qw[32*j+l]
			}
		}
		var sw [8]float32
		qkxInitW8(g, &s.qwT, sigma2, nmax, &sw)
		copy(s.sw[:8], sw[:])
		g.search(nmax, -0.9, 0.05, 36)
		g.levels(L, nmax)
		for j := 0; j < 8; j++ {
			s.scales[j] = g.scale[j]
			s.mins[j] = -g.min[j]
		}
		return
	}
	for j := 0; j < 8; j++ {
		xs := (*[32]float32)(x[32*j : 32*j+32])
		q := (*[32]float32)(qw[32*j : 32*j+32])
		w := &s.blk[j].w
		for l, v := range xs {
			w[l] = q[l] * sqrt32(sigma2+float32(v*v))
		}
		var sumw float32
		for _, v := range w {
			sumw += v
		}
		s.sw[j] = sumw
		s.blk[j].init(xs, (*[32]uint8)(L[32*j:32*j+32]), nmax, true)
	}
	makeQkx32Group(&s.blk, nmax, -0.9, 0.05, 36)
	for j := 0; j < 8; j++ {
		s.scales[j] = s.blk[j].scale
		s.mins[j] = -s.blk[j].min
	}
}

func packQ4(qs *[128]byte, L *[qkK]uint8) {
	for j := 0; j < qkK; j += 64 {
		a := (*[64]uint8)(L[j : j+64])
		q := (*[32]byte)(qs[j/2 : j/2+32])
		for l := range q {
			q[l] = a[l] | a[l+32]<<4
		}
	}
}

func quantizeBlockQ4_K(x *[qkK]float32, y *[144]byte, s *scratch) {
	maxScale, maxMin := refSubBlocksK4(x, s, 15, -1, 20)
	sc := (*[12]byte)(y[4:16])
	*sc = [12]byte{}
	refScalesK4(y[:], sc, s, maxScale, maxMin)
	requantK4(x, y[:], sc, &s.lu8, 15)
	packQ4((*[128]byte)(y[16:144]), &s.lu8)
}

func quantizeBlockQ4_KW(x *[qkK]float32, y *[144]byte, qw *[qkK]float32, s *scratch) {
	impSubBlocksK4(x, qw, s, 15)
	sc := (*[12]byte)(y[4:16])
	*sc = [12]byte{}
	impScalesK4(y[:], sc, s, false)
	requantK4(x, y[:], sc, &s.lu8, 15)
	packQ4((*[128]byte)(y[16:144]), &s.lu8)
}

func dequantizeBlockQ4_K(x *[144]byte, y *[qkK]float32) {
	d := getF16(x[0:2])
	min := getF16(x[2:4])
	sc := (*[12]byte)(x[4:16])
	for j := 0; j < 4; j++ {
		q := (*[32]byte)(x[16+32*j : 48+32*j])
		o := (*[64]float32)(y[64*j : 64*j+64])
		s1, m1 := scaleMinK4(2*j, sc)
		s2, m2 := scaleMinK4(2*j+1, sc)
		d1, mm1 := d*float32(s1), min*float32(m1)
		d2, mm2 := d*float32(s2), min*float32(m2)
		for l := 0; l < 32; l++ {
			o[l] = float32(d1*float32(q[l]&0xF)) - mm1
		}
		for l := 0; l < 32; l++ {
			o[32+l] = float32(d2*float32(q[l]>>4)) - mm2
		}
	}
}

// ---- Q5_K

func packQ5(y *[176]byte, L *[qkK]uint8) {
	qh := (*[32]byte)(y[16:48])
	*qh = [32]byte{}
	m1, m2 := uint8(1), uint8(2)
	for n := 0; n < qkK; n += 64 {
		ql := (*[32]byte)(y[48+n/2 : 48+n/2+32])
		a := (*[64]uint8)(L[n : n+64])
		for j := range ql {
			l1 := a[j]
			if l1 > 15 {
				l1 -= 16
				qh[j] |= m1
			}
			l2 := a[j+32]
			if l2 > 15 {
				l2 -= 16
				qh[j] |= m2
			}
			ql[j] = l1 | l2<<4
		}
		m1 <<= 2
		m2 <<= 2
	}
}

func quantizeBlockQ5_K(x *[qkK]float32, y *[176]byte, s *scratch) {
	maxScale, maxMin := refSubBlocksK4(x, s, 31, -0.5, 15)
	sc := (*[12]byte)(y[4:16])
	*sc = [12]byte{}
	refScalesK4(y[:], sc, s, maxScale, maxMin)
	requantK4(x, y[:], sc, &s.lu8, 31)
	packQ5(y, &s.lu8)
}

func quantizeBlockQ5_KW(x *[qkK]float32, y *[176]byte, qw *[qkK]float32, s *scratch) {
	impSubBlocksK4(x, qw, s, 31)
	sc := (*[12]byte)(y[4:16])
	*sc = [12]byte{}
	impScalesK4(y[:], sc, s, true)
	requantK4(x, y[:], sc, &s.lu8, 31)
	packQ5(y, &s.lu8)
}

func dequantizeBlockQ5_K(x *[176]byte, y *[qkK]float32) {
	d := getF16(x[0:2])
	min := getF16(x[2:4])
	sc := (*[12]byte)(x[4:16])
	qh := (*[32]byte)(x[16:48])
	u1, u2 := uint8(1), uint8(2)
	for j := 0; j < 4; j++ {
		ql := (*[32]byte)(x[48+32*j : 80+32*j])
		o := (*[64]float32)(y[64*j : 64*j+64])
		s1, m1 := scaleMinK4(2*j, sc)
		s2, m2 := scaleMinK4(2*j+1, sc)
		d1, mm1 := d*float32(s1), min*float32(m1)
		d2, mm2 := d*float32(s2), min*float32(m2)
		for l := 0; l < 32; l++ {
			v := ql[l] & 0xF
			if qh[l]&u1 != 0 {
				v += 16
			}
			o[l] = float32(d1*float32(v)) - mm1
		}
		for l := 0; l < 32; l++ {
			v := ql[l] >> 4
			if qh[l]&u2 != 0 {
				v += 16
			}
			o[32+l] = float32(d2*float32(v)) - mm2
		}
		u1 <<= 2
		u2 <<= 2
	}
}

// ---- Q6_K

// quantizeBlockQ6_K is quantize_row_q6_K_ref (qw nil) and
// quantize_row_q6_K_impl for one super-block: make_qx_quants over the 16
// sub-blocks (all sixteen at once with AVX2, see qx16; else two at a time,
// see qxBlock), the scales quantized to int8, the levels requantized with
// them.
func quantizeBlockQ6_K(x *[qkK]float32, y *[210]byte, qw *[qkK]float32, s *scratch) {
	L := &s.li8
	var maxScale, maxAbsScale float32
	if useAVX2 {
		g := &s.g16
		for k := 0; k < 16; k++ {
			for i := 0; i < 16; i++ {
				g.x[i][k] = x[16*k+i]
			}
		}
		var qwT *[16][16]float32
		if qw != nil {
			qwT = &s.qw16
			for k := 0; k < 16; k++ {
				for i := 0; i < 16; i++ {
					qwT[i][k] = qw[16*k+i]
				}
			}
		}
		qxInit16(g, qwT, 32)
		g.search(L, &s.scales, 32)
	} else {
		for ib := 0; ib < 16; ib += 2 {
			for k := 0; k < 2; k++ {
				var w *[16]float32
				if qw != nil {
					w = (*[16]float32)(qw[16*(ib+k) : 16*(ib+k)+16])
				}
				s.qx[k].init((*[16]float32)(x[16*(ib+k):16*(ib+k)+16]), (*[16]int8)(L[16*(ib+k):16*(ib+k)+16]), 32, w)
			}
			makeQx16Pair(&s.qx[0], &s.qx[1], 32)
			s.scales[ib], s.scales[ib+1] = s.qx[0].scale, s.qx[1].scale
		}
	}
	for ib := 0; ib < 16; ib++ {
		scale := s.scales[ib]
		if abs32(scale) > maxAbsScale {
			maxAbsScale = abs32(scale)
			maxScale = scale
		}
	}
	if maxAbsScale < groupMaxEps {
		*y = [210]byte{}
		putF16(y[208:210], 0)
		return
	}
	iscale := -128 / maxScale
	putF16(y[208:210], 1/iscale)
	sc := (*[16]byte)(y[192:208])
	for ib := range sc {
		sc[ib] = uint8(int8(minI(127, nearestInt(float32(iscale*s.scales[ib])))))
	}
	dAll := getF16(y[208:210])
	for j := 0; j < 16; j++ {
		d := dAll * float32(int8(sc[j]))
		if d == 0 {
			continue
		}
		xs := (*[16]float32)(x[16*j : 16*j+16])
		ls := (*[16]int8)(L[16*j : 16*j+16])
		for ii, v := range xs {
			ls[ii] = int8(clampI(nearestInt(v/d), -32, 31) + 32)
		}
	}
	for j := 0; j < qkK; j += 128 {
		a := (*[128]int8)(L[j : j+128])
		ql := (*[64]byte)(y[j/2 : j/2+64])
		qh := (*[32]byte)(y[128+j/4 : 128+j/4+32])
		for l := 0; l < 32; l++ {
			q1 := uint8(a[l]) & 0xF
			q2 := uint8(a[l+32]) & 0xF
			q3 := uint8(a[l+64]) & 0xF
			q4 := uint8(a[l+96]) & 0xF
			ql[l] = q1 | q3<<4
			ql[l+32] = q2 | q4<<4
			qh[l] = uint8(a[l]>>4) | uint8(a[l+32]>>4)<<2 | uint8(a[l+64]>>4)<<4 | uint8(a[l+96]>>4)<<6
		}
	}
}

func dequantizeBlockQ6_K(x *[210]byte, y *[qkK]float32) {
	d := getF16(x[208:210])
	for n := 0; n < 2; n++ {
		ql := (*[64]byte)(x[64*n : 64*n+64])
		qh := (*[32]byte)(x[128+32*n : 160+32*n])
		sc := (*[8]byte)(x[192+8*n : 200+8*n])
		o := (*[128]float32)(y[128*n : 128*n+128])
		for l := 0; l < 32; l++ {
			is := l / 16
			q1 := int8(ql[l]&0xF|((qh[l]>>0)&3)<<4) - 32
			q2 := int8(ql[l+32]&0xF|((qh[l]>>2)&3)<<4) - 32
			q3 := int8(ql[l]>>4|((qh[l]>>4)&3)<<4) - 32
			q4 := int8(ql[l+32]>>4|((qh[l]>>6)&3)<<4) - 32
			o[l] = float32(d*float32(int8(sc[is]))) * float32(q1)
			o[l+32] = float32(d*float32(int8(sc[is+2]))) * float32(q2)
			o[l+64] = float32(d*float32(int8(sc[is+4]))) * float32(q3)
			o[l+96] = float32(d*float32(int8(sc[is+6]))) * float32(q4)
		}
	}
}

var _ = binary.LittleEndian
