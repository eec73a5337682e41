package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sattva/sattva/numerology"
)

type numerologyOptions struct {
	Dates []string
	Lang  string
	JSON  bool
}

func newNumerologyCmd(s *Streams) *cobra.Command {
	o := &numerologyOptions{}
	c := &cobra.Command{
		Use:   "numerology DATE...",
		Short: "Compute the five SatTva numbers (Jiva, Dharma, Approach, Method, Karma) of a birth date",
		Long: `numerology prints Jiva, Dharma, Approach, Method and Karma of each DATE, in the
user's plan's order. With dr the digital root (1..9): Jiva = dr(day),
Approach = dr(month), Method = dr(year), Dharma = dr(Jiva + Approach),
Karma = dr(Jiva + Dharma + Approach + Method) — derived from the plan's examples
29.01.1988 → 2, 3, 1, 8, 5 and 05.11.2004 → 5, 7, 2, 6, 2.

DATE forms: 29.01.1988, 29/01/1988, 29011988, 1988-01-29, "5 November 2004",
"November 5, 2004", "5 ноября 2004" (any Russian month form). Quote worded dates.`,
		Example: "  sattva numerology 29.01.1988\n  sattva numerology \"5 ноября 2004\" --lang en --json",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o.Dates = args
			return runNumerology(c.Context(), s, o)
		},
	}
	c.Flags().StringVar(&o.Lang, "lang", "ru", "label language: ru or en")
	c.Flags().BoolVar(&o.JSON, "json", false, "machine-readable output")
	return c
}

// numerologyResult is one date's numbers in --json output.
type numerologyResult struct {
	Input    string         `json:"input"`
	Date     string         `json:"date"` // ISO
	Numbers  map[string]int `json:"numbers"`
	Order    [5]int         `json:"order"` // Jiva, Dharma, Approach, Method, Karma
	Labelled string         `json:"text"`
}

func runNumerology(_ context.Context, s *Streams, o *numerologyOptions) error {
	if o.Lang != "ru" && o.Lang != "en" {
		return usagef("--lang must be ru or en, not %q", o.Lang)
	}
	var results []numerologyResult
	for _, in := range o.Dates {
		d, err := numerology.ParseDate(in)
		if err != nil {
			return &UsageError{Err: err}
		}
		n := numerology.Compute(d)
		r := numerologyResult{Input: in, Date: d.ISO(), Numbers: map[string]int{}, Order: n.Slice()}
		var parts []string
		for _, f := range numerology.Fields() {
			r.Numbers[strings.ToLower(f.String())] = n.Get(f)
			parts = append(parts, fmt.Sprintf("%s: %d", f.Label(o.Lang), n.Get(f)))
		}
		r.Labelled = strings.Join(parts, "\n")
		results = append(results, r)
	}
	if o.JSON {
		return writeJSON(s.Out, results)
	}
	for i, r := range results {
		if len(results) > 1 {
			if i > 0 {
				fmt.Fprintln(s.Out)
			}
			d, _ := numerology.ParseDate(r.Input)
			fmt.Fprintf(s.Out, "%s\n", d)
		}
		fmt.Fprintln(s.Out, r.Labelled)
	}
	return nil
}
