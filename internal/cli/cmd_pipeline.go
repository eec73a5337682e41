package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sattva/sattva/evalrun"
	"github.com/sattva/sattva/evalrun/llamarun"
	"github.com/sattva/sattva/internal/progress"
	"github.com/sattva/sattva/pipeline"
)

type pipelineRunOptions struct {
	Project    string
	Force      []string
	Trainer    string
	Python     string
	Threads    int
	CPU        bool
	BackendDir string
	Quiet      bool
	Verbose    bool
	DryRun     bool
	JSON       bool
}

func newPipelineCmd(s *Streams) *cobra.Command {
	c := &cobra.Command{
		Use:   "pipeline",
		Short: "Run the whole project: data validate → train → export → eval",
		Args:  cobra.NoArgs,
	}
	c.AddCommand(newPipelineRunCmd(s))
	return c
}

func newPipelineRunCmd(s *Streams) *cobra.Command {
	o := &pipelineRunOptions{}
	c := &cobra.Command{
		Use:   "run [sattva.yaml]",
		Short: "Run every stage whose inputs changed; print a summary with the eval pass rate",
		Long: `run takes the project through its four stages:

  data    every dataset file is read and validated
  train   LLaMA-Factory (or the fallback trainer) makes the LoRA adapter
  export  GGUF conversion, quantization, Modelfile, manifest.json
  eval    the eval suite on the exported model (and the base, with compare_base)

Before any stage runs, all inputs are checked: the base folder, the datasets, the
suite, the trainer keys. A stage whose inputs hash the same as at its last success
(and whose outputs still exist) is skipped; <output>/state.json keeps the hashes
and the pass rate of every eval, so the summary compares with the previous run.
--force STAGE redoes a stage and the ones after it. Exit code 1 when a stage fails
or the pass rate is below eval.pass_bar.`,
		Example: `  sattva pipeline run
  sattva pipeline run --dry-run                  # what would run, and what is missing
  sattva pipeline run examples/default/sattva.yaml --force eval
  sattva pipeline run --force all`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o.Project = "sattva.yaml"
			if len(args) == 1 {
				o.Project = args[0]
			}
			return runPipelineRun(c.Context(), s, o, c.CommandPath()+" "+strings.Join(args, " "))
		},
	}
	f := c.Flags()
	f.StringArrayVar(&o.Force, "force", nil, "redo this stage and the ones after it: data, train, export, eval or all (repeatable)")
	f.StringVar(&o.Trainer, "trainer", "", "override train.trainer: auto, llamafactory, fallback, llamacpp or none")
	f.StringVar(&o.Python, "python", "python3", "the Python interpreter for the fallback trainer")
	f.IntVar(&o.Threads, "threads", 0, "CPU threads for export and eval (0: every CPU)")
	f.BoolVar(&o.CPU, "cpu", false, "evaluate on the CPU even when a GPU is present")
	f.StringVar(&o.BackendDir, "backend-dir", "", "ggml backend plugins folder (default $SATTVA_BACKEND_DIR or beside the executable)")
	f.BoolVarP(&o.Quiet, "quiet", "q", false, "no progress bars")
	f.BoolVarP(&o.Verbose, "verbose", "v", false, "show every line the trainer prints")
	f.BoolVar(&o.DryRun, "dry-run", false, "say what each stage would do and what is missing (works before the base model is downloaded); run nothing")
	f.BoolVar(&o.JSON, "json", false, "with --dry-run: the plan as JSON")
	return c
}

func runPipelineRun(ctx context.Context, s *Streams, o *pipelineRunOptions, cmdline string) error {
	for _, f := range o.Force {
		if f != "all" && !slices.Contains(pipeline.Stages(), f) {
			return usagef("--force %q: stages are %s or all", f, strings.Join(pipeline.Stages(), ", "))
		}
	}
	switch o.Trainer {
	case "", "auto", pipeline.TrainerLlamaFactory, pipeline.TrainerFallback, pipeline.TrainerLlamaCpp, pipeline.TrainerNone:
	default:
		return usagef("--trainer must be auto, llamafactory, fallback, llamacpp or none, not %q", o.Trainer)
	}
	p, err := pipeline.LoadProject(o.Project)
	if err != nil {
		return err
	}
	if o.DryRun {
		return printDryRun(ctx, s, o, p)
	}
	bar := progress.New(s.ErrOut, "train", progress.Items, o.Quiet || o.Verbose)
	popt := pipeline.PipelineOptions{
		Force: o.Force,
		Train: pipeline.TrainOptions{
			Trainer: o.Trainer, Python: o.Python, ValidateData: dataValidator(),
			Native: nativeTrainer(s.ErrOut, o.BackendDir, o.CPU, o.Threads),
			OnEvent: func(ev pipeline.TrainEvent) {
				if ev.Total > 0 {
					bar.Update(ev.Step, ev.Total)
				}
				if ev.HasLoss && !o.Verbose {
					fmt.Fprintf(s.ErrOut, "\rloss %.4f  epoch %.2f\n", ev.Loss, ev.Epoch)
				}
			},
		},
		Export: pipeline.ExportOptions{Tools: exportTools(s.ErrOut, o.Threads, o.Quiet), Version: Version, Command: strings.TrimSpace(cmdline)},
		Eval: func(ctx context.Context, r pipeline.EvalRequest) (*pipeline.EvalOutcome, error) {
			ro := evalrun.RunnerOptions{Threads: o.Threads, CPUOnly: o.CPU, BackendDir: o.BackendDir, Local: llamarun.Local}
			if p.Eval.Runner == "serve" {
				ro.Local = serveRunner // exactly what `sattva serve` answers
			}
			return pipeline.EvalSuite(ctx, r, evalrun.RunnerLlamaCpp, ro)
		},
		Verify: func(ctx context.Context, p *pipeline.Project) error {
			return verifyExport(ctx, s, p, o.Threads, o.CPU)
		},
		OnStage: func(stage, status, detail string) {
			switch status {
			case "":
				fmt.Fprintf(s.ErrOut, "== %s\n", stage)
			case pipeline.StatusSkipped:
				fmt.Fprintf(s.ErrOut, "== %s: skipped (inputs unchanged)\n", stage)
			case pipeline.StatusNone:
				if stage == pipeline.StageTrain {
					fmt.Fprintf(s.ErrOut, "== train: NO TRAINING — %s\n", detail)
				}
			case pipeline.StatusRan:
				if stage == pipeline.StageTrain {
					bar.Finish()
				}
			}
		},
	}
	if o.Verbose {
		popt.Train.OnLine = func(line string, _ bool) { fmt.Fprintln(s.ErrOut, line) }
	}
	sum, err := pipeline.RunPipeline(ctx, p, popt)
	bar.Finish()
	if sum != nil {
		fmt.Fprintln(s.Out)
		sum.WriteSummary(s.Out)
		if tr, err := p.LastTrainResult(); err == nil && len(tr.Losses) > 0 {
			fmt.Fprintf(s.Out, "\ntrained with %s (%d steps", tr.Trainer, tr.Steps)
			if tr.Method != "" {
				fmt.Fprintf(s.Out, "; %s", tr.Method)
			}
			fmt.Fprintf(s.Out, "); training loss:\n%s", pipeline.LossCurve(tr.Losses, 10))
		}
		if sum.Eval != nil && sum.Eval.Report != "" {
			fmt.Fprintf(s.Out, "report: %s\n", filepath.Join(filepath.Dir(sum.Eval.Report), "report.md"))
		}
	}
	var se *pipeline.StageError
	if err != nil && errors.As(err, &se) && sum != nil && len(sum.Stages) > 0 {
		// The table says which stage failed; print the error once more below it.
		fmt.Fprintf(s.ErrOut, "sattva: %v\n", err)
		if errors.Is(err, context.Canceled) {
			return ExitWith(ExitInterrupted)
		}
		var ii invalidInput
		if errors.As(err, &ii) && ii.InvalidInput() {
			return ExitWith(ExitInvalidInput)
		}
		return ExitWith(ExitFailure)
	}
	return err
}

// printDryRun prints what pipeline run would do, stage by stage; exit 1 when
// a stage is blocked by something missing.
func printDryRun(ctx context.Context, s *Streams, o *pipelineRunOptions, p *pipeline.Project) error {
	plans := pipeline.DryRun(ctx, p, pipeline.PipelineOptions{Train: pipeline.TrainOptions{
		Trainer: o.Trainer, Python: o.Python, ValidateData: dataValidator(),
	}})
	code := ExitOK
	for _, pl := range plans {
		if pl.Action == pipeline.PlanBlocked {
			code = ExitFailure
		}
	}
	if o.JSON {
		if err := writeJSON(s.Out, plans); err != nil {
			return err
		}
		return ExitWith(code)
	}
	fmt.Fprintf(s.Out, "pipeline run %s would:\n", p.File)
	for i, pl := range plans {
		fmt.Fprintf(s.Out, "  %d. %-7s %-8s %s\n", i+1, pl.Stage, pl.Action, pl.Detail)
		for _, m := range pl.Missing {
			fmt.Fprintf(s.Out, "       needs: %s\n", strings.ReplaceAll(m, "\n", "\n              "))
		}
	}
	if code != ExitOK {
		fmt.Fprintln(s.Out, "nothing was run; fix what a stage needs, then `sattva pipeline run`")
	}
	return ExitWith(code)
}
