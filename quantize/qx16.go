package quantize

// qx16 is make_qx_quants (rmse_type 1) for the 16 sub-blocks of a Q6_K
// super-block at once, lane by lane: x[i][k] is value i of sub-block k,
// lanes 0-7 one AVX2 register and 8-15 another (qx16_amd64.s). As in
// qkx8, each lane performs C's float32 operations in C's order, and a lane
// keeps the inverse scale of its best candidate (tIscale) instead of its
// levels; qxLevels16 computes them once at the end.
//
// The layout is fixed: qx16_amd64.s addresses the fields at the offsets
// TestQx16Layout checks.
type qx16 struct {
	x       [16][16]float32
	w       [16][16]float32 // the weights: qw, or x*x without an importance matrix
	wx      [16][16]float32 // w*x
	laux    [16][16]int32   // the levels qxLevels16 computes
	max     [16]float32     // the first value of the largest magnitude
	scale   [16]float32
	best    [16]float32
	tIscale [16]float32
	active  [16]int32 // -1, or 0 where every |x| is under GROUP_MAX_EPS: L is 0, scale 0
}

// qxInit16Go is qxInit16 in Go: with x in g's lanes (and the importance
// weights qw in lanes, or nil), make_qx_quants up to its candidate loop for
// every lane: the signed absolute maximum, the weights, the first candidate
// (-nmax/max), its scale and best. Inactive lanes get scale, best and
// tIscale 0.
func qxInit16Go(g *qx16, qw *[16][16]float32, nmax int32) {
	for k := range 16 {
		var max, amax float32
		for i := range g.x {
			v := g.x[i][k]
			if ax := abs32(v); ax > amax {
				amax = ax
				max = v
			}
		}
		g.max[k] = max
		for i := range g.x {
			v := g.x[i][k]
			if qw != nil {
				g.w[i][k] = qw[i][k]
			} else {
				g.w[i][k] = float32(v * v)
			}
			g.wx[i][k] = float32(g.w[i][k] * v)
		}
		if amax < groupMaxEps {
			g.active[k] = 0
			g.scale[k], g.best[k], g.tIscale[k] = 0, 0, 0
			continue
		}
		g.active[k] = -1
		iscale := -float32(nmax) / max
		sumlx, suml2 := qx16Sums(g, k, iscale, nmax)
		var scale float32
		if suml2 != 0 {
			scale = sumlx / suml2
		}
		g.scale[k], g.best[k], g.tIscale[k] = scale, float32(scale*sumlx), iscale
	}
}

// qx16Sums is the candidate pass of make_qx_quants for lane k.
func qx16Sums(g *qx16, k int, iscale float32, nmax int32) (sumlx, suml2 float32) {
	for i := range g.x {
		l := clampI(nearestInt(float32(iscale*g.x[i][k])), -nmax, nmax-1)
		fl := float32(l)
		sumlx += float32(g.wx[i][k] * fl)
		suml2 += float32(float32(g.w[i][k]*fl) * fl)
	}
	return sumlx, suml2
}

// qxStep16Go is qxStep16 in Go: the candidate -(nmax + 0.1*is)/max of
// every lane, num being -(nmax + 0.1*is), taken where C takes it
// (suml2 > 0 and sumlx*sumlx > best*suml2).
func qxStep16Go(g *qx16, num float32, nmax int32) {
	for k := range 16 {
		if g.active[k] == 0 {
			continue
		}
		iscale := num / g.max[k]
		sumlx, suml2 := qx16Sums(g, k, iscale, nmax)
		if suml2 > 0 && float32(sumlx*sumlx) > float32(g.best[k]*suml2) {
			g.scale[k] = sumlx / suml2
			g.best[k] = float32(g.scale[k] * sumlx)
			g.tIscale[k] = iscale
		}
	}
}

// qxLevels16Go is qxLevels16 in Go: every lane's levels at tIscale,
// clamped to [-nmax, nmax-1], into laux.
func qxLevels16Go(g *qx16, nmax int32) {
	for i := range g.x {
		for k := range 16 {
			g.laux[i][k] = clampI(nearestInt(float32(g.tIscale[k]*g.x[i][k])), -nmax, nmax-1)
		}
	}
}

// search runs make_qx_quants' 18 candidates (is = -9..9 but 0) in every
// lane and writes the levels (nmax + l, 0 in an inactive lane) to L,
// sub-block after sub-block, and the scales to scales.
func (g *qx16) search(L *[qkK]int8, scales *[16]float32, nmax int32) {
	fnmax := float32(nmax)
	for is := -9; is <= 9; is++ {
		if is == 0 {
			continue
		}
		qxStep16(g, -(fnmax + float32(0.1*float32(is))), nmax)
	}
	qxLevels16(g, nmax)
	for k := range 16 {
		if g.active[k] == 0 {
			for i := range 16 {
				L[16*k+i] = 0
			}
			continue
		}
		for i := range 16 {
			L[16*k+i] = int8(nmax + g.laux[i][k])
		}
	}
	*scales = g.scale
}
