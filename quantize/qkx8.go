package quantize

// qkx8 is make_qkx2_quants / make_qkx3_quants for the 8 sub-blocks of a
// Q4_K or Q5_K super-block at once, lane by lane: x[i][k] is value i of
// sub-block k. In this layout one AVX2 instruction does one step of all
// eight searches (qkx8_amd64.s), and each lane still sees exactly C's
// operations in C's order: the sums of a candidate run down i as C's loop
// does, and the lanes never mix.
//
// C copies a candidate's levels into L when it takes the candidate; a lane
// here keeps what computed them instead, the scale and the min of that pass
// (tIscale, tMin), and levels computes them once at the end with the same
// operations. x - min is computed in each pass, as C does.
//
// The layout is fixed: qkx8_amd64.s addresses the fields at the offsets
// TestQkx8Layout checks.
type qkx8 struct {
	w       [32][8]float32
	x       [32][8]float32
	laux    [32][8]int32 // the levels of the candidate computed last
	rng     [8]float32   // max - min
	min     [8]float32
	max     [8]float32
	sumW    [8]float32
	sumX    [8]float32
	scale   [8]float32
	best    [8]float32
	active  [8]int32   // -1, or 0 where all values are equal: L is 0, nothing to search
	tIscale [8]float32 // the inverse scale and the min of the best levels' pass
	tMin    [8]float32
}

// initLane is the part of make_qkx2/qkx3_quants before the candidate loop
// for sub-block k: x and its weights w. qkx3 selects make_qkx3_quants'
// early return (max <= min) over make_qkx2_quants' (max == min); they
// agree on every input, as makeQkx3Quants says.
func (g *qkx8) initLane(k int, x, w *[32]float32, nmax int32, qkx3 bool) {
	min, max, sumW, sumX := weightedRange(x[:], w[:])
	if min > 0 {
		min = 0
	}
	g.min[k], g.max[k], g.sumW[k], g.sumX[k] = min, max, sumW, sumX
	for i := range x {
		g.x[i][k] = x[i]
		g.w[i][k] = w[i]
	}
	g.rng[k] = max - min
	g.active[k] = -1
	if max == min || (qkx3 && max <= min) {
		g.active[k] = 0
		g.scale[k], g.best[k], g.tIscale[k], g.tMin[k] = 0, 0, 0, min
		return
	}
	iscale := float32(nmax) / g.rng[k]
	scale := 1 / iscale
	var bestError float32
	for i := range x {
		l := clampI(nearestInt(float32(iscale*float32(x[i]-min))), 0, nmax)
		diff := float32(scale*float32(l)) + min - x[i]
		bestError += float32(w[i] * float32(diff*diff))
	}
	g.scale[k], g.best[k] = scale, bestError
	g.tIscale[k], g.tMin[k] = iscale, min
}

// qkxInitW8Go is qkxInitW8 in Go: with x already in g's lanes and the
// importance weights qw in lanes too, the weights of make_qkx3_quants as
// quantize_row_q4_K_impl and _q5_K_impl compute them, qw*sqrt(sigma2 + x*x),
// into g.w, their sums (C's sw, from 0) into sw, and then initLane for
// every lane.
func qkxInitW8Go(g *qkx8, qw *[32][8]float32, sigma2 float32, nmax int32, sw *[8]float32) {
	var x, w [32]float32
	for k := range 8 {
		var sumw float32
		for i := range x {
			x[i] = g.x[i][k]
			w[i] = qw[i][k] * sqrt32(sigma2+float32(x[i]*x[i]))
			sumw += w[i]
		}
		sw[k] = sumw
		g.initLane(k, &x, &w, nmax, true)
	}
}

// search runs the candidate loop of every active lane: candidate is has
// the scale (rmin + rdelta*is + nmax)/(max - min) of the lane's current
// min.
func (g *qkx8) search(nmax int32, rmin, rdelta float32, nstep int) {
	fnmax := float32(nmax)
	for is := 0; is <= nstep; is++ {
		qkxStep8(g, rmin+float32(rdelta*float32(is))+fnmax, nmax)
	}
}

// levels writes the lanes' best levels to L, sub-block after sub-block:
// those of the pass that computed them (0 for an inactive lane).
func (g *qkx8) levels(L *[qkK]uint8, nmax int32) {
	qkxLevels8(g, nmax)
	for i := range g.laux {
		for k := range 8 {
			L[32*k+i] = uint8(g.laux[i][k] & g.active[k])
		}
	}
}

// qkxStep8Go is qkxStep8 in Go: one candidate of every lane, the one of
// numerator num. Lane by lane it is one iteration of make_qkx2_quants'
// candidate loop: the levels at the scale num/(max - min) and their
// weighted sums, the least-squares scale and min, their error, and, when
// the error is below the best (C's strict "<"), the switch to them.
func qkxStep8Go(g *qkx8, num float32, nmax int32) {
	for k := range 8 {
		iscale := num / g.rng[k]
		min := g.min[k]
		var sumL, sumL2, sumXL float32
		for i := range g.x {
			l := clampI(nearestInt(float32(iscale*float32(g.x[i][k]-min))), 0, nmax)
			g.laux[i][k] = l
			f := float32(l)
			wl := float32(g.w[i][k] * f)
			sumL += wl
			sumL2 += float32(wl * f)
			sumXL += float32(wl * g.x[i][k])
		}
		if g.active[k] == 0 {
			continue
		}
		D := float32(g.sumW[k]*sumL2) - float32(sumL*sumL)
		if !(D > 0) {
			continue
		}
		thisScale := (float32(g.sumW[k]*sumXL) - float32(g.sumX[k]*sumL)) / D
		thisMin := (float32(sumL2*g.sumX[k]) - float32(sumL*sumXL)) / D
		if thisMin > 0 {
			thisMin = 0
			thisScale = sumXL / sumL2
		}
		var e float32
		for i := range g.laux {
			diff := float32(thisScale*float32(g.laux[i][k])) + thisMin - g.x[i][k]
			e += float32(g.w[i][k] * float32(diff*diff))
		}
		if !(e < g.best[k]) {
			continue
		}
		g.tIscale[k], g.tMin[k] = iscale, min
		g.best[k], g.scale[k], g.min[k] = e, thisScale, thisMin
		g.rng[k] = g.max[k] - thisMin
	}
}

// qkxLevels8Go is qkxLevels8 in Go: every lane's levels at (tIscale,
// tMin), into laux.
func qkxLevels8Go(g *qkx8, nmax int32) {
	for i := range g.x {
		for k := range 8 {
			g.laux[i][k] = clampI(nearestInt(float32(g.tIscale[k]*float32(g.x[i][k]-g.tMin[k]))), 0, nmax)
		}
	}
}
