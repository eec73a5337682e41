//go:build cgo

package llamacpp

import (
	"math"
	"math/rand/v2"
	"testing"
)

// gradCheck compares ggml's gradient of case kase with central finite
// differences of its loss: it returns the cosine of the two gradient vectors
// and the largest difference relative to the largest numeric component.
func gradCheck(t *testing.T, kase int, gallocr, guard bool) (cos, rel float64, worst int, ana, num []float64) {
	t.Helper()
	n := gradCheckSize(kase)
	if n <= 0 {
		t.Fatalf("case %d: no parameters", kase)
	}
	rng := rand.New(rand.NewPCG(uint64(kase)+1, 99))
	p := make([]float32, n)
	for i := range p {
		p[i] = float32(rng.Float64()*2 - 1)
	}
	_, g, err := gradCheckEval(kase, gallocr, guard, p, true)
	if err != nil {
		t.Fatal(err)
	}
	loss := func(q []float32) float64 {
		l, _, err := gradCheckEval(kase, gallocr, guard, q, false)
		if err != nil {
			t.Fatal(err)
		}
		return float64(l)
	}
	// Richardson-extrapolated central differences (error O(h⁴)).
	const h = 1e-2
	q := append([]float32(nil), p...)
	at := func(i int, d float64) float64 {
		q[i] = float32(float64(p[i]) + d)
		l := loss(q)
		q[i] = p[i]
		return l
	}
	ana, num = make([]float64, n), make([]float64, n)
	var dot, na, nn, maxN, maxD float64
	for i := range p {
		d1 := (at(i, h) - at(i, -h)) / (2 * h)
		d2 := (at(i, 2*h) - at(i, -2*h)) / (4 * h)
		num[i] = (4*d1 - d2) / 3
		ana[i] = float64(g[i])
		dot += ana[i] * num[i]
		na += ana[i] * ana[i]
		nn += num[i] * num[i]
		maxN = math.Max(maxN, math.Abs(num[i]))
		if d := math.Abs(ana[i] - num[i]); d > maxD {
			maxD, worst = d, i
		}
	}
	return dot / math.Sqrt(na*nn), maxD / maxN, worst, ana, num
}

// TestGradCheckOps checks ggml's backward pass of every op the training
// graph's attention goes through (mul_mat of 3D and permuted operands with
// the grouped-query broadcast, permute+cont, soft_max and soft_max_ext with
// scale and mask, RoPE, rms_norm), and of whole Llama attention blocks,
// against finite differences of the forward pass on the CPU: with every
// tensor in its own memory, and allocated by ggml's graph allocator as
// ggml-opt does, with sattva_backward_guard.
func TestGradCheckOps(t *testing.T) {
	for kase, name := range gradCheckCases {
		for _, ga := range []bool{false, true} {
			cos, rel, worst, ana, num := gradCheck(t, kase, ga, ga)
			t.Logf("%-36s gallocr=%-5v cos %.6f  max |ggml-numeric|/max|numeric| %.1e", name, ga, cos, rel)
			if !(cos > 0.99999) || !(rel < 1e-3) {
				t.Errorf("%s (graph allocator %v): ggml's gradient is not the numeric one: cosine %.6f, worst element #%d: ggml %.6f, numeric %.6f",
					name, ga, cos, worst, ana[worst], num[worst])
			}
		}
	}
}

// TestGradCheckInPlaceRMSNormBack pins the fault sattva_backward_guard works
// around: ggml's graph allocator computes RMS_NORM_BACK in the memory of its
// incoming gradient, which the CPU kernel overwrites (with x) before it adds
// it, so the gradient through every RMS norm is wrong in ggml-opt's graphs.
// The unguarded gradient of rms_norm(x)*w and of a whole attention block
// (its attn_norm) is far from the numeric one; with the guard, or with every
// tensor in its own memory, it is right (TestGradCheckOps). If this test
// fails because the unguarded gradient came out right, ggml has fixed it
// and the guard may go.
func TestGradCheckInPlaceRMSNormBack(t *testing.T) {
	for _, kase := range []int{gradCheckRMSNorm, gradCheckAttention} {
		cos, rel, worst, ana, num := gradCheck(t, kase, true, false)
		t.Logf("%s, graph allocator, no guard: cosine %.4f, worst element #%d: ggml %.5f, numeric %.5f (max error %.2f of the largest component)",
			gradCheckCases[kase], cos, worst, ana[worst], num[worst], rel)
		if cos > 0.99 || rel < 0.1 {
			t.Errorf("%s: the unguarded gradient is right (cosine %.6f): ggml no longer breaks RMS_NORM_BACK in place", gradCheckCases[kase], cos)
		}
	}
}
