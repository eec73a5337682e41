package verify

import (
	"math"
	"strings"
	"testing"
)

func TestCompareIsKLDivergence(t *testing.T) {
	ref := []float32{2, 1, 0, -1}
	test := []float32{1.5, 1.2, 0.1, -2}
	softmax := func(x []float32) []float64 {
		s := 0.0
		out := make([]float64, len(x))
		for i, v := range x {
			out[i] = math.Exp(float64(v))
			s += out[i]
		}
		for i := range out {
			out[i] /= s
		}
		return out
	}
	p, q := softmax(ref), softmax(test)
	want := 0.0
	for i := range p {
		want += p[i] * math.Log(p[i]/q[i])
	}
	got := compare(ref, newLogProbs(ref), test, 1)
	if math.Abs(got.kld-want) > 1e-12 {
		t.Errorf("KLD %g, want %g", got.kld, want)
	}
	if math.Abs(got.nllRef+math.Log(p[1])) > 1e-12 || math.Abs(got.nllT+math.Log(q[1])) > 1e-12 || !got.same {
		t.Errorf("stats %+v", got)
	}
	if same := compare(ref, newLogProbs(ref), ref, 0); same.kld != 0 || !same.same {
		t.Errorf("identical rows: %+v", same)
	}
}

func TestSummarize(t *testing.T) {
	ts := []tokenStat{
		{kld: 0.1, nllRef: 1, nllT: 1.5, same: true, label: "ru"},
		{kld: 0.3, nllRef: 2, nllT: 2.1, same: false, label: "en"},
		{kld: 0.2, nllRef: 1, nllT: 1, same: true, label: "en"},
		{kld: 0.0, nllRef: 3, nllT: 3, same: true, label: "ru"},
	}
	st := summarize(ts, 2, true)
	if math.Abs(st.MeanKLD-0.15) > 1e-12 || st.MaxKLD != 0.3 || st.Top1 != 0.75 {
		t.Errorf("%+v", st)
	}
	// perplexity.cpp's percentile: p = f·(n−1), linear between neighbours.
	if want := 0.2 + 0.97*(0.3-0.2); math.Abs(st.P99KLD-want) > 1e-12 {
		t.Errorf("p99 %g, want %g", st.P99KLD, want)
	}
	if want := math.Exp((7.6 - 7) / 4); math.Abs(st.PPLRatio-want) > 1e-12 || math.Abs(st.PPLRatio-st.PPLTest/st.PPLRef) > 1e-12 {
		t.Errorf("PPL ratio %g, want %g", st.PPLRatio, want)
	}
	if st.ByLabel["ru"].Tokens != 2 || st.ByLabel["en"].Top1 != 0.5 {
		t.Errorf("by label %+v %+v", st.ByLabel["ru"], st.ByLabel["en"])
	}
	if len(st.Quantiles) != len(QuantileLevels()) {
		t.Errorf("quantiles %v", st.Quantiles)
	}
}

func TestHTMLChart(t *testing.T) {
	r := &Report{KL: []KLResult{{Name: "q4_K_M", Stats: &KLStats{MeanKLD: 0.03, Quantiles: []float64{0, 1e-5, 1e-4, 1e-3, 0.01, 0.02, 0.05, 0.1, 0.3, 1, 4}}}}}
	r.KL[0].Threshold.KLDMean, r.KL[0].Threshold.KLDP99 = 0.1, 1
	h := r.HTML()
	for _, want := range []string{"<svg", "<polyline", "q4_K_M (mean 0.03)", "99.9%", "max"} {
		if !strings.Contains(h, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
}
