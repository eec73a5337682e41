package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/hfcache"
	"github.com/sattva/sattva/internal/progress"
	"github.com/sattva/sattva/pipeline"
	"github.com/sattva/sattva/plan"
)

func newPlanCmd(s *Streams) *cobra.Command {
	c := &cobra.Command{
		Use:   "plan",
		Short: "Estimate GPU memory and time before a training or inference run",
		Long: "plan answers \"will it fit?\" before a GPU hour is spent: `plan train` for a\n" +
			"LoRA/QLoRA fine-tune, `plan run` for a GGUF model in llama.cpp. --explain prints the formula.",
	}
	c.AddCommand(newPlanTrainCmd(s), newPlanRunCmd(s))
	return c
}

// ---- plan train ----

type planTrainOptions struct {
	Project   string
	Model     string // folder, HF id, or a preset shape name
	Method    string
	Rank      int
	Targets   string
	Dropout   float64
	Cutoff    int
	Batch     int
	GradAccum int
	GC        bool
	Trainer   string
	Examples  int64
	AvgTokens int
	Epochs    float64
	TFLOPS    float64
	GPU       string
	VRAM      string
	Explain   bool
	JSON      bool

	changed func(string) bool
}

func newPlanTrainCmd(s *Streams) *cobra.Command {
	o := &planTrainOptions{}
	c := &cobra.Command{
		Use: "train [sattva.yaml]",
		Example: "  sattva plan train --model llama3.1-8b --vram 12GB\n" +
			"  sattva plan train sattva.yaml --explain\n" +
			"  sattva plan train --model models/llama-3.1-8b --method lora --json",
		Short: "Peak GPU memory and time per epoch of a LoRA/QLoRA fine-tune",
		Long: "Estimates the peak GPU memory of the training run that sattva.yaml describes (or the\n" +
			"flags), the time of an epoch, and the largest batch and cutoff that fit --vram.\n" +
			"Flags override the project file. --model takes a model folder, a Hugging Face id in\n" +
			"the local cache, or a known shape: " + strings.Join(plan.Presets(), ", ") + ".",
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Project = args[0]
			}
			o.changed = func(n string) bool { return c.Flags().Changed(n) }
			return runPlanTrain(c.Context(), s, o)
		},
	}
	d := defaultPlanTrainOptions()
	f := c.Flags()
	f.StringVar(&o.Model, "model", "", "base model: folder, HF id (org/name[@rev]) or shape name (default: the project's base)")
	f.StringVar(&o.Method, "method", d.Method, "qlora (4-bit NF4 base) or lora (bf16 base)")
	f.IntVar(&o.Rank, "rank", d.Rank, "LoRA rank")
	f.StringVar(&o.Targets, "targets", d.Targets, "LoRA target modules: all, or a comma list (q_proj,v_proj,…)")
	f.Float64Var(&o.Dropout, "dropout", d.Dropout, "LoRA dropout")
	f.IntVar(&o.Cutoff, "cutoff", d.Cutoff, "cutoff_len: tokens per sequence")
	f.IntVar(&o.Batch, "batch", d.Batch, "per-device batch size")
	f.IntVar(&o.GradAccum, "grad-accum", d.GradAccum, "gradient accumulation steps")
	f.BoolVar(&o.GC, "gradient-checkpointing", d.GC, "recompute layers in the backward pass")
	f.StringVar(&o.Trainer, "trainer", d.Trainer, "llamafactory or fallback (the fallback's QLoRA keeps embeddings and lm_head in fp32)")
	f.Int64Var(&o.Examples, "examples", 0, "training examples (default: lines of the project's dataset files)")
	f.IntVar(&o.AvgTokens, "avg-tokens", 0, "mean tokens per example (default: dataset bytes / 4, at most the cutoff)")
	f.Float64Var(&o.Epochs, "epochs", 0, "epochs (default: the project's, else 1)")
	f.Float64Var(&o.TFLOPS, "tflops", 0, fmt.Sprintf("the card's dense bf16 TFLOPS (default %.0f; time only)", plan.DefaultTFLOPS))
	f.StringVar(&o.GPU, "gpu", "", "the card, for the time estimate: \"RTX 4060 Ti\", \"RTX 3060\", … (sets --tflops)")
	f.StringVar(&o.VRAM, "vram", "", "GPU memory to fit, e.g. 12GB or 16GB (GB taken as GiB)")
	f.BoolVar(&o.Explain, "explain", false, "print the formula and every term")
	f.BoolVar(&o.JSON, "json", false, "machine-readable output")
	return c
}

// defaultPlanTrainOptions are plan train's flag defaults: the plan's
// settings (QLoRA r 16 on all projections, cutoff 2048, batch 1 × 8).
func defaultPlanTrainOptions() *planTrainOptions {
	return &planTrainOptions{Method: "qlora", Rank: 16, Targets: "all", Dropout: 0.05, Cutoff: 2048, Batch: 1, GradAccum: 8,
		GC: true, Trainer: "llamafactory", changed: func(string) bool { return false }}
}

// planTrainResult is plan train's --json document.
type planTrainResult struct {
	Model    string              `json:"model"`
	Shape    plan.ModelShape     `json:"shape"`
	Config   planTrainConfigJSON `json:"config"`
	Estimate *plan.TrainEstimate `json:"estimate"`
	Fit      *plan.Fit           `json:"fit,omitempty"`
}

type planTrainConfigJSON struct {
	Method            plan.Method `json:"method"`
	Rank              int         `json:"rank"`
	Targets           []string    `json:"targets"`
	Dropout           float64     `json:"dropout"`
	Cutoff            int         `json:"cutoff"`
	Batch             int         `json:"batch"`
	GradAccum         int         `json:"grad_accum"`
	GradCheckpointing bool        `json:"gradient_checkpointing"`
	Trainer           string      `json:"trainer"`
	Examples          int64       `json:"examples,omitempty"`
	AvgTokens         int         `json:"avg_tokens,omitempty"`
	Epochs            float64     `json:"epochs,omitempty"`
}

func runPlanTrain(ctx context.Context, s *Streams, o *planTrainOptions) error {
	res, cfg, err := buildPlanTrain(o)
	if err != nil {
		return err
	}
	if o.JSON {
		return writeJSON(s.Out, res)
	}
	printPlanTrain(s.Out, res, cfg, o.Explain)
	return nil
}

// buildPlanTrain turns the options (and the project file they name) into an
// estimate and, with o.VRAM, a fit.
func buildPlanTrain(o *planTrainOptions) (*planTrainResult, plan.TrainConfig, error) {
	cfg := plan.TrainConfig{
		Method: plan.Method(o.Method), Rank: o.Rank, Dropout: o.Dropout, Cutoff: o.Cutoff, Batch: o.Batch,
		GradAccum: o.GradAccum, GradCheckpointing: o.GC, Examples: o.Examples, AvgTokens: o.AvgTokens,
		Epochs: o.Epochs, TFLOPS: o.TFLOPS,
	}
	if o.GPU != "" && o.TFLOPS == 0 {
		tf, ok := plan.LookupTFLOPS(o.GPU)
		if !ok {
			return nil, cfg, usagef("--gpu %q: unknown card; give --tflops (dense bf16 TFLOPS with fp32 accumulation) instead", o.GPU)
		}
		cfg.TFLOPS = tf
	}
	trainer := o.Trainer
	model := o.Model
	proj := o.Project
	if proj == "" && model == "" {
		if _, err := os.Stat("sattva.yaml"); err == nil {
			proj = "sattva.yaml"
		} else {
			return nil, cfg, usagef("plan train: give a project file (sattva.yaml) or --model")
		}
	}
	var dataFiles []string
	if proj != "" {
		p, err := pipeline.LoadProject(proj)
		if err != nil {
			return nil, cfg, err
		}
		t := p.Train
		set := func(flag string, apply func()) {
			if !o.changed(flag) {
				apply()
			}
		}
		set("rank", func() { cfg.Rank = t.LoraRank })
		set("dropout", func() { cfg.Dropout = t.LoraDropout })
		set("cutoff", func() { cfg.Cutoff = t.CutoffLen })
		set("batch", func() { cfg.Batch = t.BatchSize })
		set("grad-accum", func() { cfg.GradAccum = t.GradAccum })
		set("epochs", func() { cfg.Epochs = t.Epochs })
		set("targets", func() { o.Targets = t.LoraTarget })
		set("gradient-checkpointing", func() {
			if t.GradCheckpoint != nil {
				cfg.GradCheckpointing = *t.GradCheckpoint
			}
		})
		set("method", func() {
			switch t.QuantizationBit {
			case 0:
				cfg.Method = plan.LoRA
			case 4:
				cfg.Method = plan.QLoRA
			}
		})
		if t.QuantizationBit == 8 && !o.changed("method") {
			return nil, cfg, fmt.Errorf("plan train: quantization_bit 8 (LLM.int8) is not modelled; use 4 (QLoRA) or 0 (LoRA)")
		}
		set("trainer", func() {
			if t.Trainer == "fallback" {
				trainer = "fallback"
			}
		})
		if model == "" {
			model = p.BaseDir()
			if _, err := os.Stat(model); err != nil {
				model = p.Base // perhaps a Hugging Face id in the local cache
			}
		}
		dataFiles = p.DataFiles()
	}
	cfg.Targets = splitList(o.Targets)
	switch trainer {
	case "llamafactory", "auto":
	case "fallback":
		cfg.KbitUpcast = true
	default:
		return nil, cfg, usagef("plan train: --trainer %q: want llamafactory or fallback", trainer)
	}
	shape, where, err := trainShape(model)
	if err != nil {
		return nil, cfg, err
	}
	cfg.Shape = shape
	if cfg.Examples == 0 && len(dataFiles) > 0 {
		n, bytes, err := countExamples(dataFiles)
		if err == nil && n > 0 {
			cfg.Examples = n
			if cfg.AvgTokens == 0 {
				cfg.AvgTokens = int(bytes / n / 4)
			}
		}
	}
	est, err := plan.EstimateTrain(cfg)
	if err != nil {
		return nil, cfg, err
	}
	res := planTrainResult{Model: where, Shape: shape, Estimate: est, Config: planTrainConfigJSON{
		Method: cfg.Method, Rank: cfg.Rank, Targets: cfg.Targets, Dropout: cfg.Dropout, Cutoff: cfg.Cutoff, Batch: cfg.Batch,
		GradAccum: cfg.GradAccum, GradCheckpointing: cfg.GradCheckpointing, Trainer: trainer,
		Examples: cfg.Examples, AvgTokens: cfg.AvgTokens, Epochs: cfg.Epochs,
	}}
	if len(res.Config.Targets) == 0 {
		res.Config.Targets = []string{"all"}
	}
	if o.VRAM != "" {
		v, err := plan.ParseBytes(o.VRAM)
		if err != nil {
			return nil, cfg, usagef("--vram: %v", err)
		}
		fit, err := plan.FitTrain(cfg, v)
		if err != nil {
			return nil, cfg, err
		}
		res.Fit = &fit
	}
	return &res, cfg, nil
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// trainShape resolves --model (or the project's base) to a model shape.
func trainShape(ref string) (plan.ModelShape, string, error) {
	if s, ok := plan.Preset(ref); ok {
		return s, "shape " + s.Name, nil
	}
	m, err := hfcache.Resolve(ref, hfcache.Options{})
	if err != nil {
		// Not downloaded yet: a model named like a known shape
		// (models/llama-3.1-8b, meta-llama/Llama-3.1-8B-Instruct) is planned
		// from that shape, and the output says so.
		if s, ok := presetFromName(ref); ok {
			return s, "shape " + s.Name + " (from the name " + ref + "; the weights are not on this machine yet)", nil
		}
		return plan.ModelShape{}, "", fmt.Errorf("plan train: %w\n(or name a known shape with --model: %s)", err, strings.Join(plan.Presets(), ", "))
	}
	if m.Kind == hfcache.KindGGUF {
		return plan.ModelShape{}, "", fmt.Errorf("plan train: %s is a GGUF file; training needs the Hugging Face folder (config.json)", ref)
	}
	s, err := plan.ShapeFromDir(m.Path)
	if err != nil {
		return plan.ModelShape{}, "", err
	}
	return s, m.Path, nil
}

// presetFromName finds the known shape a model folder or Hugging Face id is
// named after: "models/llama-3.1-8b" and "meta-llama/Llama-3.1-8B-Instruct"
// are llama3.1-8b.
func presetFromName(ref string) (plan.ModelShape, bool) {
	name := strings.ToLower(ref)
	if i := strings.IndexByte(name, '@'); i >= 0 {
		name = name[:i]
	}
	name = strings.TrimRight(filepath.ToSlash(name), "/")
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	for _, suffix := range []string{"-instruct", "-hf"} {
		name = strings.TrimSuffix(name, suffix)
	}
	name = strings.Replace(name, "llama-", "llama", 1)
	return plan.Preset(name)
}

// countExamples counts the non-empty lines of JSONL files and their bytes.
func countExamples(files []string) (n, size int64, err error) {
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return 0, 0, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
		for sc.Scan() {
			if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
				n++
				size += int64(len(l))
			}
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return 0, 0, err
		}
	}
	return n, size, nil
}

func printPlanTrain(w io.Writer, r *planTrainResult, c plan.TrainConfig, explain bool) {
	e := r.Estimate
	gc := "on"
	if !c.GradCheckpointing {
		gc = "off"
	}
	method := map[plan.Method]string{plan.QLoRA: "QLoRA (4-bit NF4 base)", plan.LoRA: "LoRA (bf16 base)"}[c.Method]
	fmt.Fprintf(w, "plan train: %s, %s params\n", r.Model, progress.FormatCount(e.Params))
	fmt.Fprintf(w, "  %s, r=%d on %s, dropout %g, cutoff %d × batch %d, gradient checkpointing %s\n",
		method, c.Rank, strings.Join(r.Config.Targets, ","), c.Dropout, c.Cutoff, c.Batch, gc)
	fmt.Fprintf(w, "  LoRA params %s (%.2f%%)\n\n", progress.FormatCount(e.LoRAParams), 100*float64(e.LoRAParams)/float64(e.Params))
	for _, t := range e.Terms {
		fmt.Fprintf(w, "  %-42s %11s\n", t.Name, plan.FormatBytes(t.Bytes))
		if explain {
			fmt.Fprintf(w, "      = %s\n", t.Formula)
		}
	}
	fmt.Fprintf(w, "  %-42s %11s   (peak: %s)\n", "peak allocated (torch)", plan.FormatBytes(e.Peak), e.Phase)
	fmt.Fprintf(w, "  %-42s %11s\n", "+ CUDA context, allocator slack", plan.FormatBytes(e.Reserve))
	fmt.Fprintf(w, "  %-42s %11s\n", "needed on the card", plan.FormatBytes(e.Device))
	if r.Fit != nil {
		f := r.Fit
		verdict := "yes"
		if !f.Fits {
			verdict = "NO"
		}
		fmt.Fprintf(w, "\n  fits %s: %s", plan.FormatBytes(f.VRAM), verdict)
		if f.MaxBatch > 0 {
			fmt.Fprintf(w, "; largest batch %d at cutoff %d", f.MaxBatch, c.Cutoff)
		} else {
			fmt.Fprintf(w, "; not even batch 1 at cutoff %d", c.Cutoff)
		}
		if f.MaxCutoff > 0 {
			fmt.Fprintf(w, "; largest cutoff %d at batch %d", f.MaxCutoff, c.Batch)
		}
		fmt.Fprintln(w)
		if !f.Fits {
			fmt.Fprintln(w, "  to fit: lower cutoff_len or batch_size (raise gradient_accumulation to keep the effective batch), lower lora_rank, keep gradient_checkpointing on, use quantization_bit: 4")
		}
	}
	fmt.Fprintln(w)
	tf := c.TFLOPS
	if tf <= 0 {
		tf = plan.DefaultTFLOPS
	}
	fmt.Fprintf(w, "  time: ~%.1f s per optimizer step (%d × %d sequences)", e.StepSeconds, c.Batch, max(c.GradAccum, 1))
	if e.EpochSeconds > 0 {
		fmt.Fprintf(w, ", ~%s per epoch (%d examples × ~%d tokens, %d steps)", fmtDuration(e.EpochSeconds), c.Examples, min(max(c.AvgTokens, 1), c.Cutoff), e.StepsPerEpoch)
		if e.TotalSeconds != e.EpochSeconds {
			fmt.Fprintf(w, ", ~%s in all", fmtDuration(e.TotalSeconds))
		}
	}
	fmt.Fprintf(w, "\n        assuming %.0f dense bf16 TFLOPS at %.0f%% utilisation (--gpu or --tflops for your card); rough\n", tf, 100*plan.DefaultMFU)
	for _, n := range e.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	if explain {
		fmt.Fprintln(w)
		fmt.Fprint(w, plan.TrainFormula)
	}
}

func fmtDuration(sec float64) string {
	return (time.Duration(sec*float64(time.Second)) + time.Second/2).Truncate(time.Second).String()
}

// ---- plan run ----

type planRunOptions struct {
	Model     string
	Ctx       int
	Parallel  int
	NGL       int
	CacheType string
	FlashAttn string
	UBatch    int
	Unified   bool
	VRAM      string
	Explain   bool
	JSON      bool
	Measure   bool
	Hold      time.Duration
	Runtime   string
}

func newPlanRunCmd(s *Streams) *cobra.Command {
	o := &planRunOptions{}
	c := &cobra.Command{
		Use: "run MODEL.gguf [-c N]",
		Example: "  sattva plan run sattva.q4_k_m.gguf -c 8192\n" +
			"  sattva plan run sattva.q4_k_m.gguf --vram 12GB --parallel 4 --explain",
		Short: "GPU memory of a GGUF model in llama.cpp: weights, KV cache, compute buffers",
		Long: "Estimates what llama.cpp (and so Ollama) allocates on the GPU for a model and context:\n" +
			"weights per device, the KV cache by type, the compute buffer, and the total; with --vram,\n" +
			"the largest context that fits. --measure (a cgo build with a GPU) loads the model and\n" +
			"prints what llama.cpp really allocated beside the estimate.",
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			o.Model = args[0]
			return runPlanRun(c.Context(), s, o)
		},
	}
	f := c.Flags()
	f.IntVarP(&o.Ctx, "ctx-size", "c", 4096, "context tokens per sequence (Ollama's num_ctx)")
	f.IntVar(&o.Parallel, "parallel", 1, "parallel sequences")
	f.IntVar(&o.NGL, "ngl", -1, "layers offloaded to the GPU (-1: all, with the output layer)")
	f.StringVar(&o.CacheType, "cache-type", "f16", "KV cache type: f16, q8_0, q4_0")
	f.StringVar(&o.FlashAttn, "flash-attn", "auto", "auto (on for CUDA), on or off")
	f.IntVar(&o.UBatch, "ubatch", 512, "physical batch (n_ubatch)")
	f.BoolVar(&o.Unified, "kv-unified", false, "one KV stream shared by all sequences")
	f.StringVar(&o.VRAM, "vram", "", "GPU memory to fit, e.g. 12GB: prints the largest context")
	f.StringVar(&o.Runtime, "runtime", "512MiB", "GPU memory of the CUDA runtime outside llama.cpp's buffers")
	f.BoolVar(&o.Explain, "explain", false, "print the formula and every term")
	f.BoolVar(&o.JSON, "json", false, "machine-readable output")
	f.BoolVar(&o.Measure, "measure", false, "load the model through llama.cpp and report what it allocated (cgo build)")
	f.DurationVar(&o.Hold, "hold", 0, "with --measure: keep the model and context loaded this long after printing (for nvidia-smi)")
	return c
}

// planRunResult is plan run's --json document.
type planRunResult struct {
	Model    string            `json:"model"`
	Shape    *plan.RunModel    `json:"shape"`
	Context  int               `json:"ctx"`
	Estimate *plan.RunEstimate `json:"estimate"`
	MaxCtx   *int              `json:"max_ctx,omitempty"`
	VRAM     int64             `json:"vram_bytes,omitempty"`
	Measured *runMeasurement   `json:"measured,omitempty"`
}

// runMeasurement is what llama.cpp reported allocating (its "buffer size"
// log lines), by buffer.
type runMeasurement struct {
	Device     string             `json:"device"`
	FreeBefore uint64             `json:"device_free_before_bytes"`
	Total      uint64             `json:"device_total_bytes"`
	Buffers    map[string]float64 `json:"buffers_mib"` // "CUDA0 model" → MiB
	GPUBytes   int64              `json:"gpu_buffer_bytes"`
	LoadSec    float64            `json:"load_seconds"`
	FlashAttn  string             `json:"flash_attn,omitempty"` // as llama.cpp resolved it
}

func (o *planRunOptions) config() (plan.RunConfig, error) {
	c := plan.RunConfig{Context: o.Ctx, Parallel: o.Parallel, GPULayers: o.NGL, UnifiedKV: o.Unified, UBatch: o.UBatch}
	if o.Ctx <= 0 {
		return c, usagef("--ctx must be positive")
	}
	if o.Parallel <= 0 {
		return c, usagef("--parallel must be positive")
	}
	if _, err := gguf.ParseType(o.CacheType); err != nil {
		return c, usagef("--cache-type: %v", err)
	}
	c.CacheK, c.CacheV = o.CacheType, o.CacheType
	switch o.FlashAttn {
	case "auto", "on":
		c.FlashAttention = true
	case "off":
	default:
		return c, usagef("--flash-attn: want auto, on or off")
	}
	rt, err := plan.ParseBytes(o.Runtime)
	if err != nil {
		return c, usagef("--runtime: %v", err)
	}
	c.Runtime = rt
	if rt == 0 {
		c.Runtime = -1
	}
	return c, nil
}

func runPlanRun(ctx context.Context, s *Streams, o *planRunOptions) error {
	cfg, err := o.config()
	if err != nil {
		return err
	}
	m, err := hfcache.Resolve(o.Model, hfcache.Options{})
	if err != nil {
		return err
	}
	path := m.Path
	if m.Kind != hfcache.KindGGUF {
		matches, _ := filepath.Glob(filepath.Join(m.Path, "*.gguf"))
		if len(matches) != 1 {
			return fmt.Errorf("plan run: %s is a folder; name the .gguf file (%d found there)", o.Model, len(matches))
		}
		path = matches[0]
	}
	f, err := gguf.Open(path)
	if err != nil {
		return err
	}
	rm, err := plan.RunModelFromGGUF(f)
	f.Close()
	if err != nil {
		return err
	}
	est, err := plan.EstimateRun(rm, cfg)
	if err != nil {
		return err
	}
	res := planRunResult{Model: path, Shape: rm, Context: o.Ctx, Estimate: est}
	if o.VRAM != "" {
		v, err := plan.ParseBytes(o.VRAM)
		if err != nil {
			return usagef("--vram: %v", err)
		}
		n, err := plan.MaxContext(rm, cfg, v)
		if err != nil {
			return err
		}
		res.MaxCtx, res.VRAM = &n, v
	}
	if o.Measure {
		meas, release, err := measureRun(ctx, path, o)
		if err != nil {
			return err
		}
		defer release()
		res.Measured = meas
	}
	if o.JSON {
		if err := writeJSON(s.Out, res); err != nil {
			return err
		}
	} else {
		printPlanRun(s.Out, &res, o.Explain)
	}
	if o.Measure && o.Hold > 0 {
		fmt.Fprintf(s.ErrOut, "sattva: holding the model and context for %s\n", o.Hold)
		select {
		case <-time.After(o.Hold):
		case <-ctx.Done():
		}
	}
	return nil
}

func printPlanRun(w io.Writer, r *planRunResult, explain bool) {
	e, m := r.Estimate, r.Shape
	fmt.Fprintf(w, "plan run: %s\n", r.Model)
	fmt.Fprintf(w, "  %s, %d layers, embd %d, %d/%d heads, vocab %d\n", m.Arch, m.Layers, m.Embd, m.Heads, m.KVHeads, m.Vocab)
	fa := "on"
	if !e.FlashAttn {
		fa = "off"
	}
	fmt.Fprintf(w, "  ctx %d × %d sequence(s) → n_ctx %d; %d/%d layers on the GPU%s; KV %s/%s; flash attention %s\n\n",
		r.Context, e.Parallel, e.NCtx, e.GPULayers, m.Layers, map[bool]string{true: " + output", false: ""}[e.OutputOnGPU], e.CacheK, e.CacheV, fa)
	fmt.Fprintf(w, "  %-22s %12s %12s\n", "", "GPU", "CPU")
	fmt.Fprintf(w, "  %-22s %12s %12s\n", "weights", plan.FormatBytes(e.WeightsGPU), plan.FormatBytes(e.WeightsCPU))
	fmt.Fprintf(w, "  %-22s %12s %12s\n", "KV cache", plan.FormatBytes(e.KVGPU), plan.FormatBytes(e.KVCPU))
	fmt.Fprintf(w, "  %-22s %12s %12s\n", "compute buffer", plan.FormatBytes(e.ComputeGPU), "")
	fmt.Fprintf(w, "  %-22s %12s %12s\n", "logits (host)", "", plan.FormatBytes(e.OutputHost))
	fmt.Fprintf(w, "  %-22s %12s\n", "llama.cpp buffers", plan.FormatBytes(e.BuffersGPU))
	fmt.Fprintf(w, "  %-22s %12s\n", "CUDA runtime", plan.FormatBytes(e.Runtime))
	fmt.Fprintf(w, "  %-22s %12s %12s\n", "total", plan.FormatBytes(e.TotalGPU), plan.FormatBytes(e.TotalCPU))
	if explain {
		fmt.Fprintln(w)
		for _, t := range e.Terms {
			fmt.Fprintf(w, "  %-18s %10s = %s\n", t.Name, plan.FormatBytes(t.Bytes), t.Formula)
		}
	}
	if r.MaxCtx != nil {
		if *r.MaxCtx > 0 {
			fmt.Fprintf(w, "\n  largest context per sequence within %s: %d\n", plan.FormatBytes(r.VRAM), *r.MaxCtx)
		} else {
			fmt.Fprintf(w, "\n  does not fit %s even at context 256: lower --ngl (partial offload) or use a smaller quantization\n", plan.FormatBytes(r.VRAM))
		}
	}
	if ms := r.Measured; ms != nil {
		fmt.Fprintf(w, "\n  measured on %s (llama.cpp's buffers, load %.1fs, flash attention %s):\n", ms.Device, ms.LoadSec, ms.FlashAttn)
		for _, k := range sortedKeys(ms.Buffers) {
			fmt.Fprintf(w, "    %-24s %10.2f MiB\n", k, ms.Buffers[k])
		}
		what := "GPU buffers"
		if ms.Device == "CPU" {
			what = "buffers (no GPU: all on the CPU)"
		}
		fmt.Fprintf(w, "    %s %s, estimate %s", what, plan.FormatBytes(ms.GPUBytes), plan.FormatBytes(e.BuffersGPU))
		if ms.GPUBytes > 0 {
			fmt.Fprintf(w, " (%+.1f%%)", 100*(float64(e.BuffersGPU)-float64(ms.GPUBytes))/float64(ms.GPUBytes))
		}
		fmt.Fprintln(w)
	}
	for _, n := range e.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	if explain {
		fmt.Fprintln(w)
		fmt.Fprint(w, plan.RunFormula)
	}
}

func sortedKeys(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}
