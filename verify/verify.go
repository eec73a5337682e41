// Package verify proves that a fine-tune survived the trip from training to
// Ollama: it renders fixed conversations the ways a user meets them
// (training format, Hugging Face chat template, the GGUF's template in
// llama.cpp, the Modelfile in Ollama) and compares the tokens; checks the
// end-of-turn and BOS tokens; compares the served sampler with the one the
// eval used; and measures the merged and quantized models against their
// references with llama-perplexity's KL-divergence statistics (KLD).
//
// Run returns a Report of Checks, each with a status and its evidence; a
// failed gate makes Report.Failed true (exit 1 in `sattva verify`).
package verify

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ardanlabs/jinja"
	ollamatemplate "github.com/ollama/ollama/template"

	"github.com/sattva/sattva/dataset"
	"github.com/sattva/sattva/evalrun"
	"github.com/sattva/sattva/llamacpp"
	"github.com/sattva/sattva/pipeline"
)

// Gates.
const (
	GateTemplate = "template"
	GateEOT      = "eot-bos"
	GateSampling = "sampling"
	GateNumbers  = "numbers"
)

// Statuses of a Check.
const (
	Pass = "pass"
	Warn = "warn"
	Fail = "fail"
	Skip = "skip"
)

// Check is one line of the report.
type Check struct {
	Gate     string     `json:"gate"`
	Name     string     `json:"name"`
	Status   string     `json:"status"`
	Detail   string     `json:"detail"`
	Evidence []string   `json:"evidence,omitempty"`
	Diff     *TokenDiff `json:"diff,omitempty"`
}

// KLResult is one model measured against its reference.
type KLResult struct {
	Name      string               `json:"name"` // "merge" or the export type
	Reference string               `json:"reference"`
	Test      string               `json:"test"`
	Threshold pipeline.KLThreshold `json:"threshold"`
	Stats     *KLStats             `json:"stats"`
	Status    string               `json:"status"`
}

// Report is what Run found.
type Report struct {
	Created   string     `json:"created"`
	Model     string     `json:"model"`
	Modelfile string     `json:"modelfile,omitempty"`
	Checks    []Check    `json:"checks"`
	KL        []KLResult `json:"kl,omitempty"`
	// Examples says where the KL examples came from.
	Examples string  `json:"examples,omitempty"`
	Failed   bool    `json:"failed"`
	Seconds  float64 `json:"seconds"`
	// PhaseSeconds: time spent in each phase (templates, generation, kl).
	PhaseSeconds map[string]float64 `json:"phase_seconds,omitempty"`
}

func (r *Report) add(c Check) {
	r.Checks = append(r.Checks, c)
	if c.Status == Fail {
		r.Failed = true
	}
}

// FirstDiff is the first template mismatch (for the HTML report), or nil.
func (r *Report) FirstDiff() *TokenDiff {
	for _, c := range r.Checks {
		if c.Diff != nil && c.Status == Fail {
			return c.Diff
		}
	}
	for _, c := range r.Checks {
		if c.Diff != nil {
			return c.Diff
		}
	}
	return nil
}

// Options say what Run checks. Paths left empty are found from the
// project (Project) and its export folder's manifest.json.
type Options struct {
	Project *pipeline.Project
	// Modelfile is the exported Modelfile; Served the GGUF it serves
	// (default: its FROM).
	Modelfile, Served string
	// Reference is the merged float (F16/BF16/F32) GGUF the quantized files
	// are measured against; Quantized maps export types to their files.
	Reference string
	Quantized map[string]string
	// Base and Adapter are the unmerged float base GGUF and the GGUF LoRA
	// adapter: Reference is measured against Base + Adapter applied at load.
	Base, Adapter string
	// HFDirs are folders whose tokenizer_config.json holds the Hugging Face
	// chat template (first found wins; default: the adapter, then the base).
	HFDirs []string
	// TrainTemplate is the LLaMA-Factory template trained with (default: the
	// trainer config's template:, else the project's template).
	TrainTemplate string
	// Data is a JSONL of held-out examples; Examples caps their number.
	Data     string
	Examples int
	// EvalSampling is the sampler the eval used (default: the last eval
	// report's settings, else the project's sampler as eval would use it).
	EvalSampling *evalrun.Sampling
	EvalSource   string
	// NoKL skips the numbers gate; NoGenerate the generation check.
	NoKL, NoGenerate bool
	// Threads for decoding and statistics (0: every CPU); CPUOnly keeps
	// the models off the GPU.
	Threads int
	CPUOnly bool
	// Convert and ConvertLoRA make the float GGUFs the merge check needs
	// when the export did not keep them (pipeline.ExportTools' signatures).
	Convert     func(ctx context.Context, hfDir, out, outType, merge string) error
	ConvertLoRA func(ctx context.Context, adapterDir, baseDir, out string) error
	// CPUSizeLimit, when > 0, skips the generation and KL checks (with the
	// reason) for a served model larger than this many bytes: set it when
	// no GPU is present (an 8B model on a CPU takes many minutes).
	CPUSizeLimit int64
	// WorkDir holds converted files (default: a temporary folder, removed).
	WorkDir string
	Logger  *slog.Logger
	// Progress receives one line per step.
	Progress func(line string)

	models map[string]*llamacpp.Model // loaded once per Run
}

func (o *Options) say(format string, a ...any) {
	if o.Progress != nil {
		o.Progress(fmt.Sprintf(format, a...))
	}
}

// Run checks an export and returns the report (an error only when it could
// not check at all).
func Run(ctx context.Context, o Options) (*Report, error) {
	start := time.Now()
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := o.resolve(); err != nil {
		return nil, err
	}
	rep := &Report{Created: time.Now().UTC().Format(time.RFC3339), Model: o.Served, Modelfile: o.Modelfile}
	var mf *pipeline.ParsedModelfile
	if o.Modelfile != "" {
		b, err := os.ReadFile(o.Modelfile)
		if err != nil {
			return nil, err
		}
		if mf, err = pipeline.ParseModelfile(string(b)); err != nil {
			return nil, fmt.Errorf("verify: %s: %w", o.Modelfile, err)
		}
		if o.Served == "" && mf.From != "" {
			o.Served = resolveFrom(o.Modelfile, mf.From)
			rep.Model = o.Served
		}
		if o.Adapter == "" && mf.Adapter != "" {
			o.Adapter = resolveFrom(o.Modelfile, mf.Adapter)
		}
	}
	if o.Served == "" {
		return nil, fmt.Errorf("verify: no model to check (give a Modelfile or the served GGUF)")
	}
	o.say("loading the vocabulary of %s", o.Served)
	vocab, err := llamacpp.Load(o.Served, llamacpp.ModelOptions{VocabOnly: true, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	defer vocab.Close()

	defer o.closeModels()
	r, err := o.renderer(vocab, mf, rep)
	if err != nil {
		return nil, err
	}
	rep.PhaseSeconds = map[string]float64{}
	t0 := time.Now()
	renders := o.checkTemplates(r, rep)
	o.checkEOT(r, vocab, mf, renders, rep)
	o.checkSampling(mf, rep)
	rep.PhaseSeconds["templates"] = time.Since(t0).Seconds()
	if !o.NoGenerate {
		t0 = time.Now()
		o.checkGeneration(ctx, r, mf, rep)
		rep.PhaseSeconds["generation"] = time.Since(t0).Seconds()
	}
	if !o.NoKL {
		t0 = time.Now()
		if err := o.checkNumbers(ctx, r, rep); err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			rep.add(Check{Gate: GateNumbers, Name: "KL divergence", Status: Fail, Detail: err.Error()})
		}
		rep.PhaseSeconds["kl"] = time.Since(t0).Seconds()
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

func resolveFrom(modelfile, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(modelfile), p)
}

// resolve fills the paths a project implies.
func (o *Options) resolve() error {
	p := o.Project
	if p == nil {
		return nil
	}
	dir := p.ExportDir()
	if o.Modelfile == "" {
		if _, err := os.Stat(filepath.Join(dir, "Modelfile")); err == nil {
			o.Modelfile = filepath.Join(dir, "Modelfile")
		}
	}
	if m, err := pipeline.ReadManifest(dir); err == nil {
		for _, a := range m.Artifacts {
			path := filepath.Join(dir, a.Path)
			switch a.Kind {
			case "model":
				lt := strings.ToLower(a.Type)
				if o.Reference == "" && lt == strings.ToLower(p.Export.OutType) {
					o.Reference = path
				}
				if o.Quantized == nil {
					o.Quantized = map[string]string{}
				}
				if lt != strings.ToLower(p.Export.OutType) {
					if _, ok := o.Quantized[a.Type]; !ok {
						o.Quantized[a.Type] = path
					}
				}
			case "adapter":
				if o.Adapter == "" {
					o.Adapter = path
				}
			}
		}
	}
	if len(o.HFDirs) == 0 {
		o.HFDirs = []string{p.AdapterDir(), p.BaseDir()}
	}
	if o.TrainTemplate == "" {
		o.TrainTemplate = trainedTemplate(filepath.Join(p.TrainDir(), "llamafactory.yaml"))
		if o.TrainTemplate == "" {
			o.TrainTemplate = p.Template
		}
	}
	if o.Data == "" {
		if p.Verify.Data != "" {
			o.Data = p.VerifyDataFile()
		}
	}
	if o.Examples == 0 {
		o.Examples = p.Verify.Examples
	}
	if o.EvalSampling == nil {
		if sp, ok := evalReportSampling(filepath.Join(p.OutputDir(), "eval", "report.json")); ok {
			o.EvalSampling, o.EvalSource = sp, "the last eval report ("+filepath.Join(p.Output, "eval", "report.json")+")"
		} else {
			sp := p.EvalSampling()
			src := "the project's sampler, as the eval stage uses it"
			if p.Eval.Suite != "" {
				if s, err := evalrun.LoadSuite(p.Resolve(p.Eval.Suite)); err == nil && s.Defaults.SamplingSet {
					sp = s.Defaults.Sampling
					src = "the suite's own sampling (" + p.Eval.Suite + ")"
				}
			}
			o.EvalSampling, o.EvalSource = &sp, src
		}
	}
	return nil
}

// trainedTemplate reads "template: NAME" from a LLaMA-Factory config.
func trainedTemplate(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "template:"); ok {
			return strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return ""
}

func (o *Options) renderer(vocab *llamacpp.Model, mf *pipeline.ParsedModelfile, rep *Report) (*renderer, error) {
	r := &renderer{vocab: vocab}
	name := o.TrainTemplate
	if name == "" {
		name = "llama3"
	}
	if name != "plain" {
		t, err := dataset.LookupTemplate(name)
		if err != nil {
			return nil, fmt.Errorf("verify: training template: %w", err)
		}
		r.train = t
	}
	if src, bos, eos, path, err := hfChatTemplate(o.HFDirs...); err != nil {
		return nil, fmt.Errorf("verify: %s: %w", path, err)
	} else if src != "" {
		t, err := jinja.Compile(src)
		if err != nil {
			rep.add(Check{Gate: GateTemplate, Name: "HF chat template", Status: Fail, Detail: "the Jinja engine cannot compile " + path + ": " + err.Error()})
		} else {
			r.hfTmpl, r.hfBOS, r.hfEOS = t, bos, eos
		}
	}
	if src := vocab.ChatTemplate(); src != "" {
		if t, err := jinja.Compile(src); err == nil {
			r.ggufTmpl = t
		} else {
			rep.add(Check{Gate: GateTemplate, Name: "GGUF chat template", Status: Fail, Detail: "the Jinja engine cannot compile tokenizer.chat_template: " + err.Error()})
		}
	}
	if bos := vocab.BOS(); bos >= 0 {
		r.bosText = vocab.TokenPiece(bos)
		if toks, err := vocab.Tokenize("x", true, false); err == nil && len(toks) > 0 && toks[0] == bos {
			r.addBOS = true
		}
	}
	if eos := vocab.EOS(); eos >= 0 {
		r.eosText = vocab.TokenPiece(eos)
	}
	if mf != nil && mf.HasTemplate {
		t, err := ollamatemplate.Parse(mf.Template)
		if err != nil {
			rep.add(Check{Gate: GateTemplate, Name: "Modelfile TEMPLATE", Status: Fail, Detail: "Ollama cannot parse the TEMPLATE: " + err.Error()})
		} else {
			r.modelfile = t
		}
		r.system = mf.System
	}
	return r, nil
}

// checkTemplates renders every conversation every way and compares each
// way with the training format. It returns the renderings by conversation.
func (o *Options) checkTemplates(r *renderer, rep *Report) map[string][]Render {
	out := map[string][]Render{}
	if r.train == nil {
		rep.add(Check{Gate: GateTemplate, Name: "template parity", Status: Skip, Detail: "template plain has no chat format to compare"})
		return out
	}
	ways := []string{WayHF, WayGGUF, WayGGUFJinja, WayModelfile}
	// Family: the training template against the model's own chat template.
	{
		c := Conversations()[0]
		tr := r.render(WayTraining, c)
		for _, w := range []string{WayGGUFJinja, WayHF, WayModelfile} {
			x := r.render(w, c)
			if x.Err != "" {
				continue
			}
			tf, xf := family(tr.Text), family(x.Text)
			if tf != xf {
				rep.add(Check{Gate: GateTemplate, Name: "template family", Status: Fail,
					Detail:   fmt.Sprintf("training template %q writes the %s format, but the %s is %s: the model was trained on another chat family than it is served with", r.train.Name, tf, wayNames[w], xf),
					Evidence: []string{"training: " + clip(tr.Text, 160), w + ": " + clip(x.Text, 160)}})
			} else {
				rep.add(Check{Gate: GateTemplate, Name: "template family", Status: Pass,
					Detail: fmt.Sprintf("training template %q and the %s are both %s", r.train.Name, wayNames[w], tf)})
			}
			break
		}
	}
	for _, w := range ways {
		status, detail := Pass, ""
		var evidence []string
		var diff *TokenDiff
		reasons := map[string]string{}
		ran := 0
		for _, c := range Conversations() {
			tr := r.render(WayTraining, c)
			x := r.render(w, c)
			out[c.Name] = append(out[c.Name], x)
			if tr.Err != "" {
				status, detail = Fail, fmt.Sprintf("%q: the training format cannot render it: %s", c.Name, tr.Err)
				break
			}
			if x.Err != "" {
				if x.Err == errNoTemplate.Error() || strings.Contains(x.Err, llamacpp.ErrNoChatTemplate.Error()) {
					status, detail = Skip, "no "+wayNames[w]+" to render"
					if w == WayModelfile {
						status, detail = Fail, "the Modelfile has no TEMPLATE: Ollama would fall back to the GGUF's template, which it may not recognise"
					}
					break
				}
				status, detail = Fail, fmt.Sprintf("%q: %s", c.Name, x.Err)
				break
			}
			ran++
			if d := r.diff(c.Name, tr, x); d != nil {
				// Known, documented differences?
				known := knownFor(w, x.Text)
				if names, ok := r.explain(c, known, x); ok {
					for _, k := range known {
						if slices.Contains(names, k.Name) {
							reasons[k.Name] = k.Reason
						}
					}
					if status == Pass {
						status = Warn
					}
					evidence = append(evidence, fmt.Sprintf("%q differs only by %s", c.Name, strings.Join(names, " + ")))
					continue
				}
				status = Fail
				diff = d
				detail = fmt.Sprintf("%s and %s differ on %q at token %d%s", wayNames[WayTraining], wayNames[w], c.Name, d.Index, diagnose(c, tr, x, r))
				evidence = append(evidence, d.String())
				break
			}
		}
		if status == Pass {
			detail = fmt.Sprintf("%s gives the training tokens on all %d conversations", wayNames[w], ran)
		} else if status == Warn {
			var rs []string
			for _, k := range slices.Sorted(maps.Keys(reasons)) {
				rs = append(rs, k+": "+reasons[k])
			}
			detail = fmt.Sprintf("%s differs from the training format only by known, documented differences (%s)", wayNames[w], strings.Join(rs, "; "))
		}
		rep.add(Check{Gate: GateTemplate, Name: "tokens: training vs " + w, Status: status, Detail: detail, Evidence: evidence, Diff: diff})
	}
	return out
}

// explain tries the subsets of the known differences: the names of the
// smallest subset that makes the training format equal x, and true.
func (r *renderer) explain(c Conversation, known []knownDifference, x Render) ([]string, bool) {
	n := len(known)
	for size := 1; size <= n; size++ {
		for mask := 1; mask < 1<<n; mask++ {
			if popcount(mask) != size {
				continue
			}
			msgs := r.effective(c)
			var names []string
			for i := 0; i < n; i++ {
				if mask&(1<<i) != 0 {
					msgs = known[i].apply(msgs)
					names = append(names, known[i].Name)
				}
			}
			_, toks, err := r.trainingTokens(msgs)
			if err == nil && slices.Equal(toks, x.Tokens) {
				return names, true
			}
		}
	}
	return nil, false
}

func popcount(x int) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}

// diagnose names a likely cause of a template mismatch.
func diagnose(c Conversation, tr, x Render, r *renderer) string {
	hasSys := len(r.effective(c)) > 0 && r.effective(c)[0].Role == "system"
	if hasSys && strings.Contains(tr.Text, "system") && !strings.Contains(x.Text, r.effective(c)[0].Content) {
		return ": the system turn is missing (the template drops the system message)"
	}
	bos := r.vocab.BOS()
	if n, m := leadingBOS(tr.Tokens, bos), leadingBOS(x.Tokens, bos); n != m {
		return fmt.Sprintf(": %d BOS tokens against %d", m, n)
	}
	if tf, xf := family(tr.Text), family(x.Text); tf != xf {
		return fmt.Sprintf(": %s format against %s", tf, xf)
	}
	return ""
}

func leadingBOS(toks []int32, bos int32) int {
	n := 0
	for n < len(toks) && toks[n] == bos {
		n++
	}
	return n
}

func clip(s string, n int) string {
	q := fmt.Sprintf("%q", s)
	if len(q) > n {
		return q[:n] + "…"
	}
	return q
}
