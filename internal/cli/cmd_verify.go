package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sattva/sattva/llamacpp"
	"github.com/sattva/sattva/pipeline"
	"github.com/sattva/sattva/verify"
)

type verifyOptions struct {
	Project       string
	Modelfile     string
	Model         string
	Ref           string
	Quant         []string
	Base          string
	LoRA          string
	Data          string
	Examples      int
	TrainTemplate string
	HFDir         string
	NoKL          bool
	NoGenerate    bool
	Threads       int
	CPU           bool
	Out           string
	JSON          bool
	Verbose       bool
	BackendDir    string
}

func newVerifyCmd(s *Streams) *cobra.Command {
	o := &verifyOptions{}
	c := &cobra.Command{
		Use:   "verify [sattva.yaml]",
		Short: "Prove the exported model is the one trained: templates, end of turn, sampler, KL divergence",
		Long: `verify checks an export against its training setup and prints one line per check with
its evidence:

  template   fixed conversations rendered as trained (LLaMA-Factory's template), by the
             Hugging Face chat_template (Jinja), by llama.cpp from the GGUF's template, and
             by Ollama from the Modelfile TEMPLATE, compared token by token
  eot-bos    the end-of-turn token in the data, among the GGUF's EOG tokens and the
             Modelfile's stops; exactly one BOS; generation ends by itself
  sampling   every sampler parameter in the Modelfile, and equal to the eval's where it
             changes greedy output (repeat_penalty, repeat_last_n)
  numbers    KL divergence, top-1 agreement and perplexity ratio of the merged model
             against base + adapter, and of each quantized file against the float one,
             on held-out examples (verify.data); thresholds in sattva.yaml (verify:)

It writes verify.json, verify.md and verify.html into <output>/verify (or --out) and
exits 1 when a gate fails. Without a project, name the files: -f Modelfile, -m model,
--ref float.gguf --quant TYPE=file.gguf --data held-out.jsonl.`,
		Example: `  sattva verify
  sattva verify examples/default/sattva.yaml --no-kl
  sattva verify --ref f16.gguf --quant q4_K_M=q4.gguf -m q4.gguf -f Modelfile --data held.jsonl --hf-dir models/llama-3.1-8b`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Project = args[0]
			}
			return runVerify(c.Context(), s, o)
		},
	}
	f := c.Flags()
	f.StringVarP(&o.Modelfile, "modelfile", "f", "", "the Modelfile (default: <output>/export/Modelfile)")
	f.StringVarP(&o.Model, "model", "m", "", "the served GGUF (default: the Modelfile's FROM)")
	f.StringVar(&o.Ref, "ref", "", "the float (F16/BF16) GGUF the quantized files are measured against")
	f.StringArrayVar(&o.Quant, "quant", nil, "TYPE=FILE: a quantized GGUF to measure against --ref (repeatable)")
	f.StringVar(&o.Base, "base", "", "the unmerged float base GGUF, for the merge check with --lora")
	f.StringVar(&o.LoRA, "lora", "", "the GGUF LoRA adapter applied to --base")
	f.StringVar(&o.Data, "data", "", "held-out examples (JSONL, alpaca form) for the KL measurement")
	f.IntVarP(&o.Examples, "examples", "n", 0, "examples scored (default: verify.examples, 200)")
	f.StringVar(&o.TrainTemplate, "train-template", "", "the LLaMA-Factory template trained with (default: the trainer config's)")
	f.StringVar(&o.HFDir, "hf-dir", "", "a Hugging Face folder whose tokenizer_config.json has the chat template")
	f.BoolVar(&o.NoKL, "no-kl", false, "skip the KL measurement")
	f.BoolVar(&o.NoGenerate, "no-generate", false, "skip the generation check")
	f.IntVarP(&o.Threads, "threads", "t", 0, "CPU threads (0: every CPU)")
	f.BoolVar(&o.CPU, "cpu", false, "keep the models on the CPU")
	f.StringVarP(&o.Out, "out", "o", "", "report folder (default: <output>/verify, or none without a project)")
	f.BoolVar(&o.JSON, "json", false, "print the report as JSON")
	f.BoolVarP(&o.Verbose, "verbose", "v", false, "print the evidence of passing checks too")
	f.StringVar(&o.BackendDir, "backend-dir", "", "ggml backend plugins (default $SATTVA_BACKEND_DIR or lib/ollama beside sattva)")
	return c
}

func runVerify(ctx context.Context, s *Streams, o *verifyOptions) error {
	vo := verify.Options{Modelfile: o.Modelfile, Served: o.Model, Reference: o.Ref, Base: o.Base, Adapter: o.LoRA,
		Data: o.Data, Examples: o.Examples, TrainTemplate: o.TrainTemplate, NoKL: o.NoKL, NoGenerate: o.NoGenerate,
		Threads: o.Threads, CPUOnly: o.CPU, Progress: func(l string) { fmt.Fprintln(s.ErrOut, "verify: "+l) }}
	if o.HFDir != "" {
		vo.HFDirs = []string{o.HFDir}
	}
	for _, q := range o.Quant {
		ty, file, ok := strings.Cut(q, "=")
		if !ok || ty == "" || file == "" {
			return usagef("--quant %q: want TYPE=FILE", q)
		}
		if vo.Quantized == nil {
			vo.Quantized = map[string]string{}
		}
		vo.Quantized[ty] = file
	}
	project := o.Project
	if project == "" && o.Modelfile == "" && o.Model == "" {
		project = "sattva.yaml"
	}
	out := o.Out
	if project != "" {
		p, err := pipeline.LoadProject(project)
		if err != nil {
			return err
		}
		vo.Project = p
		if out == "" {
			out = filepath.Join(p.OutputDir(), "verify")
		}
	}
	vo.Convert, vo.ConvertLoRA = verifyConverters(s, o.Threads)
	if _, err := llamacpp.InitBackends(o.BackendDir, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		return err
	}
	rep, err := verify.Run(ctx, vo)
	if err != nil {
		return err
	}
	return reportVerify(s, rep, out, o.JSON, o.Verbose)
}

// reportVerify prints the report, writes its files and returns exit 1 when
// a gate failed.
func reportVerify(s *Streams, rep *verify.Report, out string, asJSON, verbose bool) error {
	if asJSON {
		if err := writeJSON(s.Out, rep); err != nil {
			return err
		}
	} else {
		rep.WriteText(s.Out, verbose)
	}
	if out != "" {
		files, err := rep.WriteFiles(out)
		if err != nil {
			return err
		}
		if !asJSON {
			fmt.Fprintf(s.Out, "report: %s\n", strings.Join(files, ", "))
		}
	}
	if rep.Failed {
		return ExitWith(ExitFailure)
	}
	return nil
}

// verifyExport runs verify on a project's fresh export (sattva export, the
// pipeline's export stage); a failed gate is a *gateFailure. Without a GPU
// the generation and KL checks of a model over 2 GiB are left to `sattva
// verify` on a GPU machine (an 8B model on a CPU takes many minutes), and
// the report says so.
func verifyExport(ctx context.Context, s *Streams, p *pipeline.Project, threads int, cpu bool) error {
	conv, convLoRA := verifyConverters(s, threads)
	vo := verify.Options{Project: p, Threads: threads, CPUOnly: cpu, Convert: conv, ConvertLoRA: convLoRA,
		Progress: func(l string) { fmt.Fprintln(s.ErrOut, "verify: "+l) }}
	if !hasGPU() || cpu {
		vo.CPUSizeLimit = 2 << 30
	}
	rep, err := verify.Run(ctx, vo)
	if err != nil {
		return err
	}
	fmt.Fprintln(s.Out)
	rep.WriteText(s.Out, false)
	if _, err := rep.WriteFiles(filepath.Join(p.OutputDir(), "verify")); err != nil {
		return err
	}
	if rep.Failed {
		return &gateFailure{dir: filepath.Join(p.Output, "verify")}
	}
	return nil
}

// verifyConverters are export's converters without extra metadata: verify
// converts the float references the export did not keep.
func verifyConverters(s *Streams, threads int) (func(ctx context.Context, hfDir, out, outType, merge string) error, func(ctx context.Context, adapterDir, baseDir, out string) error) {
	t := exportTools(s.ErrOut, threads, true)
	return func(ctx context.Context, hfDir, out, outType, merge string) error {
			return t.ConvertBase(ctx, hfDir, out, outType, merge, nil, nil)
		}, func(ctx context.Context, adapterDir, baseDir, out string) error {
			return t.ConvertLoRA(ctx, adapterDir, baseDir, out, nil)
		}
}

// gateFailure: verify ran and a gate failed.
type gateFailure struct{ dir string }

func (e *gateFailure) Error() string { return "verify: a gate failed (report in " + e.dir + ")" }

func isGateFailure(err error) bool {
	_, ok := err.(*gateFailure)
	return ok
}

func hasGPU() bool {
	devs, err := llamacpp.InitBackends("", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return false
	}
	for _, d := range devs {
		if d.Kind == "GPU" || d.Kind == "IGPU" {
			return true
		}
	}
	return false
}
