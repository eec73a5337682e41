package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sattva/sattva/convert"
	"github.com/sattva/sattva/convquant"
	"github.com/sattva/sattva/internal/progress"
)

type convertOptions struct {
	In        string
	Out       string
	OutType   string
	Threads   int
	MergeLoRA []string
	DryRun    bool
	JSON      bool
	Quiet     bool
	Name      string
	// FromSource: for a k-quant --outtype, quantize the original values
	// instead of going through F16 (see cmd_convert_quantize.go).
	FromSource bool
	IMatrix    string // importance matrix for a quantized --outtype
}

func newConvertCmd(s *Streams) *cobra.Command {
	o := &convertOptions{}
	c := &cobra.Command{
		Use: "convert HF_DIR -o OUT.gguf",
		Example: "  sattva convert models/llama-3.1-8b -o base.f16.gguf\n" +
			"  sattva convert models/llama-3.1-8b --merge-lora lora-adapter -o merged.f16.gguf\n" +
			"  sattva convert models/llama-3.1-8b --outtype bf16 --dry-run\n" +
			"  sattva convert models/stories260K --outtype q8_0 -o stories.q8_0.gguf       # quantized in the same pass",
		Short: "Convert a Hugging Face Llama checkpoint folder to GGUF",
		Long: "convert reads a Hugging Face Llama-family checkpoint (config.json, safetensors shards,\n" +
			"tokenizer files) and writes the GGUF llama.cpp's convert_hf_to_gguf.py would write,\n" +
			"streaming, with parallel tensor conversion and an atomic output file.\n" +
			"--merge-lora DIR[:SCALE] merges PEFT LoRA adapters into the weights on the way.",
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o.In = args[0]
			return runConvert(c.Context(), s, o)
		},
	}
	f := c.Flags()
	f.StringVarP(&o.Out, "output", "o", "", "output GGUF file (default: HF_DIR/<name>-<outtype>.gguf)")
	f.StringVar(&o.OutType, "outtype", "f16", "weight type: f32, f16, bf16, q8_0, or a llama-quantize type (q4_k_m, q5_k_m, q6_k, …) quantized in the same pass")
	f.BoolVar(&o.FromSource, "from-source", false, "with a quantized --outtype: quantize the checkpoint's own values, not their F16 rounding")
	f.StringVar(&o.IMatrix, "imatrix", "", "with a quantized --outtype: importance matrix (sattva imatrix or llama-imatrix, GGUF or .dat)")
	f.IntVar(&o.Threads, "threads", 0, "tensors converted at once (0: all cores)")
	f.StringArrayVar(&o.MergeLoRA, "merge-lora", nil, "merge a PEFT LoRA adapter folder, optionally scaled: DIR[:SCALE] (repeatable)")
	f.BoolVar(&o.DryRun, "dry-run", false, "print the plan (tensors, shapes, types, output size) without writing")
	f.BoolVar(&o.JSON, "json", false, "print the plan as JSON")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "no progress bar")
	f.StringVar(&o.Name, "name", "", "general.name (default: from the folder's name)")
	c.AddCommand(newConvertLoRACmd(s))
	return c
}

// parseLoRASpec parses DIR[:SCALE]; a suffix that is not a number is part of DIR.
func parseLoRASpec(s string) convert.LoRASpec {
	if i := strings.LastIndex(s, ":"); i > 0 {
		if v, err := strconv.ParseFloat(s[i+1:], 64); err == nil {
			return convert.LoRASpec{Dir: s[:i], Scale: v}
		}
	}
	return convert.LoRASpec{Dir: s, Scale: 1}
}

func runConvert(ctx context.Context, s *Streams, o *convertOptions) error {
	ft, err := convquant.ParseOutType(o.OutType)
	if err != nil {
		return usagef("--outtype %q: %v", o.OutType, err)
	}
	t, direct := convquant.DirectType(ft)
	if !direct {
		return runConvertQuantized(ctx, s, o, ft)
	}
	if o.IMatrix != "" {
		return usagef("--imatrix needs a quantized --outtype (q4_k_m, iq4_xs, …), not %s", o.OutType)
	}
	if o.Out == "" && !o.DryRun {
		o.Out = filepath.Join(o.In, fmt.Sprintf("%s-%s.gguf", filepath.Base(filepath.Clean(o.In)), strings.ToLower(t.String())))
	}
	opts := convert.Options{OutType: t, Threads: o.Threads, DryRun: o.DryRun, Name: o.Name}
	dirs := []string{o.In}
	for _, m := range o.MergeLoRA {
		opts.MergeLoRA = append(opts.MergeLoRA, parseLoRASpec(m))
		dirs = append(dirs, parseLoRASpec(m).Dir)
	}
	if err := guardOutputs(folderInputs(dirs...), o.Out); err != nil {
		return err
	}
	bar := progress.New(s.ErrOut, "convert", progress.Bytes, o.Quiet || o.JSON || o.DryRun)
	opts.Progress = bar.Func()
	if !o.DryRun {
		if err := ensureOutDir(o.Out); err != nil {
			return err
		}
	}
	plan, err := convert.Convert(ctx, o.In, o.Out, opts)
	bar.Finish()
	if err != nil {
		return err
	}
	return printPlan(s, plan, o.JSON)
}

func printPlan(s *Streams, plan *convert.Plan, asJSON bool) error {
	if asJSON {
		return writeJSON(s.Out, plan)
	}
	if plan.DryRun {
		for _, t := range plan.Tensors {
			extra := ""
			if t.Permute {
				extra += " (q/k permuted)"
			}
			if len(t.Merged) > 0 {
				extra += " + lora " + strings.Join(t.Merged, ", ")
			}
			src := t.Source
			if src == "" {
				src = "(generated)"
			}
			fmt.Fprintf(s.Out, "%-32s %-22s %-5s %-8s <- %s %s%s\n", t.Name, fmt.Sprint(t.Dims), t.TypeStr, progress.FormatBytes(t.Bytes), src, t.DType, extra)
		}
		fmt.Fprintf(s.Out, "%d tensors, %s of tensor data, a %s GGUF file (reading %s); nothing written (--dry-run)\n",
			len(plan.Tensors), progress.FormatBytes(plan.TensorBytes), progress.FormatBytes(plan.FileBytes), progress.FormatBytes(plan.SourceBytes))
		return nil
	}
	fmt.Fprintf(s.Out, "wrote %s: %d tensors, %s of tensor data\n", plan.Output, len(plan.Tensors), progress.FormatBytes(plan.TensorBytes))
	return nil
}

type convertLoRAOptions struct {
	Adapter string
	Base    string
	Out     string
	Threads int
	DryRun  bool
	JSON    bool
	Quiet   bool
	Name    string
}

func newConvertLoRACmd(s *Streams) *cobra.Command {
	o := &convertLoRAOptions{}
	c := &cobra.Command{
		Use:     "lora ADAPTER_DIR --base BASE_DIR -o OUT.gguf",
		Example: "  sattva convert lora lora-adapter --base models/llama-3.1-8b -o adapter.gguf",
		Short:   "Convert a PEFT LoRA adapter to llama.cpp's adapter GGUF",
		Long: "convert lora writes the adapter GGUF llama.cpp's convert_lora_to_gguf.py would write\n" +
			"(F32 lora_a/lora_b, adapter.lora.alpha). BASE_DIR needs only the base model's config.json.\n" +
			"DoRA, per-module ranks or alphas, and adapters that retrain embeddings or norms are refused.",
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o.Adapter = args[0]
			return runConvertLoRA(c.Context(), s, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.Base, "base", "", "base model folder (its config.json) (required)")
	f.StringVarP(&o.Out, "output", "o", "", "output GGUF file (default: ADAPTER_DIR/<name>-lora-f32.gguf)")
	f.IntVar(&o.Threads, "threads", 0, "tensors converted at once (0: all cores)")
	f.BoolVar(&o.DryRun, "dry-run", false, "print the plan without writing")
	f.BoolVar(&o.JSON, "json", false, "print the plan as JSON")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "no progress bar")
	f.StringVar(&o.Name, "name", "", "general.name (default: from the folder's name)")
	return c
}

func runConvertLoRA(ctx context.Context, s *Streams, o *convertLoRAOptions) error {
	if o.Base == "" {
		return usagef("--base BASE_DIR is required: the adapter's base model folder (its config.json)")
	}
	if o.Out == "" && !o.DryRun {
		o.Out = filepath.Join(o.Adapter, filepath.Base(filepath.Clean(o.Adapter))+"-lora-f32.gguf")
	}
	bar := progress.New(s.ErrOut, "convert lora", progress.Bytes, o.Quiet || o.JSON || o.DryRun)
	if err := guardOutputs(folderInputs(o.Adapter, o.Base), o.Out); err != nil {
		return err
	}
	if !o.DryRun {
		if err := ensureOutDir(o.Out); err != nil {
			return err
		}
	}
	plan, err := convert.ConvertLoRA(ctx, o.Adapter, o.Base, o.Out, convert.LoRAOptions{Threads: o.Threads, DryRun: o.DryRun, Name: o.Name, Progress: bar.Func()})
	bar.Finish()
	if err != nil {
		return err
	}
	return printPlan(s, plan, o.JSON)
}
