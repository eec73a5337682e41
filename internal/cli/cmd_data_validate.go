package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sattva/sattva/dataset"
	"github.com/sattva/sattva/internal/progress"
)

type dataValidateOptions struct {
	Files        []string
	Model        string
	Tokenizer    string
	Cutoff       int
	Template     string
	JSON         bool
	MaxIssues    int
	NoDuplicates bool
	Workers      int
	Quiet        bool
}

func newDataValidateCmd(s *Streams) *cobra.Command {
	o := &dataValidateOptions{}
	c := &cobra.Command{
		Use:   "validate FILE... [--model M.gguf | --tokenizer DIR] [--cutoff 2048] [--template llama3]",
		Short: "Check alpaca JSONL datasets line by line before a GPU hour is spent",
		Long: `validate streams each FILE (.jsonl, .jsonl.gz, .jsonl.zst; any size) and reports by
line number:

  errors:   invalid JSON or UTF-8, missing or empty instruction/output, fields of the
            wrong type, lang that disagrees with the script of instruction and output
            (code in backticks is not judged),
            exact duplicates (also across files), numerology answers that contradict
            the computed numbers, examples longer than --cutoff tokens (truncated by
            LLaMA-Factory), over-long lines
  warnings: unknown fields, duplicate keys, missing or unknown lang, near duplicates
            (same text up to case, spacing and punctuation), blank lines

With --model (a GGUF, only its vocabulary is loaded) or --tokenizer (a Hugging Face
tokenizer folder, turned into a vocab-only GGUF), every example is rendered with
LLaMA-Factory's chat template and counted; a histogram of token lengths is printed.

Exit code 0 when there are only warnings, 1 when errors are found, 3 when a file
cannot be read at all (broken gzip/zstd stream).`,
		Example: "  sattva data validate data/sattva.jsonl\n  sattva data validate train.jsonl.zst --tokenizer models/llama-3.1-8b --cutoff 2048",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o.Files = args
			return runDataValidate(c.Context(), s, o)
		},
	}
	f := c.Flags()
	f.StringVarP(&o.Model, "model", "m", "", "GGUF whose tokenizer counts tokens (vocabulary only is loaded)")
	f.StringVar(&o.Tokenizer, "tokenizer", "", "Hugging Face folder with tokenizer.json and tokenizer_config.json for token counting")
	f.IntVar(&o.Cutoff, "cutoff", dataset.DefaultCutoff, "LLaMA-Factory cutoff_len in tokens")
	f.StringVar(&o.Template, "template", "llama3", "LLaMA-Factory chat template")
	f.BoolVar(&o.JSON, "json", false, "print the report as JSON")
	f.IntVar(&o.MaxIssues, "max-issues", 1000, "issues listed in the report (counts are always complete)")
	f.BoolVar(&o.NoDuplicates, "no-duplicates", false, "skip duplicate detection (its index grows ~65 bytes per example)")
	f.IntVar(&o.Workers, "workers", 0, "parallel checkers (0: all cores)")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "no progress bar")
	return c
}

func runDataValidate(ctx context.Context, s *Streams, o *dataValidateOptions) error {
	if o.Model != "" && o.Tokenizer != "" {
		return usagef("give --model or --tokenizer, not both")
	}
	if o.Cutoff <= 0 {
		return usagef("--cutoff must be positive")
	}
	tmpl, err := dataset.LookupTemplate(o.Template)
	if err != nil {
		return &UsageError{Err: err}
	}
	opts := dataset.Options{Cutoff: o.Cutoff, NoDuplicates: o.NoDuplicates, MaxIssues: o.MaxIssues, Workers: o.Workers}
	if o.MaxIssues <= 0 {
		opts.MaxIssues = -1
	}
	if o.Model != "" || o.Tokenizer != "" {
		tc, closeTC, err := openTokenCounter(ctx, o.Model, o.Tokenizer, tmpl)
		if err != nil {
			return err
		}
		defer closeTC()
		opts.Tokens = tc
	}
	if !o.JSON {
		printed := 0
		opts.OnIssue = func(is dataset.Issue) {
			if printed < opts.MaxIssues {
				fmt.Fprintln(s.Out, is)
				printed++
			}
		}
	}
	v := dataset.NewValidator(opts)
	for _, path := range o.Files {
		bar := progress.New(s.ErrOut, "validate "+path, progress.Bytes, o.Quiet || o.JSON)
		v.SetProgress(bar.Func())
		err := v.ValidateFile(ctx, path)
		bar.Finish()
		if err != nil {
			return err
		}
	}
	rep := v.Report()
	if o.JSON {
		if err := writeJSON(s.Out, rep); err != nil {
			return err
		}
	} else {
		printValidateSummary(s.Out, rep)
	}
	if rep.Errors > 0 {
		return ExitWith(ExitFailure)
	}
	return nil
}

func printValidateSummary(w io.Writer, r *dataset.Report) {
	fmt.Fprintf(w, "\n%d lines, %d examples, %s in %d file(s)\n", r.Lines, r.Examples, progress.FormatBytes(r.Bytes), len(r.Files))
	langs := make([]string, 0, len(r.ByLang))
	for l := range r.ByLang {
		langs = append(langs, l)
	}
	sort.Strings(langs)
	var parts []string
	for _, l := range langs {
		parts = append(parts, fmt.Sprintf("%s %d", l, r.ByLang[l]))
	}
	if len(parts) > 0 {
		fmt.Fprintf(w, "by language: %s\n", strings.Join(parts, ", "))
	}
	kinds := make([]string, 0, len(r.ByKind))
	for k := range r.ByKind {
		kinds = append(kinds, string(k))
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(w, "  %-16s %-7s %d\n", k, dataset.SeverityOf(dataset.Kind(k)), r.ByKind[dataset.Kind(k)])
	}
	if t := r.Tokens; t != nil {
		fmt.Fprintf(w, "tokens after the chat template: min %d, mean %.1f, max %d; %d over cutoff_len %d\n", t.Min, t.Mean, t.Max, t.Truncated, t.Cutoff)
		var peak int64
		for _, b := range t.Histogram {
			peak = max(peak, b.Count)
		}
		for _, b := range t.Histogram {
			bar := strings.Repeat("#", int(1+39*b.Count/max(peak, 1)))
			mark := ""
			if b.Lo >= t.Cutoff {
				mark = "  (over cutoff_len: truncated)"
			}
			fmt.Fprintf(w, "  %6d-%-6d %8d %s%s\n", b.Lo+1, b.Hi, b.Count, bar, mark)
		}
	}
	if r.IssuesDropped > 0 {
		fmt.Fprintf(w, "(%d issues not listed in the report; see the counts)\n", r.IssuesDropped)
	}
	verdict := "OK"
	if r.Errors > 0 {
		verdict = "FAILED"
	}
	fmt.Fprintf(w, "%s: %d errors, %d warnings\n", verdict, r.Errors, r.Warnings)
}
