package evalrun

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sattva/sattva/numerology"
)

// NumerologyScorer checks the five SatTva numbers in an answer against
// numerology.Compute for the case's date. The answer may label the numbers in
// Russian or English, in any order, or give a bare list of five in the plan's
// order (numerology.ParseAnswer).
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

func (s *NumerologyScorer) Score(answer string) Check {
	c := Check{Check: "numerology"}
	got, spans, err := numerology.ParseAnswer(answer)
	want := s.Want
	if errors.Is(err, numerology.ErrNoNumbers) {
		c.Detail = fmt.Sprintf("no numbers found; want %s for %s", want, s.Date)
		c.Evidence = []Evidence{absence("numerology "+s.Date.String(), want.String())}
		score := 0.0
		c.Score = &score
		return c
	}
	byField := map[numerology.Field]numerology.Span{}
	for _, sp := range spans {
		byField[sp.Field] = sp
	}
	right := 0
	var wrong []string
	for _, f := range numerology.Fields() {
		w, g := want.Get(f), got.Get(f)
		sp, found := byField[f]
		rule := fmt.Sprintf("%s = %d", f, w)
		switch {
		case !found:
			wrong = append(wrong, fmt.Sprintf("%s missing (want %d)", f, w))
			c.Evidence = append(c.Evidence, absence(rule, f.String()))
		case g != w:
			wrong = append(wrong, fmt.Sprintf("%s %d (want %d)", f, g, w))
			if sp.Start >= 0 && sp.End <= len(answer) && sp.Start <= sp.End {
				c.Evidence = append(c.Evidence, spanEvidence(rule, answer, sp.Start, sp.End))
			}
		default:
			right++
		}
	}
	score := float64(right) / 5
	c.Score = &score
	c.Pass = right == 5 && err == nil
	switch {
	case c.Pass:
		c.Detail = fmt.Sprintf("all five right for %s: %s", s.Date, want)
	case err != nil && right == 5:
		c.Detail = fmt.Sprintf("numbers right but the answer is ambiguous: %v", err)
	default:
		c.Detail = fmt.Sprintf("%d of 5 right for %s (want %s): %s", right, s.Date, want, strings.Join(wrong, "; "))
		if err != nil {
			c.Detail += fmt.Sprintf(" [%v]", err)
		}
	}
	return c
}
