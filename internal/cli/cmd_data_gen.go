package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sattva/sattva/internal/fileguard"
	"github.com/sattva/sattva/numerology"
)

type dataGenNumerologyOptions struct {
	N                   int
	Seed                uint64
	LangRatio           float64
	AllowDuplicateDates bool
	From, To            string
	Meanings            string
	MeaningsTemplate    bool
	Out                 string
	JSON                bool
}

func newDataGenNumerologyCmd(s *Streams) *cobra.Command {
	o := &dataGenNumerologyOptions{}
	c := &cobra.Command{
		Use:   "numerology -n N [--seed S] [--lang-ratio R] [-o FILE]",
		Short: "Generate RU/EN numerology examples whose answers are computed exactly",
		Long: `numerology writes N alpaca examples asking for the five numbers of a birth date,
with varied phrasings, date forms (29.01.1988, 29011988, 1988-01-29, "5 ноября 2004",
"November 5, 2004", 29/01/1988) and answer styles ("Джива: 2" lines, "Джива — 2",
one line, a bare list where the question fixes the order). The same -n, --seed and
options always give the same file. Every birth date is used once unless
--allow-duplicate-dates.

--meanings FILE adds answers with a one-line meaning per number, taken from FILE,
which you fill; --meanings-template prints an empty one to start from.
Output: -o FILE (written atomically; .gz and .zst compress) or stdout.`,
		Example: "  sattva data gen numerology -n 2000 --seed 1 --lang-ratio 0.6 -o data/numerology.jsonl\n" +
			"  sattva data gen numerology --meanings-template > meanings.yaml",
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if !o.MeaningsTemplate && !c.Flags().Changed("n") {
				return usagef("-n is required")
			}
			return runDataGenNumerology(c.Context(), s, o)
		},
	}
	f := c.Flags()
	f.IntVarP(&o.N, "n", "n", 0, "number of examples")
	f.Uint64Var(&o.Seed, "seed", 1, "random seed; the same seed gives the same examples")
	f.Float64Var(&o.LangRatio, "lang-ratio", 0.5, "share of Russian examples, 0..1 (the rest English)")
	f.BoolVar(&o.AllowDuplicateDates, "allow-duplicate-dates", false, "let a birth date occur more than once")
	f.StringVar(&o.From, "from", "01.01.1900", "earliest birth date")
	f.StringVar(&o.To, "to", "31.12.2030", "latest birth date")
	f.StringVar(&o.Meanings, "meanings", "", "YAML file of one-line meanings (see --meanings-template)")
	f.BoolVar(&o.MeaningsTemplate, "meanings-template", false, "print an empty meanings file to fill, and exit")
	f.StringVarP(&o.Out, "output", "o", "", "output file (default stdout)")
	f.BoolVar(&o.JSON, "json", false, "print a JSON summary on stdout (needs -o)")
	return c
}

func runDataGenNumerology(ctx context.Context, s *Streams, o *dataGenNumerologyOptions) error {
	if o.MeaningsTemplate {
		_, err := s.Out.Write(numerology.MeaningsTemplate())
		return err
	}
	if o.N < 0 {
		return usagef("-n must not be negative")
	}
	if o.LangRatio < 0 || o.LangRatio > 1 {
		return usagef("--lang-ratio must be within 0..1, not %v", o.LangRatio)
	}
	if o.JSON && (o.Out == "" || o.Out == "-") {
		return usagef("--json needs -o FILE (stdout carries the examples otherwise)")
	}
	from, err := numerology.ParseDate(o.From)
	if err != nil {
		return usagef("--from: %v", err)
	}
	to, err := numerology.ParseDate(o.To)
	if err != nil {
		return usagef("--to: %v", err)
	}
	gen := numerology.GenOptions{N: o.N, Seed: o.Seed, RussianShare: o.LangRatio, AllowDuplicateDates: o.AllowDuplicateDates, From: from, To: to}
	if err := guardOutputs([]string{o.Meanings}, o.Out); err != nil {
		return err
	}
	if o.Meanings != "" {
		f, err := fileguard.Open(o.Meanings)
		if err != nil {
			return err
		}
		m, err := numerology.LoadMeanings(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", o.Meanings, err)
		}
		gen.Meanings = m
	}
	seq, err := numerology.Examples(gen)
	if err != nil {
		return usagef("%v", err)
	}
	out, err := createOutput(ctx, s, o.Out)
	if err != nil {
		return err
	}
	defer out.Abort()
	bw := bufio.NewWriterSize(out.w, 1<<20)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	counts := map[string]int{}
	for ex := range seq {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := enc.Encode(ex); err != nil {
			return err
		}
		counts[ex.Lang]++
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := out.Commit(); err != nil {
		return err
	}
	if o.JSON {
		return writeJSON(s.Out, map[string]any{"file": o.Out, "examples": o.N, "by_lang": counts, "seed": o.Seed})
	}
	if o.Out != "" && o.Out != "-" {
		fmt.Fprintf(s.ErrOut, "wrote %d examples (ru %d, en %d) to %s\n", o.N, counts["ru"], counts["en"], o.Out)
	}
	return nil
}
