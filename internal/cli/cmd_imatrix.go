package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sattva/sattva/internal/progress"
	"github.com/sattva/sattva/llamacpp"
	"github.com/sattva/sattva/quantize"
)

type imatrixOptions struct {
	Model         string
	Data          []string
	LoRA          []string
	Out           string
	Format        string
	Chunks        int
	ProcessOutput bool
	ParseSpecial  bool
	Quiet         bool
	JSON          bool
	engineFlags
}

func newIMatrixCmd(s *Streams) *cobra.Command {
	o := &imatrixOptions{}
	c := &cobra.Command{
		Use:   "imatrix MODEL.gguf --data FILE [--data FILE…] [-o imatrix.gguf]",
		Short: "Compute an importance matrix from your own data (like llama-imatrix)",
		Long: "imatrix runs the model over your data in chunks of -c tokens and records, for every\n" +
			"matrix multiplication's weight, the sum of squared activations of each input column and\n" +
			"the rows counted, as llama.cpp's llama-imatrix does, in its GGUF format (or the legacy\n" +
			".dat with --output-format dat). JSONL examples are rendered with the model's chat\n" +
			"template; other files are read as plain text. Give the file to `sattva quantize\n" +
			"--imatrix` or to llama-quantize. Ctrl-C writes the chunks done so far.\n\n" +
			"Each pass stops after the last layer's weights: the output layer is never run, so no\n" +
			"logits are computed or copied (--process-output runs it). On a GPU the sums are\n" +
			"computed there, beside the pass, and read back once at the end.\n" +
			"With every layer on a GPU, -t 0 means 4 CPU threads.",
		Example: "  sattva imatrix model-f16.gguf --data train.jsonl -o imatrix.gguf\n" +
			"  sattva imatrix model-f16.gguf --data train.jsonl --lora adapter.gguf -c 512 --chunks 100",
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o.Model = args[0]
			return runIMatrix(c.Context(), s, o)
		},
	}
	f := c.Flags()
	f.StringArrayVarP(&o.Data, "data", "f", nil, "data file: JSONL examples or plain text (repeatable)")
	f.StringArrayVar(&o.LoRA, "lora", nil, "LoRA adapter GGUF[:SCALE] applied while collecting (repeatable)")
	f.StringVarP(&o.Out, "output", "o", "imatrix.gguf", "output file")
	f.StringVar(&o.Format, "output-format", "gguf", "gguf or dat (llama-imatrix's legacy format)")
	f.IntVar(&o.Chunks, "chunks", -1, "most chunks to process (-1: all)")
	f.BoolVar(&o.ProcessOutput, "process-output", false, "collect output.weight too (the pass then runs the output layer)")
	f.BoolVar(&o.ParseSpecial, "parse-special", false, "parse special tokens in plain-text data")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "no progress bar")
	f.BoolVar(&o.JSON, "json", false, "print the summary as JSON")
	o.engineFlags.bind(f, 512)
	_ = c.MarkFlagRequired("data")
	return c
}

// imatrixSummary is what `sattva imatrix --json` prints.
type imatrixSummary struct {
	Output      string  `json:"output"`
	Weights     int     `json:"weights"`
	Chunks      int     `json:"chunks"`
	ChunkSize   int     `json:"chunk_size"`
	Seconds     float64 `json:"seconds"`  // whole command: load, tokenize, collect, write
	ChunkMS     float64 `json:"chunk_ms"` // mean per chunk after the first
	Interrupted bool    `json:"interrupted,omitempty"`
	// Activations a GPU reduced (once for all the MUL_MATs that read one),
	// and the MUL_MATs that shared another's reduction (q, k, v and gate, up
	// read the same input).
	DeviceReduced int64 `json:"device_reduced,omitempty"`
	SharedReduced int64 `json:"shared_reduced,omitempty"`
	// Passes stopped after the last weight, before the output layer (whose
	// logits the importance matrix does not use).
	OutputSkipped int `json:"output_skipped,omitempty"`
}

func runIMatrix(ctx context.Context, s *Streams, o *imatrixOptions) error {
	format := strings.ToLower(o.Format)
	if format != "gguf" && format != "dat" {
		return usagef("--output-format %q: want gguf or dat", o.Format)
	}
	if o.ContextSize < 16 {
		return usagef("-c %d: chunks need at least 16 tokens (llama-imatrix ignores smaller batches)", o.ContextSize)
	}
	adapters, err := parseLoRAFlags(o.LoRA)
	if err != nil {
		return usagef("%v", err)
	}
	if _, err := llamacpp.InitBackends(o.BackendDir, o.logger(s.ErrOut)); err != nil {
		return err
	}
	bar := progress.New(s.ErrOut, "imatrix chunks", progress.Items, o.Quiet || o.JSON)
	start := time.Now()
	var first, last time.Time
	var firstN, lastN int
	var reduced, shared int64
	var skipped int
	sums, err := computeIMatrix(ctx, imatrixOpts{
		Reduced: func(d, s int64, o int) { reduced, shared, skipped = d, s, o },
		Model:   o.Model, LoRA: adapters, Data: o.Data, ChunkSize: o.ContextSize, Chunks: o.Chunks,
		ProcessOutput: o.ProcessOutput, ParseSpecial: o.ParseSpecial, Threads: o.Threads,
		GPULayers: o.GPULayers, CPUOnly: o.GPULayers == 0, Logger: o.logger(s.ErrOut),
		Progress: func(done, total int) {
			now := time.Now()
			if firstN == 0 {
				first, firstN = now, done
			}
			last, lastN = now, done
			bar.Update(int64(done), int64(total))
		},
	})
	bar.Finish()
	if sums == nil {
		return err
	}
	interrupted := err != nil
	if interrupted && (!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) || sums.ChunkCount == 0) {
		return err
	}
	var werr error
	if format == "dat" {
		werr = quantize.WriteIMatrixLegacy(o.Out, sums)
	} else {
		werr = quantize.WriteIMatrix(context.WithoutCancel(ctx), o.Out, sums)
	}
	if werr != nil {
		return werr
	}
	res := imatrixSummary{Output: o.Out, Weights: len(sums.Entries), Chunks: sums.ChunkCount, ChunkSize: sums.ChunkSize,
		Seconds: time.Since(start).Seconds(), Interrupted: interrupted, DeviceReduced: reduced, SharedReduced: shared,
		OutputSkipped: skipped}
	if lastN > firstN {
		// After the first chunk (warm-up: graph reservation, first use of the weights).
		res.ChunkMS = float64(last.Sub(first).Microseconds()) / 1e3 / float64(lastN-firstN)
	}
	if o.JSON {
		if err := writeJSON(s.Out, res); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(s.Out, "wrote %s: %d weights, %d chunks of %d tokens in %.1fs", o.Out, res.Weights, res.Chunks, res.ChunkSize, res.Seconds)
		if res.ChunkMS > 0 {
			fmt.Fprintf(s.Out, " (%.1f ms per chunk after the first)", res.ChunkMS)
		}
		fmt.Fprintln(s.Out)
	}
	if interrupted {
		fmt.Fprintf(s.ErrOut, "interrupted: %s holds the %d chunks done\n", o.Out, sums.ChunkCount)
		return err
	}
	return nil
}
