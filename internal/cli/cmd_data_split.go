package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sattva/sattva/dataset"
	"github.com/sattva/sattva/internal/fileguard"
)

type dataSplitOptions struct {
	File      string
	Train     string
	Eval      string
	EvalRatio float64
	Seed      uint64
	JSON      bool
}

func newDataSplitCmd(s *Streams) *cobra.Command {
	o := &dataSplitOptions{}
	c := &cobra.Command{
		Use: "split FILE --train TRAIN.jsonl --eval EVAL.jsonl [--eval-ratio 0.1] [--seed S]",
		Example: "  sattva data split data/sattva.jsonl --train train.jsonl --eval eval.jsonl\n" +
			"  sattva data split data/sattva.jsonl --train train.jsonl --eval eval.jsonl --eval-ratio 0.2 --seed 7 --json",
		Short: "Split a dataset into train and eval, stratified by lang, deterministically",
		Long: `split copies each line of FILE, unchanged and in order, to TRAIN or EVAL. Of each
language's n examples exactly round(n × --eval-ratio) go to EVAL, chosen by a seeded
selection sample: the same file, ratio and seed always give the same split. FILE is
read twice (count, then write). Outputs are written atomically; .gz and .zst compress.
Blank lines are dropped; a line that is not a JSON object stops the split with exit
code 3 (run "sattva data validate" first).`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o.File = args[0]
			return runDataSplit(c.Context(), s, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.Train, "train", "", "train output file (required)")
	f.StringVar(&o.Eval, "eval", "", "eval output file (required)")
	f.Float64Var(&o.EvalRatio, "eval-ratio", 0.1, "share of each language's examples that go to eval, 0..1")
	f.Uint64Var(&o.Seed, "seed", 1, "random seed")
	f.BoolVar(&o.JSON, "json", false, "print the counts as JSON")
	return c
}

func runDataSplit(ctx context.Context, s *Streams, o *dataSplitOptions) error {
	if o.Train == "" || o.Eval == "" {
		return usagef("--train and --eval are required")
	}
	if err := guardOutputs([]string{o.File}, o.Train, o.Eval); err != nil {
		return err
	}
	if o.EvalRatio < 0 || o.EvalRatio > 1 {
		return usagef("--eval-ratio must be within 0..1")
	}
	train, err := createOutput(ctx, s, o.Train)
	if err != nil {
		return err
	}
	defer train.Abort()
	eval, err := createOutput(ctx, s, o.Eval)
	if err != nil {
		return err
	}
	defer eval.Abort()
	open := func() (io.ReadCloser, error) { return fileguard.Open(o.File) }
	st, err := dataset.Split(ctx, open, train.w, eval.w, dataset.SplitOptions{EvalShare: o.EvalRatio, Seed: o.Seed})
	if err != nil {
		return fmt.Errorf("%s: %w", o.File, err)
	}
	if err := train.Commit(); err != nil {
		return err
	}
	if err := eval.Commit(); err != nil {
		return err
	}
	if o.JSON {
		return writeJSON(s.Out, st)
	}
	sum := func(m map[string]int64) (n int64) {
		for _, v := range m {
			n += v
		}
		return n
	}
	fmt.Fprintf(s.Out, "train %s: %d examples (%s)\neval  %s: %d examples (%s)\n",
		o.Train, sum(st.Train), langCounts(st.Train), o.Eval, sum(st.Eval), langCounts(st.Eval))
	return nil
}

// langCounts writes per-language counts for people: "en 87, ru 93".
func langCounts(m map[string]int64) string {
	langs := make([]string, 0, len(m))
	for l := range m {
		langs = append(langs, l)
	}
	sort.Strings(langs)
	parts := make([]string, len(langs))
	for i, l := range langs {
		parts[i] = fmt.Sprintf("%s %d", l, m[l])
	}
	return strings.Join(parts, ", ")
}
