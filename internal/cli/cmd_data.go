package cli

import (
	"compress/gzip"
	"context"
	"io"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/spf13/cobra"

	"github.com/sattva/sattva/internal/atomicfile"
)

// newDataCmd groups the dataset commands: gen, validate, split, convert.
func newDataCmd(s *Streams) *cobra.Command {
	c := &cobra.Command{
		Use:   "data",
		Short: "Generate, check, split and convert fine-tuning datasets (LLaMA-Factory alpaca JSONL)",
		Long: `data works on LLaMA-Factory's alpaca JSONL: one object per line with instruction,
input, output (optional system, history) and the SatTva lang field ("ru" or "en").
Files may be plain, gzip (.jsonl.gz) or zstd (.jsonl.zst); the contents decide.`,
	}
	gen := &cobra.Command{
		Use:   "gen",
		Short: "Generate datasets",
	}
	gen.AddCommand(newDataGenNumerologyCmd(s))
	c.AddCommand(gen, newDataValidateCmd(s), newDataSplitCmd(s), newDataConvertCmd(s))
	return c
}

// outputFile is a dataset being written: atomically to a path (compressed
// when the name ends in .gz or .zst) or to stdout for "" and "-".
type outputFile struct {
	w    io.Writer
	af   *atomicfile.File
	comp io.WriteCloser
}

func createOutput(ctx context.Context, s *Streams, path string) (*outputFile, error) {
	if path == "" || path == "-" {
		return &outputFile{w: s.Out}, nil
	}
	if err := ensureOutDir(path); err != nil {
		return nil, err
	}
	af, err := atomicfile.CreateContext(ctx, path, 0o644)
	if err != nil {
		return nil, err
	}
	o := &outputFile{w: af, af: af}
	switch {
	case strings.HasSuffix(path, ".gz"):
		o.comp = gzip.NewWriter(af)
	case strings.HasSuffix(path, ".zst"):
		zw, err := zstd.NewWriter(af)
		if err != nil {
			af.Abort()
			return nil, err
		}
		o.comp = zw
	}
	if o.comp != nil {
		o.w = o.comp
	}
	return o, nil
}

// Commit finishes the file; nothing is left under the final name on error.
func (o *outputFile) Commit() error {
	if o.comp != nil {
		if err := o.comp.Close(); err != nil {
			o.Abort()
			return err
		}
	}
	if o.af != nil {
		return o.af.Commit()
	}
	return nil
}

// Abort removes a file that was not committed.
func (o *outputFile) Abort() {
	if o.af != nil {
		o.af.Abort()
	}
}
