package cli

import (
	"bufio"
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sattva/sattva/dataset"
	"github.com/sattva/sattva/internal/fileguard"
)

type dataConvertOptions struct {
	File string
	From string
	To   string
	Out  string
}

func newDataConvertCmd(s *Streams) *cobra.Command {
	o := &dataConvertOptions{}
	c := &cobra.Command{
		Use: "convert FILE --to sharegpt|openai|alpaca [--from alpaca] [-o OUT]",
		Example: "  sattva data convert data/sattva.jsonl --to sharegpt -o sharegpt.json\n" +
			"  sattva data convert data/sattva.jsonl --to openai -o openai.jsonl",
		Short: "Convert JSONL between alpaca, ShareGPT and OpenAI-messages layouts",
		Long: `convert rewrites FILE line by line. alpaca → chat: history becomes earlier turns, the
prompt (instruction and input joined by a newline, as LLaMA-Factory does) the last user
turn, output the assistant's answer; system and lang are kept. chat → alpaca: the last
pair becomes instruction/output, earlier pairs history. ShareGPT uses LLaMA-Factory's
default tags (conversations, from: human/gpt, value). Output is atomic; .gz and .zst
compress; stdout without -o.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o.File = args[0]
			return runDataConvert(c.Context(), s, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.From, "from", "alpaca", "input layout: alpaca, sharegpt or openai")
	f.StringVar(&o.To, "to", "", "output layout: alpaca, sharegpt or openai (required)")
	f.StringVarP(&o.Out, "output", "o", "", "output file (default stdout)")
	return c
}

func runDataConvert(ctx context.Context, s *Streams, o *dataConvertOptions) error {
	from, err := dataset.ParseFormat(o.From)
	if err != nil {
		return &UsageError{Err: err}
	}
	if o.To == "" {
		return usagef("--to is required")
	}
	to, err := dataset.ParseFormat(o.To)
	if err != nil {
		return &UsageError{Err: err}
	}
	if err := guardOutputs([]string{o.File}, o.Out); err != nil {
		return err
	}
	in, err := fileguard.Open(o.File)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := createOutput(ctx, s, o.Out)
	if err != nil {
		return err
	}
	defer out.Abort()
	bw := bufio.NewWriterSize(out.w, 1<<20)
	n, err := dataset.Convert(ctx, in, bw, from, to)
	if err != nil {
		return fmt.Errorf("%s: %w", o.File, err)
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := out.Commit(); err != nil {
		return err
	}
	if o.Out != "" {
		fmt.Fprintf(s.ErrOut, "converted %d examples from %s to %s: %s\n", n, from, to, o.Out)
	}
	return nil
}
