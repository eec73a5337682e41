package evalrun

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestNumerologyScorerCorpus runs the scorer over the reader's corpus
// (numerology/testdata/answers.jsonl, true verdicts from numerology.Compute):
// an answer passes exactly when its truth is "pass", and every piece of
// evidence is the answer's own text at its offsets, one per number at least.
func TestNumerologyScorerCorpus(t *testing.T) {
	f, err := os.Open("../numerology/testdata/answers.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		var a struct{ ID, Date, Truth, Text string }
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatal(err)
		}
		n++
		s, err := NewNumerologyScorer(a.Date)
		if err != nil {
			t.Fatalf("%s: %v", a.ID, err)
		}
		c := s.Score(a.Text)
		if c.Pass != (a.Truth == "pass") {
			t.Errorf("%s (truth %s): pass=%v %s", a.ID, a.Truth, c.Pass, c.Detail)
		}
		if a.Truth == "ambiguous" && !strings.HasPrefix(c.Detail, "ambiguous") {
			t.Errorf("%s: detail %q does not say ambiguous", a.ID, c.Detail)
		}
		if a.Truth != "none" && len(c.Evidence) < 5 {
			t.Errorf("%s: %d pieces of evidence, want one per number", a.ID, len(c.Evidence))
		}
		for _, ev := range c.Evidence {
			if ev.Start >= 0 && (ev.End > len(a.Text) || a.Text[ev.Start:ev.End] != ev.Text) {
				t.Errorf("%s: evidence %+v is not the answer's text", a.ID, ev)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 150 {
		t.Fatalf("%d answers", n)
	}
}
