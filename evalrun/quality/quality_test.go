package quality

import (
	"context"
	"encoding/xml"
	"math"
	"strings"
	"testing"
)

func TestKLD(t *testing.T) {
	kl, same, err := KLD([]float32{1, 2, 3}, []float32{1, 2, 3})
	if err != nil || kl != 0 || !same {
		t.Errorf("identical: %v %v %v", kl, same, err)
	}
	// Shifting every logit changes nothing.
	if kl, _, _ := KLD([]float32{1, 2, 3}, []float32{11, 12, 13}); kl > 1e-12 {
		t.Errorf("shifted: %v", kl)
	}
	// Two tokens: KL(p||q) by hand.
	p := 1 / (1 + math.Exp(-1)) // softmax of (1, 0)
	q := 0.5
	want := p*math.Log(p/q) + (1-p)*math.Log((1-p)/(1-q))
	kl, same, _ = KLD([]float32{1, 0}, []float32{0, 0})
	if math.Abs(kl-want) > 1e-12 || !same {
		t.Errorf("two tokens: %v, want %v (same %v)", kl, want, same)
	}
	if _, same, _ := KLD([]float32{0, 1}, []float32{1, 0}); same {
		t.Error("different argmax reported as agreeing")
	}
	if _, _, err := KLD([]float32{1}, []float32{1, 2}); err == nil {
		t.Error("length mismatch: no error")
	}
}

type fixed map[int32][]float32 // token -> logits at its position

func (f fixed) Logits(tokens []int32) ([][]float32, error) {
	out := make([][]float32, len(tokens))
	for i, tk := range tokens {
		out[i] = f[tk]
	}
	return out, nil
}

func TestCompareMany(t *testing.T) {
	ref := fixed{0: {2, 0}, 1: {0, 2}}
	same := fixed{0: {2, 0}, 1: {0, 2}}
	off := fixed{0: {0, 2}, 1: {0, 2}}
	res, err := CompareMany(context.Background(), ref, []Logits{same, off}, [][]int32{{0, 1}, {0}})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Positions != 3 || res[0].MeanKLD != 0 || res[0].Top1 != 1 {
		t.Errorf("same: %+v", res[0])
	}
	if res[1].Top1 != 1.0/3 || res[1].MeanKLD <= 0 || res[1].MaxKLD < res[1].MeanKLD {
		t.Errorf("off: %+v", res[1])
	}
}

func TestReport(t *testing.T) {
	rows := []Row{{Type: "Q4_K_M", BitsPerWeight: 4.9, Result: Result{MeanKLD: 0.02, Top1: 0.9, Positions: 10}},
		{Type: "Q4_K_M", IMatrix: true, BitsPerWeight: 4.9, Result: Result{MeanKLD: 0.01, Top1: 0.93, Positions: 10}},
		{Type: "Q8_0", BitsPerWeight: 8.5, Result: Result{MeanKLD: 0.0001, Top1: 0.99, Positions: 10}}}
	md := Markdown(rows)
	if strings.Count(md, "\n") != 5 || !strings.Contains(md, "| Q4_K_M | yes | 4.90 | 0.010000 |") {
		t.Errorf("markdown:\n%s", md)
	}
	svg := SVG("test <model>", rows)
	if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
		t.Errorf("SVG is not well-formed XML: %v", err)
	}
	if strings.Count(svg, "<circle") != 3+2 || !strings.Contains(svg, "test &lt;model&gt;") {
		t.Errorf("svg:\n%s", svg)
	}
	page := HTML("q", rows)
	if !strings.Contains(page, "<svg") || strings.Count(page, "<tr>") != 4 {
		t.Errorf("html:\n%s", page)
	}
}
