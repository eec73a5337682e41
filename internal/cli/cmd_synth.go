package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sattva/sattva/internal/progress"
	"github.com/sattva/sattva/plan"
	"github.com/sattva/sattva/synth"
)

type synthOptions struct {
	Shape     string
	Out       string
	DType     string
	Seed      uint64
	Tokenizer string
	Threads   int
	Quiet     bool
}

func newSynthCmd(s *Streams) *cobra.Command {
	o := &synthOptions{}
	c := &cobra.Command{
		Use: "synth --shape SHAPE OUT_DIR",
		Example: "  sattva synth --shape tiny --tokenizer models/llama-3.1-8b synth-tiny\n" +
			"  sattva synth --shape tiny --dtype f16 --seed 7 synth-tiny-f16",
		Short: "Write a random-weight Hugging Face checkpoint of a real model's exact shape (for benchmarks)",
		Long: "synth writes safetensors shards (as transformers' save_pretrained shards them), config.json,\n" +
			"generation_config.json and tokenizer files (copied from --tokenizer, or a minimal byte-level\n" +
			"Llama 3 tokenizer) with seeded random weights. Shapes: " + strings.Join(synthShapeNames(), ", ") + ".",
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o.Out = args[0]
			return runSynth(c.Context(), s, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.Shape, "shape", "tiny", "model shape: "+strings.Join(synthShapeNames(), ", "))
	f.StringVar(&o.DType, "dtype", "bf16", "weight dtype: bf16, f16, f32")
	f.Uint64Var(&o.Seed, "seed", 0, "PRNG seed (same seed, same bytes)")
	f.StringVar(&o.Tokenizer, "tokenizer", "", "folder to copy tokenizer files from (default: a minimal built-in one)")
	f.IntVar(&o.Threads, "threads", 0, "parallel writers (0: all cores)")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "no progress bar")
	return c
}

func runSynth(ctx context.Context, s *Streams, o *synthOptions) error {
	shape, ok := synthShape(o.Shape)
	if !ok {
		return usagef("--shape %q: known shapes are %s", o.Shape, strings.Join(synthShapeNames(), ", "))
	}
	bar := progress.New(s.ErrOut, "synth", progress.Bytes, o.Quiet)
	start := time.Now()
	err := synth.WriteShape(ctx, shape, o.Out, synth.Options{DType: o.DType, Seed: o.Seed, Tokenizer: o.Tokenizer, Workers: o.Threads, Progress: bar.Func()})
	bar.Finish()
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "wrote %s (%s, %s) in %s\n", o.Out, o.Shape, o.DType, time.Since(start).Round(time.Millisecond))
	return nil
}

// synthRealShapes are the real models of plan's table that synth writes.
func synthRealShapes() []string { return []string{"llama3.1-8b", "llama3.2-1b", "llama3.2-3b"} }

// synthShapeNames lists the --shape values, sorted.
func synthShapeNames() []string {
	return slices.Sorted(slices.Values(append(synthRealShapes(), synth.Tiny().Name, synth.Mini().Name)))
}

// synthShape is one of synth's test shapes (tiny, mini) or a real model's
// from plan's table.
func synthShape(name string) (synth.Shape, bool) {
	for _, s := range []synth.Shape{synth.Tiny(), synth.Mini()} {
		if name == s.Name {
			return s, true
		}
	}
	p, ok := plan.Preset(name)
	if !ok || !slices.Contains(synthRealShapes(), name) {
		return synth.Shape{}, false
	}
	return synth.Shape{Name: p.Name, Hidden: int64(p.Hidden), Intermediate: int64(p.FFN), Layers: int64(p.Layers), Heads: int64(p.Heads),
		KVHeads: int64(p.KVHeads), Vocab: int64(p.Vocab), Context: int64(p.Context), RopeTheta: p.RopeTheta, RopeFactor: p.RopeFactor,
		TieEmbeddings: p.TiedEmbd}, true
}
