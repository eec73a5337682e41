package evalrun

import (
	"fmt"
	"strings"
	"unicode"
)

// ChrF returns the character n-gram F-score of hyp against ref, as sacrebleu's
// CHRF with its defaults (character orders 1..6, no word n-grams, beta 2,
// whitespace removed, case kept), scaled to [0,1] instead of [0,100].
// It also returns the averaged precision and recall.
func ChrF(hyp, ref string) (f, prec, rec float64) {
	const order = 6
	const beta = 2.0
	const eps = 1e-16
	h := []rune(stripSpace(hyp))
	r := []rune(stripSpace(ref))
	factor := beta * beta
	effective := 0
	for n := 1; n <= order; n++ {
		hc := ngrams(h, n)
		rc := ngrams(r, n)
		nHyp, nRef := max(0, len(h)-n+1), max(0, len(r)-n+1)
		match := 0
		for g, k := range hc {
			match += min(k, rc[g])
		}
		p, q := eps, eps
		if nHyp > 0 {
			p = float64(match) / float64(nHyp)
		}
		if nRef > 0 {
			q = float64(match) / float64(nRef)
		}
		if nHyp > 0 && nRef > 0 {
			effective++
		}
		prec += p
		rec += q
	}
	if effective == 0 {
		return 0, 0, 0
	}
	prec /= float64(effective)
	rec /= float64(effective)
	if prec+rec == 0 {
		return 0, prec, rec
	}
	return (1 + factor) * prec * rec / (factor*prec + rec), prec, rec
}

func stripSpace(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

func ngrams(rs []rune, n int) map[string]int {
	m := make(map[string]int, len(rs))
	for i := 0; i+n <= len(rs); i++ {
		m[string(rs[i:i+n])]++
	}
	return m
}

// SimilarityScorer passes when ChrF(answer, Reference) >= Min.
type SimilarityScorer struct {
	Reference string
	Min       float64
}

func (s *SimilarityScorer) Name() string { return "similarity" }

func (s *SimilarityScorer) Score(answer string) Check {
	f, p, r := ChrF(answer, s.Reference)
	c := Check{Check: "similarity", Pass: f >= s.Min, Score: &f}
	c.Detail = fmt.Sprintf("chrF %.3f (precision %.3f, recall %.3f; want ≥ %.2f)", f, p, r, s.Min)
	if !c.Pass {
		c.Evidence = []Evidence{absence(fmt.Sprintf("chrF ≥ %.2f", s.Min), truncate(s.Reference, 120))}
	}
	return c
}
