package evalrun

import (
	"fmt"
	"strings"

	"github.com/sattva/sattva/numerology"
)

// NumerologyScorer checks the five SatTva numbers in an answer against
// numerology.Compute for the case's date. The answer is read as a person
// would (numerology.ReadAnswer): labels in Russian or English in any order,
// derivation chains, tables, lists, numbers as words.
type NumerologyScorer struct {
	Date numerology.Date
	Want numerology.Numbers
}

// NewNumerologyScorer parses date (any form numerology.ParseDate reads) and
// computes the numbers an answer must give.
func NewNumerologyScorer(date string) (*NumerologyScorer, error) {
	d, err := numerology.ParseDate(date)
	if err != nil {
		return nil, err
	}
	return &NumerologyScorer{Date: d, Want: numerology.Compute(d)}, nil
}

func (s *NumerologyScorer) Name() string { return "numerology" }

// Score reads the answer with numerology.ReadAnswer. The case passes when
// the answer commits to exactly one value for each of the five numbers and
// every value is right; an answer that gives one number two values
// (a correction, "2 or 3") fails as ambiguous. The evidence names, for each
// number, the span read ("Карма = 2 + 3 + 1 + 8 = 14 → 5") and how it was
// read, and for an ambiguous number every span that gave another value.
func (s *NumerologyScorer) Score(answer string) Check {
	c := Check{Check: "numerology"}
	r := numerology.ReadAnswer(answer)
	want := s.Want
	score := 0.0
	c.Score = &score
	if r.Verdict == numerology.NoNumbers {
		c.Detail = fmt.Sprintf("no numbers found; want %s for %s", want, s.Date)
		c.Evidence = []Evidence{absence("numerology "+s.Date.String(), want.String())}
		return c
	}
	right := 0
	var wrong, ambiguous []string
	for _, f := range numerology.Fields() {
		fr := r.Fields[f]
		w := want.Get(f)
		if !fr.Found {
			wrong = append(wrong, fmt.Sprintf("%s missing (want %d)", f, w))
			c.Evidence = append(c.Evidence, absence(fmt.Sprintf("%s = %d: missing", f, w), f.String()))
			continue
		}
		g := fr.Span.Value
		verdict := "right"
		if g != w {
			verdict = "wrong"
			wrong = append(wrong, fmt.Sprintf("%s %d (want %d)", f, g, w))
		} else if len(fr.Others) == 0 {
			right++
		}
		if len(fr.Others) > 0 {
			verdict = "ambiguous"
			vals := []string{}
			for _, o := range fr.Others {
				vals = append(vals, fmt.Sprint(o.Value))
			}
			ambiguous = append(ambiguous, fmt.Sprintf("%s %s and %d (want %d)", f, strings.Join(vals, " and "), g, w))
		}
		c.Evidence = append(c.Evidence, fieldEvidence(fmt.Sprintf("%s = %d: read %d (%s, %s)", f, w, g, fr.Span.Via, verdict), answer, fr.Span))
		for _, o := range fr.Others {
			c.Evidence = append(c.Evidence, fieldEvidence(fmt.Sprintf("%s = %d: also read %d (%s)", f, w, o.Value, o.Via), answer, o))
		}
	}
	score = float64(right) / 5
	c.Pass = right == 5 && r.Verdict == numerology.Committed
	switch {
	case c.Pass:
		c.Detail = fmt.Sprintf("all five right for %s: %s", s.Date, want)
	case len(ambiguous) > 0:
		c.Detail = fmt.Sprintf("ambiguous for %s (want %s): the answer gives %s", s.Date, want, strings.Join(ambiguous, "; "))
		if len(wrong) > 0 {
			c.Detail += "; " + strings.Join(wrong, "; ")
		}
	default:
		c.Detail = fmt.Sprintf("%d of 5 right for %s (want %s): %s", right, s.Date, want, strings.Join(wrong, "; "))
	}
	return c
}

// fieldEvidence is the evidence of one reading, bounded to the answer.
func fieldEvidence(rule, answer string, sp numerology.Span) Evidence {
	if sp.Start < 0 || sp.End > len(answer) || sp.Start > sp.End {
		return absence(rule, "")
	}
	return spanEvidence(rule, answer, sp.Start, sp.End)
}
