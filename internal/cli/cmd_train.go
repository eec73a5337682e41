package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sattva/sattva/internal/progress"
	"github.com/sattva/sattva/pipeline"
)

type trainOptions struct {
	Project     string
	PrintConfig bool
	Trainer     string
	Python      string
	Verbose     bool
	Quiet       bool
	JSON        bool
	CPU         bool
}

func newTrainCmd(s *Streams) *cobra.Command {
	o := &trainOptions{}
	c := &cobra.Command{
		Use:   "train [sattva.yaml]",
		Short: "Run the LoRA/QLoRA training stage (LLaMA-Factory, or the built-in fallback trainer)",
		Long: `train writes LLaMA-Factory's training YAML and dataset_info.json from the project
file into <output>/train/, then runs ` + "`llamafactory-cli train`" + ` on it in its own process group,
showing the loss and progress it prints. The LoRA adapter lands in <output>/adapter/.

When llamafactory-cli is not installed, the same YAML goes to the fallback trainer
scripts/train/sft_lora.py (python3 with torch, transformers and peft; 4-bit QLoRA when
bitsandbytes imports, plain LoRA otherwise). With neither, a base of up to
train.native.max_base_bytes (3 GiB) is trained by the native trainer; else training is
skipped and said so.

--trainer llamacpp (train.trainer: llamacpp) is the native trainer: weight training (no adapter)
inside sattva with the settings of train.native. Its default engine (train.native.engine: auto)
is sattva's own ggml training graph for a Llama: every tensor trains, the loss counts the answer
tokens only, AdamW. Where that graph cannot take the model, llama.cpp's llama_opt_epoch
trains (next-token loss on whole examples, only tensors after the last KV-cache write).
The examples are rendered with the project's template exactly as the fallback trainer renders
them and packed into windows of train.native.context tokens. On a CUDA GPU only the graph
runs (llama_opt_epoch aborts in this llama.cpp's CUDA code, see docs/pipeline.md), and there a
token embedding of more than 65,535 rows stays frozen; --cpu trains on the CPU.
The checkpoint lands in <output>/native/ and export uses it in place of the base.

Several GPUs (train.gpus: "0,1") or machines (train.nodes) run under torchrun:
CUDA_VISIBLE_DEVICES, FORCE_TORCHRUN=1, NNODES, NODE_RANK, NPROC_PER_NODE, MASTER_ADDR and
MASTER_PORT are set for the child. Ctrl-C interrupts the whole process group.

Before anything runs, the base folder, every dataset and every LLaMA-Factory key are
checked; a bad input fails fast with exit code 3.`,
		Example: `  sattva train                       # sattva.yaml in this folder
  sattva train --print-config        # show the YAML and the command, run nothing
  sattva train --trainer fallback examples/default/sattva.yaml`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o.Project = "sattva.yaml"
			if len(args) == 1 {
				o.Project = args[0]
			}
			return runTrain(c.Context(), s, o)
		},
	}
	f := c.Flags()
	f.BoolVar(&o.PrintConfig, "print-config", false, "print the generated LLaMA-Factory YAML, dataset_info.json and the command; run nothing")
	f.StringVar(&o.Trainer, "trainer", "", "override train.trainer: auto, llamafactory, fallback, llamacpp (native, in sattva) or none")
	f.StringVar(&o.Python, "python", "python3", "the Python interpreter for the fallback trainer")
	f.BoolVarP(&o.Verbose, "verbose", "v", false, "show every line the trainer prints")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "no progress bar")
	f.BoolVar(&o.JSON, "json", false, "print the result as JSON")
	f.BoolVar(&o.CPU, "cpu", false, "native trainer: train on the CPU even when a GPU is present")
	return c
}

func runTrain(ctx context.Context, s *Streams, o *trainOptions) error {
	switch o.Trainer {
	case "", "auto", pipeline.TrainerLlamaFactory, pipeline.TrainerFallback, pipeline.TrainerLlamaCpp, pipeline.TrainerNone:
	default:
		return usagef("--trainer must be auto, llamafactory, fallback, llamacpp or none, not %q", o.Trainer)
	}
	p, err := pipeline.LoadProject(o.Project)
	if err != nil {
		return err
	}
	topt := pipeline.TrainOptions{Trainer: o.Trainer, Python: o.Python, ValidateData: dataValidator(),
		Native: nativeTrainer(s.ErrOut, "", o.CPU, 0), ConvertBase: exportTools(s.ErrOut, 0, o.Quiet).ConvertBase}
	if o.PrintConfig {
		topt.AllowMissingBase = true
		plan, _, err := pipeline.PlanTrain(ctx, p, topt)
		if err != nil {
			return err
		}
		info, err := p.DatasetInfo(filepath.Base(plan.Paths.Dataset))
		if err != nil {
			return err
		}
		fmt.Fprintf(s.Out, "# trainer: %s", plan.Trainer)
		if plan.Reason != "" {
			fmt.Fprintf(s.Out, " (%s)", plan.Reason)
		}
		fmt.Fprintf(s.Out, "\n# %d examples from %s\n", plan.Examples, strings.Join(p.Data.Train, ", "))
		if plan.BaseMissing != "" {
			fmt.Fprintf(s.Out, "# base model not downloaded yet; before training run:\n#   %s\n", plan.BaseMissing)
		}
		if plan.Trainer != pipeline.TrainerNone {
			fmt.Fprintf(s.Out, "# command: %s\n", plan.Command)
		}
		if plan.Trainer == pipeline.TrainerLlamaCpp {
			fmt.Fprintf(s.Out, "# native trainer (in sattva): %s\n# checkpoint: %s\n", p.NativeDescription(), p.NativeCheckpointPath())
			return nil
		}
		fmt.Fprintf(s.Out, "# adapter: %s\n\n# --- %s\n%s\n# --- %s\n%s", plan.AdapterDir, plan.Paths.Config, plan.ConfigYAML, plan.Paths.DatasetInfo, info)
		return nil
	}
	bar := progress.New(s.ErrOut, "train", progress.Items, o.Quiet || o.Verbose)
	topt.OnEvent = func(ev pipeline.TrainEvent) {
		if ev.Total > 0 {
			bar.Update(ev.Step, ev.Total)
		}
		if ev.HasLoss && !o.Verbose {
			fmt.Fprintf(s.ErrOut, "\rloss %.4f  epoch %.2f  lr %.3g\n", ev.Loss, ev.Epoch, ev.LearningRate)
		}
	}
	if o.Verbose {
		topt.OnLine = func(line string, _ bool) { fmt.Fprintln(s.ErrOut, line) }
	}
	topt.OnPlan = func(plan *pipeline.TrainPlan) {
		fmt.Fprintf(s.ErrOut, "training with %s on %d examples", plan.Trainer, plan.Examples)
		if plan.Reason != "" {
			fmt.Fprintf(s.ErrOut, " (%s)", plan.Reason)
		}
		if plan.Trainer == pipeline.TrainerLlamaCpp {
			fmt.Fprintf(s.ErrOut, "\n%s\n", p.NativeDescription())
			return
		}
		fmt.Fprintf(s.ErrOut, "\nconfig: %s\nrunning: %s\n", plan.Paths.Config, plan.Command)
	}
	res, err := pipeline.Train(ctx, p, topt)
	bar.Finish()
	if err != nil {
		return err
	}
	// Asked to train and nothing could (auto found no trainer): the work
	// failed, exit 1. Only an explicit "none" skips with success.
	asked := o.Trainer
	if asked == "" {
		asked = p.Train.Trainer
	}
	code := ExitOK
	if res.Skipped && asked != pipeline.TrainerNone {
		code = ExitFailure
	}
	if o.JSON {
		if err := writeJSON(s.Out, res); err != nil {
			return err
		}
		return ExitWith(code)
	}
	if res.Skipped {
		fmt.Fprintf(s.Out, "training skipped: %s\n", res.Reason)
		return ExitWith(code)
	}
	last := ""
	if n := len(res.Losses); n > 0 {
		last = fmt.Sprintf(", loss %.4f → %.4f", res.Losses[0].Loss, res.Losses[n-1].Loss)
	}
	if res.Trainer == pipeline.TrainerLlamaCpp {
		fmt.Fprintf(s.Out, "trained with %s in %.1fs (%d steps%s)\n%s\nmodel: %s\n", res.Trainer, res.Seconds, res.Steps, last, res.Method, res.Model)
		fmt.Fprint(s.Out, pipeline.LossCurve(res.Losses, 10))
		return nil
	}
	fmt.Fprintf(s.Out, "trained with %s in %.1fs (%d steps%s)\nadapter: %s\n", res.Trainer, res.Seconds, res.Steps, last, res.AdapterDir)
	return nil
}
