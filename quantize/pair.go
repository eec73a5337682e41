package quantize

import "math"

// qkxBlock is the state of make_qkx2_quants / make_qkx3_quants for one
// 32-value sub-block, so that sub-blocks can be searched in lockstep: their
// candidate passes are independent, and interleaving two lets the CPU
// overlap the two chains of float additions, which C and Go both must do
// strictly in order. Each block still sees exactly C's operations.
type qkxBlock struct {
	x             [32]float32 // a copy, so that a pass addresses it off the block
	w             [32]float32 // the weights, written here by the caller before init
	L             *[32]uint8
	min, max, rng float32
	sumW, sumX    float32
	scale, best   float32
	xm, fl        [32]float32
	laux          [32]uint8
	done          bool // all values equal (or max <= min): L is 0, nothing to search

	// makeQkx32Group's skipping (see there): a candidate whose numerator
	// (rmin + rdelta*is + nmax) is below untilNum has the levels of the
	// candidate computed last (-Inf: compute the next).
	untilNum float32
	nan      bool // a NaN among x (set by makeQkx32Group): never skip
	noSkip   bool // nan, or a range where the bound's arithmetic is not safe
}

// init runs the part of makeQkx32 before the candidate loop, with the
// weights the caller wrote to b.w.
func (b *qkxBlock) init(x *[32]float32, L *[32]uint8, nmax int32, qkx3 bool) {
	b.x, b.L = *x, L
	w := &b.w
	min, max, sumW, sumX := weightedRange(x[:], w[:])
	if min > 0 {
		min = 0
	}
	b.min, b.max, b.sumW, b.sumX = min, max, sumW, sumX
	b.done = max == min || (qkx3 && max <= min)
	if b.done {
		*L = [32]uint8{}
		b.scale = 0
		return
	}
	for i := range b.xm {
		b.xm[i] = x[i] - min
	}
	fnmax := float32(nmax)
	b.rng = max - min
	iscale := fnmax / b.rng
	b.scale = 1 / iscale
	var bestError float32
	for i := range b.xm {
		l := clampI(nearestInt(float32(iscale*b.xm[i])), 0, nmax)
		L[i] = uint8(l)
		diff := float32(b.scale*float32(l)) + min - x[i]
		bestError += float32(w[i] * float32(diff*diff))
	}
	b.best = bestError
}

// candidate finishes one candidate whose sums are known: the least-squares
// scale and min, their error, and the switch when it is better.
func (b *qkxBlock) candidate(sumL, sumL2, sumXL float32) (thisScale, thisMin float32, ok bool) {
	D := float32(b.sumW*sumL2) - float32(sumL*sumL)
	if !(D > 0) {
		return 0, 0, false
	}
	thisScale = (float32(b.sumW*sumXL) - float32(b.sumX*sumL)) / D
	thisMin = (float32(sumL2*b.sumX) - float32(sumL*sumXL)) / D
	if thisMin > 0 {
		thisMin = 0
		thisScale = sumXL / sumL2
	}
	return thisScale, thisMin, true
}

// accept takes the candidate when it is better (C's strict "<") and says
// whether it did.
func (b *qkxBlock) accept(curError, thisScale, thisMin float32) bool {
	if !(curError < b.best) {
		return false
	}
	*b.L = b.laux
	b.best = curError
	b.scale = thisScale
	b.min = thisMin
	b.rng = b.max - b.min
	for i := range b.xm {
		b.xm[i] = b.x[i] - b.min
	}
	return true
}

// startSkip readies a block initialised by init for makeQkx32Group: the
// first candidate is computed, and the bound is only trusted for values
// without NaN and a range in [1e-30, 1e30] (the products stay far from the
// 2^22 where nearest_int stops being exact).
func (b *qkxBlock) startSkip() {
	b.untilNum = float32(math.Inf(-1))
	b.noSkip = b.nan || !(b.rng >= 1e-30 && b.rng <= 1e30)
}

// next sets when the block's next candidate must be computed, after one was
// computed and taken (the range and xm changed: the next one) or not (its
// levels hold until the bound t, see setBound).
func (b *qkxBlock) next(taken bool, t int32) {
	if taken {
		b.startSkip()
		return
	}
	b.setBound(t)
}

// setBound sets b.untilNum from t, the bits (as int32) of the largest
// xm/(l + 0.5) over the levels l < nmax just computed at the current xm, or
// 0 when there is none (the passes compute it as xm times inv[l], inv[l] =
// 1/(l + 0.5), 0 at nmax: a level at nmax stays clamped, and one of a
// negative xm stays 0). A larger candidate scale s keeps every level as long
// as fl(s*xm) < l + 0.5 for each, that is while s < 1/t, and the group
// compares numerators instead of scales (s = num/rng) to spare a division:
// num < rng/t keeps the levels. inv, the product, the quotient, the margin
// and then s = num/rng and fl(s*xm) round once each (2^-24 relative at
// most, 3.6e-7 for the six), so rng/t less 2e-6 relative is below every
// exact bound, and a candidate under it has exactly the levels just
// computed. t = 0 gives +Inf: no level can change again.
func (b *qkxBlock) setBound(t int32) {
	if b.noSkip {
		b.untilNum = float32(math.Inf(-1))
		return
	}
	b.untilNum = float32(float32(b.rng/math.Float32frombits(uint32(t))) * (1 - 2e-6))
}

// makeQkx32Pair is makeQkx32 for two sub-blocks at once; theMin and the
// returned scales are per block.
func makeQkx32Pair(a, b *qkxBlock, nmax int32, rmin, rdelta float32, nstep int) {
	fnmax := float32(nmax)
	for is := 0; is <= nstep; is++ {
		num := rmin + float32(rdelta*float32(is)) + fnmax
		switch {
		case !a.done && !b.done:
			sa0, sa1, sa2, sb0, sb1, sb2 := qkxPass2(a, b, num/a.rng, num/b.rng, nmax)
			as, am, aok := a.candidate(sa0, sa1, sa2)
			bs, bm, bok := b.candidate(sb0, sb1, sb2)
			switch {
			case aok && bok:
				ea, eb := qkxError2(as, am, a.fl[:], a.x[:], a.w[:], bs, bm, b.fl[:], b.x[:], b.w[:])
				a.accept(ea, as, am)
				b.accept(eb, bs, bm)
			case aok:
				a.accept(qkxError(as, am, a.fl[:], a.x[:], a.w[:]), as, am)
			case bok:
				b.accept(qkxError(bs, bm, b.fl[:], b.x[:], b.w[:]), bs, bm)
			}
		case !a.done:
			s0, s1, s2 := qkxPass(num/a.rng, nmax, a.xm[:], a.w[:], a.x[:], a.fl[:], a.laux[:])
			if s, m, ok := a.candidate(s0, s1, s2); ok {
				a.accept(qkxError(s, m, a.fl[:], a.x[:], a.w[:]), s, m)
			}
		case !b.done:
			s0, s1, s2 := qkxPass(num/b.rng, nmax, b.xm[:], b.w[:], b.x[:], b.fl[:], b.laux[:])
			if s, m, ok := b.candidate(s0, s1, s2); ok {
				b.accept(qkxError(s, m, b.fl[:], b.x[:], b.w[:]), s, m)
			}
		}
	}
}

// qkxPass2 is qkxPass for two sub-blocks, interleaved. It addresses every
// array off its block, which leaves the loop enough registers: with ten
// slices it reloaded their bases from the stack on every iteration.
//
//go:noinline
func qkxPass2(a, b *qkxBlock, ia, ib float32, nmax int32) (a0, a1, a2, b0, b1, b2 float32) {
	for i := 0; i < 32; i++ {
		la := clampI(nearestInt(float32(ia*a.xm[i])), 0, nmax)
		lb := clampI(nearestInt(float32(ib*b.xm[i])), 0, nmax)
		a.laux[i] = uint8(la)
		b.laux[i] = uint8(lb)
		fa := float32(la)
		fb := float32(lb)
		a.fl[i] = fa
		b.fl[i] = fb
		wla := float32(a.w[i] * fa)
		wlb := float32(b.w[i] * fb)
		a0 += wla
		b0 += wlb
		a1 += float32(wla * fa)
		b1 += float32(wlb * fb)
		a2 += float32(wla * a.x[i])
		b2 += float32(wlb * b.x[i])
	}
	return
}

// makeQkx32Group is makeQkx32 for the 8 sub-blocks of a super-block in
// lockstep, the ones with a candidate to compute two at a time (see
// qkxBlock); theMin and the returned scales are per block.
//
// A candidate whose numerator is under the block's bound (see setBound) has the
// levels of the candidate computed before it, and then its sums, its
// least-squares scale and min and its error are that candidate's, computed
// by the same operations; that candidate was either taken (best equals its
// error) or beaten (best is at most it), so C's strict "<" cannot take this
// one, and it is skipped without changing a byte. Candidate scales only grow
// between two taken candidates (num grows with is, the range stays); after
// one is taken the range changes and the next is always computed. Of
// make_qkx3_quants' 37 candidates, 0.05 apart, about 45% repeat the levels
// before them on normal rows, and the bound catches most of them.
func makeQkx32Group(blk *[8]qkxBlock, nmax int32, rmin, rdelta float32, nstep int) {
	fnmax := float32(nmax)
	inv := invHalfFor(nmax)
	var todo [8]*qkxBlock
	var sc [8]float32
	for k := range blk {
		if b := &blk[k]; !b.done {
			b.nan = false
			for _, v := range b.x {
				if v != v {
					b.nan = true
				}
			}
			b.startSkip()
		}
	}
	for is := 0; is <= nstep; is++ {
		num := rmin + float32(rdelta*float32(is)) + fnmax
		n := 0
		for k := range blk {
			b := &blk[k]
			if b.done {
				continue
			}
			if !(num < b.untilNum) {
				todo[n], sc[n] = b, num/b.rng
				n++
			}
		}
		k := 0
		for ; k+1 < n; k += 2 {
			a, b := todo[k], todo[k+1]
			sa0, sa1, sa2, sb0, sb1, sb2, ta, tb := qkxPass2B(a, b, sc[k], sc[k+1], nmax, inv)
			as, am, aok := a.candidate(sa0, sa1, sa2)
			bs, bm, bok := b.candidate(sb0, sb1, sb2)
			switch {
			case aok && bok:
				ea, eb := qkxError2(as, am, a.fl[:], a.x[:], a.w[:], bs, bm, b.fl[:], b.x[:], b.w[:])
				a.next(a.accept(ea, as, am), ta)
				b.next(b.accept(eb, bs, bm), tb)
			case aok:
				a.next(a.accept(qkxError(as, am, a.fl[:], a.x[:], a.w[:]), as, am), ta)
				b.setBound(tb)
			case bok:
				b.next(b.accept(qkxError(bs, bm, b.fl[:], b.x[:], b.w[:]), bs, bm), tb)
				a.setBound(ta)
			default:
				a.setBound(ta)
				b.setBound(tb)
			}
		}
		if k < n {
			todo[k].search(sc[k], nmax, inv)
		}
	}
}

// search computes one candidate of b alone.
func (b *qkxBlock) search(iscale float32, nmax int32, inv *[32]float32) {
	s0, s1, s2, t := qkxPassB(iscale, nmax, inv, b.xm[:], b.w[:], b.x[:], b.fl[:], b.laux[:])
	if s, m, ok := b.candidate(s0, s1, s2); ok {
		b.next(b.accept(qkxError(s, m, b.fl[:], b.x[:], b.w[:]), s, m), t)
	} else {
		b.setBound(t)
	}
}

// invHalf holds 1/(l + 0.5) for the levels l below nmax and 0 from nmax
// on, for nmax 15 (Q4_K) and 31 (Q5_K): the bound of setBound.
var invHalf = [2]*[32]float32{newInvHalf(15), newInvHalf(31)}

func newInvHalf(nmax int32) *[32]float32 {
	t := new([32]float32)
	for l := range min(nmax, 32) {
		t[l] = 1 / (float32(l) + 0.5)
	}
	return t
}

func invHalfFor(nmax int32) *[32]float32 {
	switch nmax {
	case 15:
		return invHalf[0]
	case 31:
		return invHalf[1]
	}
	return newInvHalf(nmax)
}

// qkxPass2B is qkxPassB for two sub-blocks, interleaved: qkxPass2's loop
// with the bound added. The two stay separate loops on purpose: computing
// the bound in qkxPass2 made the plain (no imatrix) Q4_K rows 8% slower.
//
//go:noinline
func qkxPass2B(a, b *qkxBlock, ia, ib float32, nmax int32, inv *[32]float32) (a0, a1, a2, b0, b1, b2 float32, ta, tb int32) {
	for i := 0; i < 32; i++ {
		xma, xmb := a.xm[i], b.xm[i]
		la := clampI(nearestInt(float32(ia*xma)), 0, nmax)
		lb := clampI(nearestInt(float32(ib*xmb)), 0, nmax)
		a.laux[i] = uint8(la)
		b.laux[i] = uint8(lb)
		ta = max(ta, int32(math.Float32bits(float32(xma*inv[la&31]))))
		tb = max(tb, int32(math.Float32bits(float32(xmb*inv[lb&31]))))
		fa := float32(la)
		fb := float32(lb)
		a.fl[i] = fa
		b.fl[i] = fb
		wla := float32(a.w[i] * fa)
		wlb := float32(b.w[i] * fb)
		a0 += wla
		b0 += wlb
		a1 += float32(wla * fa)
		b1 += float32(wlb * fb)
		a2 += float32(wla * a.x[i])
		b2 += float32(wlb * b.x[i])
	}
	return
}

// qkxError2 is qkxError for two sub-blocks, interleaved.
//
//go:noinline
func qkxError2(sa, ma float32, fla, xa, wa []float32, sb, mb float32, flb, xb, wb []float32) (ea, eb float32) {
	fla, xa, wa = fla[:32], xa[:32], wa[:32]
	flb, xb, wb = flb[:32], xb[:32], wb[:32]
	for i := 0; i < 32; i++ {
		da := float32(sa*fla[i]) + ma - xa[i]
		db := float32(sb*flb[i]) + mb - xb[i]
		ea += float32(wa[i] * float32(da*da))
		eb += float32(wb[i] * float32(db*db))
	}
	return
}

// qxBlock is make_qx_quants's state for one 16-value sub-block (see makeQx16).
type qxBlock struct {
	x     *[16]float32
	L     *[16]int8
	w, wx [16]float32
	max   float32
	scale float32
	best  float32
	done  bool
}

func (b *qxBlock) init(x *[16]float32, L *[16]int8, nmax int32, qw *[16]float32) (sumlx, suml2 float32) {
	b.x, b.L = x, L
	max, amax := signedAbsMax(x[:])
	b.max = max
	b.done = amax < groupMaxEps
	if b.done {
		*L = [16]int8{}
		b.scale = 0
		return 0, 0
	}
	for i, v := range x {
		if qw != nil {
			b.w[i] = qw[i]
		} else {
			b.w[i] = float32(v * v)
		}
		b.wx[i] = float32(b.w[i] * v)
	}
	iscale := -float32(nmax) / max
	sumlx, suml2 = qxPass16(iscale, nmax, x[:], b.w[:], b.wx[:])
	b.setL(iscale, nmax)
	b.scale = 0
	if suml2 != 0 {
		b.scale = sumlx / suml2
	}
	b.best = float32(b.scale * sumlx)
	return
}

func (b *qxBlock) setL(iscale float32, nmax int32) {
	for i, v := range b.x {
		l := clampI(nearestInt(float32(iscale*v)), -nmax, nmax-1)
		b.L[i] = int8(nmax + l)
	}
}

func (b *qxBlock) consider(iscale float32, nmax int32, sumlx, suml2 float32) {
	if suml2 > 0 && float32(sumlx*sumlx) > float32(b.best*suml2) {
		b.setL(iscale, nmax)
		b.scale = sumlx / suml2
		b.best = float32(b.scale * sumlx)
	}
}

// makeQx16Pair is makeQx16 for two sub-blocks at once.
func makeQx16Pair(a, b *qxBlock, nmax int32) {
	fnmax := float32(nmax)
	for is := -9; is <= 9; is++ {
		if is == 0 {
			continue
		}
		num := -(fnmax + float32(0.1*float32(is)))
		switch {
		case !a.done && !b.done:
			ia, ib := num/a.max, num/b.max
			a0, a1, b0, b1 := qxPass16x2(ia, ib, nmax, a.x[:], a.w[:], a.wx[:], b.x[:], b.w[:], b.wx[:])
			a.consider(ia, nmax, a0, a1)
			b.consider(ib, nmax, b0, b1)
		case !a.done:
			ia := num / a.max
			s0, s1 := qxPass16(ia, nmax, a.x[:], a.w[:], a.wx[:])
			a.consider(ia, nmax, s0, s1)
		case !b.done:
			ib := num / b.max
			s0, s1 := qxPass16(ib, nmax, b.x[:], b.w[:], b.wx[:])
			b.consider(ib, nmax, s0, s1)
		}
	}
}

// qxPass16x2 is qxPass16 for two sub-blocks, interleaved.
//
//go:noinline
func qxPass16x2(ia, ib float32, nmax int32, xa, wa, wxa, xb, wb, wxb []float32) (a0, a1, b0, b1 float32) {
	xa, wa, wxa = xa[:16], wa[:16], wxa[:16]
	xb, wb, wxb = xb[:16], wb[:16], wxb[:16]
	lo, hi := -nmax, nmax-1
	for i := 0; i < 16; i++ {
		la := clampI(nearestInt(float32(ia*xa[i])), lo, hi)
		lb := clampI(nearestInt(float32(ib*xb[i])), lo, hi)
		fa := float32(la)
		fb := float32(lb)
		a0 += float32(wxa[i] * fa)
		b0 += float32(wxb[i] * fb)
		a1 += float32(float32(wa[i]*fa) * fa)
		b1 += float32(float32(wb[i]*fb) * fb)
	}
	return
}
