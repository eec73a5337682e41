package quantize

import "math"

// This file ports ggml-quants.c's helpers (nearest_int, make_qx_quants,
// make_q3_quants, make_qkx2_quants, make_qkx3_quants, make_qp_quants)
// operation for operation. Every float32 product that C rounds before adding
// is wrapped in an explicit float32 conversion: the Go spec lets a compiler
// fuse x*y+z on some architectures (arm64), and a conversion forbids it.

// groupMaxEps is ggml's GROUP_MAX_EPS.
const groupMaxEps = float32(1e-15)

// nearestInt is ggml's nearest_int: add 1.5*2^23 and read the mantissa.
// Exact for |f| <= 4194303; beyond that it returns what C returns.
func nearestInt(f float32) int32 {
	v := float32(f) + 12582912
	return int32(math.Float32bits(v)&0x007fffff) - 0x00400000
}

func sqrt32(f float32) float32 { return float32(math.Sqrt(float64(f))) }

func clampI(l, lo, hi int32) int32 {
	if l > hi {
		l = hi
	}
	if l < lo {
		l = lo
	}
	return l
}

// signedAbsMax returns the first value of largest magnitude in x and that
// magnitude (0, 0 for an empty or all-zero x): the scan every ggml
// quantizer with a signed scale starts with.
func signedAbsMax(x []float32) (max, amax float32) {
	for _, v := range x {
		if ax := abs32(v); ax > amax {
			amax = ax
			max = v
		}
	}
	return max, amax
}

// weightedRange is the first pass of make_qkx2/qkx3_quants: the minimum and
// maximum of x and the sums of w and w*x, accumulated in ggml's order.
func weightedRange(x, w []float32) (min, max, sumW, sumX float32) {
	min, max = x[0], x[0]
	sumW = w[0]
	sumX = float32(sumW * x[0])
	for i := 1; i < len(x); i++ {
		v := x[i]
		if v < min {
			min = v
		}
		if v > max {
			max = v
		}
		sumW += w[i]
		sumX += float32(w[i] * v)
	}
	return min, max, sumW, sumX
}

// makeQxQuants is make_qx_quants for rmseType 1 (the only type the ported
// quantizers use) with weights qw, or x*x when qw is nil. L gets values in
// [0, 2*nmax).
func makeQxQuants(x []float32, L []int8, nmax int32, qw []float32) float32 {
	n := len(x)
	L = L[:n]
	if qw != nil {
		qw = qw[:n]
	}
	max, amax := signedAbsMax(x[:])
	if amax < groupMaxEps {
		for i := range L {
			L[i] = 0
		}
		return 0
	}
	fnmax := float32(nmax)
	iscale := -fnmax / max
	var sumlx, suml2 float32
	for i, v := range x {
		l := clampI(nearestInt(float32(iscale*v)), -nmax, nmax-1)
		L[i] = int8(l + nmax)
		var w float32
		if qw != nil {
			w = qw[i]
		} else {
			w = float32(v * v)
		}
		fl := float32(l)
		sumlx += float32(float32(w*v) * fl)
		suml2 += float32(float32(w*fl) * fl)
	}
	var scale float32
	if suml2 != 0 {
		scale = sumlx / suml2
	}
	best := float32(scale * sumlx)
	for is := -9; is <= 9; is++ {
		if is == 0 {
			continue
		}
		iscale = -(fnmax + float32(0.1*float32(is))) / max
		sumlx, suml2 = 0, 0
		for i, v := range x {
			l := clampI(nearestInt(float32(iscale*v)), -nmax, nmax-1)
			var w float32
			if qw != nil {
				w = qw[i]
			} else {
				w = float32(v * v)
			}
			fl := float32(l)
			sumlx += float32(float32(w*v) * fl)
			suml2 += float32(float32(w*fl) * fl)
		}
		if suml2 > 0 && float32(sumlx*sumlx) > float32(best*suml2) {
			for i, v := range x {
				l := clampI(nearestInt(float32(iscale*v)), -nmax, nmax-1)
				L[i] = int8(nmax + l)
			}
			scale = sumlx / suml2
			best = float32(scale * sumlx)
		}
	}
	return scale
}

// makeQ3Quants is make_q3_quants with do_rmse true (q3_K's reference path).
func makeQ3Quants(x []float32, L []int8, nmax int32) float32 {
	n := len(x)
	L = L[:n]
	max, amax := signedAbsMax(x[:])
	if amax < groupMaxEps {
		for i := range L {
			L[i] = 0
		}
		return 0
	}
	iscale := -float32(nmax) / max
	var sumlx, suml2 float32
	for i, v := range x {
		l := clampI(nearestInt(float32(iscale*v)), -nmax, nmax-1)
		L[i] = int8(l)
		w := float32(v * v)
		fl := float32(l)
		sumlx += float32(float32(w*v) * fl)
		suml2 += float32(float32(w*fl) * fl)
	}
	for itry := 0; itry < 5; itry++ {
		nChanged := 0
		for i, v := range x {
			w := float32(v * v)
			fL := float32(L[i])
			slx := sumlx - float32(float32(w*v)*fL)
			if slx > 0 {
				sl2 := suml2 - float32(float32(w*fL)*fL)
				newL := clampI(nearestInt(float32(v*sl2)/slx), -nmax, nmax-1)
				if newL != int32(L[i]) {
					fn := float32(newL)
					slx += float32(float32(w*v) * fn)
					sl2 += float32(float32(w*fn) * fn)
					if sl2 > 0 && float32(float32(slx*slx)*suml2) > float32(float32(sumlx*sumlx)*sl2) {
						L[i] = int8(newL)
						sumlx = slx
						suml2 = sl2
						nChanged++
					}
				}
			}
		}
		if nChanged == 0 {
			break
		}
	}
	for i := range L {
		L[i] += int8(nmax)
	}
	if suml2 > 0 {
		return sumlx / suml2
	}
	return 0
}

// makeQkx2Quants is make_qkx2_quants. It returns the scale and stores -min
// in *theMin.
func makeQkx2Quants(x, weights []float32, L, Laux []uint8, nmax int32, theMin *float32,
	rmin, rdelta float32, nstep int, useMad bool) float32 {
	n := len(x)
	weights = weights[:n]
	L = L[:n]
	Laux = Laux[:n]
	min, max, sumW, sumX := weightedRange(x, weights)
	if min > 0 {
		min = 0
	}
	if max == min {
		for i := range L {
			L[i] = 0
		}
		*theMin = -min
		return 0
	}
	fnmax := float32(nmax)
	iscale := fnmax / (max - min)
	scale := 1 / iscale
	var bestError float32
	for i, v := range x {
		l := clampI(nearestInt(float32(iscale*(v-min))), 0, nmax)
		L[i] = uint8(l)
		diff := float32(scale*float32(l)) + min - v
		if useMad {
			diff = abs32(diff)
		} else {
			diff = float32(diff * diff)
		}
		bestError += float32(weights[i] * diff)
	}
	if nstep < 1 {
		*theMin = -min
		return scale
	}
	for is := 0; is <= nstep; is++ {
		iscale = (rmin + float32(rdelta*float32(is)) + fnmax) / (max - min)
		var sumL, sumL2, sumXL float32
		for i, v := range x {
			l := clampI(nearestInt(float32(iscale*(v-min))), 0, nmax)
			Laux[i] = uint8(l)
			w := weights[i]
			fl := float32(l)
			sumL += float32(w * fl)
			sumL2 += float32(float32(w*fl) * fl)
			sumXL += float32(float32(w*fl) * v)
		}
		D := float32(sumW*sumL2) - float32(sumL*sumL)
		if D > 0 {
			thisScale := (float32(sumW*sumXL) - float32(sumX*sumL)) / D
			thisMin := (float32(sumL2*sumX) - float32(sumL*sumXL)) / D
			if thisMin > 0 {
				thisMin = 0
				thisScale = sumXL / sumL2
			}
			var curError float32
			for i, v := range x {
				diff := float32(thisScale*float32(Laux[i])) + thisMin - v
				if useMad {
					diff = abs32(diff)
				} else {
					diff = float32(diff * diff)
				}
				curError += float32(weights[i] * diff)
			}
			if curError < bestError {
				copy(L, Laux)
				bestError = curError
				scale = thisScale
				min = thisMin
			}
		}
	}
	*theMin = -min
	return scale
}

// makeQkx3Quants is make_qkx3_quants with non-nil weights (every caller
// that ggml_quantize_chunk reaches passes them) and use_mad false. In that
// case ggml's function computes exactly what make_qkx2_quants does with
// use_mad false: the one difference, an early return on max <= min instead of
// max == min, cannot differ because min <= max for every input (with a NaN
// both tests are false).
func makeQkx3Quants(x, weights []float32, L, Laux []uint8, nmax int32, theMin *float32,
	rmin, rdelta float32, nstep int) float32 {
	return makeQkx2Quants(x, weights, L, Laux, nmax, theMin, rmin, rdelta, nstep, false)
}

// makeQpQuants is make_qp_quants: quantize non-negative values x (scales or
// mins of sub-blocks) to [0, nmax] with weights qw.
func makeQpQuants(x []float32, L []uint8, nmax int32, qw []float32) float32 {
	n := len(x)
	L = L[:n]
	qw = qw[:n]
	var max float32
	for _, v := range x {
		if !(max > v) { // C's MAX(max, x[i]) takes x[i] unless max > x[i]
			max = v
		}
	}
	if max < groupMaxEps {
		for i := range L {
			L[i] = 0
		}
		return 0
	}
	fnmax := float32(nmax)
	iscale := fnmax / max
	for i, v := range x {
		L[i] = uint8(nearestInt(float32(iscale * v)))
	}
	scale := 1 / iscale
	var bestMse float32
	for i, v := range x {
		diff := v - float32(scale*float32(L[i]))
		bestMse += float32(float32(qw[i]*diff) * diff)
	}
	for is := -4; is <= 4; is++ {
		if is == 0 {
			continue
		}
		iscaleIs := (float32(0.1*float32(is)) + fnmax) / max
		scaleIs := 1 / iscaleIs
		var mse float32
		for i, v := range x {
			l := nearestInt(float32(iscaleIs * v))
			if l > nmax {
				l = nmax
			}
			diff := v - float32(scaleIs*float32(l))
			mse += float32(float32(qw[i]*diff) * diff)
		}
		if mse < bestMse {
			bestMse = mse
			iscale = iscaleIs
		}
	}
	var sumlx, suml2 float32
	for i, v := range x {
		l := nearestInt(float32(iscale * v))
		if l > nmax {
			l = nmax
		}
		L[i] = uint8(l)
		w := qw[i]
		fl := float32(l)
		sumlx += float32(float32(w*v) * fl)
		suml2 += float32(float32(w*fl) * fl)
	}
	for itry := 0; itry < 5; itry++ {
		nChanged := 0
		for i, v := range x {
			w := qw[i]
			fL := float32(L[i])
			slx := sumlx - float32(float32(w*v)*fL)
			sl2 := suml2 - float32(float32(w*fL)*fL)
			if slx > 0 && sl2 > 0 {
				newL := nearestInt(float32(v*sl2) / slx)
				if newL > nmax {
					newL = nmax
				}
				if newL != int32(L[i]) {
					fn := float32(newL)
					slx += float32(float32(w*v) * fn)
					sl2 += float32(float32(w*fn) * fn)
					if float32(float32(slx*slx)*suml2) > float32(float32(sumlx*sumlx)*sl2) {
						L[i] = uint8(newL)
						sumlx = slx
						suml2 = sl2
						nChanged++
					}
				}
			}
		}
		if nChanged == 0 {
			break
		}
	}
	if suml2 > 0 {
		return sumlx / suml2
	}
	return 0
}

// qkxPass is one candidate scale of make_qkx{2,3}_quants over 32 values:
// the levels and the three weighted sums. It is kept out of line so that its
// loop gets the registers to itself.
//
//go:noinline
func qkxPass(iscale float32, nmax int32, xm, w, x, fl []float32, Laux []uint8) (sumL, sumL2, sumXL float32) {
	xm, w, x, fl, Laux = xm[:32], w[:32], x[:32], fl[:32], Laux[:32]
	for i := 0; i < 32; i++ {
		l := clampI(nearestInt(float32(iscale*xm[i])), 0, nmax)
		Laux[i] = uint8(l)
		f := float32(l)
		fl[i] = f
		wl := float32(w[i] * f)
		sumL += wl
		sumL2 += float32(wl * f)
		sumXL += float32(wl * x[i])
	}
	return sumL, sumL2, sumXL
}

// qkxPassB is qkxPass that also computes the bound of qkxBlock.setBound
// (inv[l] is 1/(l + 0.5), 0 at nmax): a loop of its own, as
// qkxPass2B is, so that the plain path does not pay for the bound. It is
// kept out of line so that its loop gets the registers to itself.
//
//go:noinline
func qkxPassB(iscale float32, nmax int32, inv *[32]float32, xm, w, x, fl []float32, Laux []uint8) (sumL, sumL2, sumXL float32, t int32) {
	xm, w, x, fl, Laux = xm[:32], w[:32], x[:32], fl[:32], Laux[:32]
	for i := 0; i < 32; i++ {
		l := clampI(nearestInt(float32(iscale*xm[i])), 0, nmax)
		Laux[i] = uint8(l)
		t = max(t, int32(math.Float32bits(float32(xm[i]*inv[l&31]))))
		f := float32(l)
		fl[i] = f
		wl := float32(w[i] * f)
		sumL += wl
		sumL2 += float32(wl * f)
		sumXL += float32(wl * x[i])
	}
	return sumL, sumL2, sumXL, t
}

// qkxError is the weighted squared error of a candidate (scale, min).
//
//go:noinline
func qkxError(scale, min float32, fl, x, w []float32) float32 {
	fl, x, w = fl[:32], x[:32], w[:32]
	var e float32
	for i := 0; i < 32; i++ {
		diff := float32(scale*fl[i]) + min - x[i]
		e += float32(w[i] * float32(diff*diff))
	}
	return e
}

// makeQx16 is makeQxQuants (rmse_type 1) for 16 values, the q6_K and q3_K
// sub-block size: the same operations in the same order, with the weights
// (qw, or x*x) and the products w*x, which C recomputes identically in every
// pass, computed once.
func makeQx16(x *[16]float32, L *[16]int8, nmax int32, qw *[16]float32) float32 {
	max, amax := signedAbsMax(x[:])
	if amax < groupMaxEps {
		*L = [16]int8{}
		return 0
	}
	var w, wx [16]float32
	for i, v := range x {
		if qw != nil {
			w[i] = qw[i]
		} else {
			w[i] = float32(v * v)
		}
		wx[i] = float32(w[i] * v)
	}
	fnmax := float32(nmax)
	iscale := -fnmax / max
	sumlx, suml2 := qxPass16(iscale, nmax, x[:], w[:], wx[:])
	for i, v := range x {
		l := clampI(nearestInt(float32(iscale*v)), -nmax, nmax-1)
		L[i] = int8(l + nmax)
	}
	var scale float32
	if suml2 != 0 {
		scale = sumlx / suml2
	}
	best := float32(scale * sumlx)
	for is := -9; is <= 9; is++ {
		if is == 0 {
			continue
		}
		iscale = -(fnmax + float32(0.1*float32(is))) / max
		sumlx, suml2 = qxPass16(iscale, nmax, x[:], w[:], wx[:])
		if suml2 > 0 && float32(sumlx*sumlx) > float32(best*suml2) {
			for i, v := range x {
				l := clampI(nearestInt(float32(iscale*v)), -nmax, nmax-1)
				L[i] = int8(nmax + l)
			}
			scale = sumlx / suml2
			best = float32(scale * sumlx)
		}
	}
	return scale
}

// qxPass16 is one candidate scale of make_qx_quants over 16 values.
//
//go:noinline
func qxPass16(iscale float32, nmax int32, x, w, wx []float32) (sumlx, suml2 float32) {
	x, w, wx = x[:16], w[:16], wx[:16]
	lo, hi := -nmax, nmax-1
	for i := 0; i < 16; i++ {
		l := clampI(nearestInt(float32(iscale*x[i])), lo, hi)
		fl := float32(l)
		sumlx += float32(wx[i] * fl)
		suml2 += float32(float32(w[i]*fl) * fl)
	}
	return sumlx, suml2
}
