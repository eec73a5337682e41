package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sattva/sattva/doctor"
	"github.com/sattva/sattva/llamacpp"
	"github.com/sattva/sattva/pipeline"
	"github.com/sattva/sattva/plan"
)

type doctorOptions struct {
	Project    string
	Python     string
	OllamaHost string
	Timeout    time.Duration
	Disks      []string
	JSON       bool
}

func newDoctorCmd(s *Streams) *cobra.Command {
	o := &doctorOptions{}
	c := &cobra.Command{
		Use: "doctor [sattva.yaml]",
		Example: "  sattva doctor\n" +
			"  sattva doctor sattva.yaml --json",
		Short: "Check what this machine can do: engine and GPU, Python training stack, Ollama, disk",
		Long: "doctor checks each stage before you spend time on it: this build's llama.cpp engine and\n" +
			"GPU (VRAM free/total), the Python interpreter and torch (with CUDA), transformers, peft,\n" +
			"accelerate, bitsandbytes (and whether its CUDA library works), LLaMA-Factory and\n" +
			"llamafactory-cli, Ollama and its version, and free disk where models and outputs go.\n" +
			"Every problem comes with a fix. Exit code 1 when a check fails, 0 otherwise.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Project = args[0]
			}
			return runDoctor(c.Context(), s, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.Python, "python", "", "Python interpreter to check (default: $SATTVA_PYTHON, python3, python)")
	f.StringVar(&o.OllamaHost, "ollama-host", "", "Ollama address (default: $OLLAMA_HOST or 127.0.0.1:11434)")
	f.DurationVar(&o.Timeout, "timeout", 90*time.Second, "time limit of the Python probe")
	f.StringSliceVar(&o.Disks, "disk", nil, "folders to check for free space (default: the project's output and base, or models/ and the current folder)")
	f.BoolVar(&o.JSON, "json", false, "machine-readable output")
	return c
}

func runDoctor(ctx context.Context, s *Streams, o *doctorOptions) error {
	opts := doctor.Options{
		Engine: engineName(), Python: o.Python, OllamaHost: o.OllamaHost, ProbeTimeout: o.Timeout, Disks: o.Disks,
	}
	// The project (given, or ./sattva.yaml) says where models and outputs go.
	proj := o.Project
	if proj != "" {
		// A project file named on the command line must exist (exit 3);
		// one that exists but is invalid is reported as a failed check.
		if _, err := os.Stat(proj); err != nil {
			return err
		}
	}
	if proj == "" {
		if _, err := os.Stat("sattva.yaml"); err == nil {
			proj = "sattva.yaml"
		}
	}
	var projErr error
	if proj != "" {
		p, err := pipeline.LoadProject(proj)
		if err != nil {
			projErr = err
		} else {
			opts.BaseModel = p.BaseDir() // a folder, or an id's snapshot in the hub cache
			opts.BaseDownload = p.DownloadCommand()
			if len(opts.Disks) == 0 {
				opts.Disks = []string{p.OutputDir(), p.BaseDir()}
			}
		}
	}
	if len(opts.Disks) == 0 {
		opts.Disks = []string{"models", "."}
	}
	devs, err := llamacpp.InitBackends("", slog.New(slog.NewTextHandler(io.Discard, nil)))
	opts.HasEngine = !errors.Is(err, llamacpp.ErrNoEngine)
	if opts.HasEngine {
		opts.BackendDir = llamacpp.DefaultBackendDir()
		opts.Devices = func() ([]doctor.Device, error) {
			if err != nil {
				return nil, err
			}
			out := make([]doctor.Device, len(devs))
			for i, d := range devs {
				out[i] = doctor.Device{Name: d.Name, Description: d.Description, Kind: d.Kind, FreeBytes: d.FreeBytes, TotalBytes: d.TotalBytes, Builtin: d.Builtin, Features: d.Features}
			}
			return out, nil
		}
	}
	r := doctor.Run(ctx, opts)
	if projErr != nil {
		r.Checks = append([]doctor.Check{{ID: "project", Stage: "project", Status: doctor.Fail, Summary: projErr.Error(),
			Fix: "fix the project file (sattva init writes a commented one)"}}, r.Checks...)
		r.Counts.Fail++
	} else if proj != "" {
		if c, ok := trainFitCheck(r, proj); ok {
			r.Add(c)
		}
	}
	if o.JSON {
		if err := writeJSON(s.Out, r); err != nil {
			return err
		}
	} else {
		printDoctor(s.Out, r)
	}
	if r.Worst() == doctor.Fail {
		return ExitWith(ExitFailure)
	}
	return nil
}

// trainFitCheck asks plan train whether the project's training run fits the
// VRAM torch (or llama.cpp) reported free; ok is false when no GPU memory
// figure is known.
func trainFitCheck(r *doctor.Report, proj string) (doctor.Check, bool) {
	var vram uint64
	for _, id := range []string{"python.torch", "gpu"} {
		if c, ok := r.Check(id); ok && c.Status != doctor.Skip {
			if v, err := strconv.ParseUint(c.Facts["vram_free_bytes"], 10, 64); err == nil && v > 0 {
				vram = v
				break
			}
		}
	}
	if vram == 0 {
		return doctor.Check{}, false
	}
	po := defaultPlanTrainOptions()
	po.Project, po.VRAM = proj, strconv.FormatUint(vram, 10)
	c := doctor.Check{ID: "plan.train", Stage: doctor.StageTrain, Facts: map[string]string{"vram_free_bytes": po.VRAM}}
	res, cfg, err := buildPlanTrain(po)
	if err != nil {
		c.Status, c.Summary = doctor.Warn, "could not estimate the training run's memory: "+err.Error()
		c.Fix = "sattva plan train " + proj + " --model llama3.1-8b (a known shape) gives the estimate without the base model"
		return c, true
	}
	e, f := res.Estimate, res.Fit
	c.Facts["device_bytes"] = strconv.FormatInt(e.Device, 10)
	need := fmt.Sprintf("the training run as configured (%s, r=%d, cutoff %d × batch %d) needs about %s; %s free",
		cfg.Method, cfg.Rank, cfg.Cutoff, cfg.Batch, plan.FormatBytes(e.Device), plan.FormatBytes(int64(vram)))
	if f.Fits {
		c.Status, c.Summary = doctor.OK, need
		return c, true
	}
	c.Status, c.Summary = doctor.Fail, need
	switch {
	case f.MaxCutoff > 0:
		c.Fix = fmt.Sprintf("set cutoff_len to %d or less (or batch_size 1 with more gradient_accumulation); details: sattva plan train --vram %s --explain", f.MaxCutoff, plan.FormatBytes(int64(vram)))
	default:
		c.Fix = "use quantization_bit: 4, a lower lora_rank and gradient_checkpointing: true, or a smaller model; details: sattva plan train --explain"
	}
	return c, true
}

func printDoctor(w io.Writer, r *doctor.Report) {
	mark := map[doctor.Status]string{doctor.OK: "ok  ", doctor.Warn: "warn", doctor.Fail: "FAIL", doctor.Skip: "skip"}
	stage := ""
	for _, c := range r.Checks {
		if c.Stage != stage {
			stage = c.Stage
			fmt.Fprintf(w, "%s\n", stageTitle(stage))
		}
		fmt.Fprintf(w, "  %s  %s\n", mark[c.Status], c.Summary)
		if c.Fix != "" && c.Status != doctor.OK {
			fmt.Fprintf(w, "        fix: %s\n", c.Fix)
		}
	}
	fmt.Fprintf(w, "\n%d ok, %d warnings, %d failed, %d skipped\n", r.Counts.OK, r.Counts.Warn, r.Counts.Fail, r.Counts.Skip)
}

func stageTitle(s string) string {
	switch s {
	case doctor.StageBuild:
		return "this sattva"
	case doctor.StageRun:
		return "local inference (run, chat, eval)"
	case doctor.StageTrain:
		return "training (LLaMA-Factory or the fallback trainer)"
	case doctor.StageServe:
		return "serving (Ollama)"
	case doctor.StageDisk:
		return "disk"
	case doctor.StageModel:
		return "base model"
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
