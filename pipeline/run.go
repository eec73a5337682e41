package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sattva/sattva/dataset"
	"github.com/sattva/sattva/evalrun"
	"github.com/sattva/sattva/internal/atomicfile"
	"github.com/sattva/sattva/internal/progress"
)

// Stages of a pipeline run, in order.
const (
	StageData   = "data"
	StageTrain  = "train"
	StageExport = "export"
	StageEval   = "eval"
)

// Stages lists the stages in run order.
func Stages() []string {
	var names []string
	for _, s := range pipelineStages() {
		names = append(names, s.name)
	}
	return names
}

// Stage statuses.
const (
	StatusRan     = "ran"
	StatusSkipped = "skipped" // inputs unchanged since the last successful run
	StatusNone    = "not run" // nothing to do (no trainer, no eval suite)
	StatusFailed  = "failed"
)

// EvalRequest is what the eval stage asks the evaluator.
type EvalRequest struct {
	Suite   string // suite file
	Model   string // the GGUF to evaluate
	Adapter string // a GGUF LoRA adapter applied to Model ("" for none)
	Base    string // the base model GGUF to compare with ("" for none)
	OutDir  string // report folder
	// Sampling is the project's serving sampler, used unless the suite sets
	// its own sampling (nil: the suite's).
	Sampling *evalrun.Sampling
	// Label names the evaluated model in the reports: "fine-tune" when it
	// was trained, "base (not trained)" when the export is the base alone.
	Label string
}

// EvalOutcome is what the evaluator reports.
type EvalOutcome struct {
	PassRate     float64  `json:"pass_rate"`
	Passed       int      `json:"passed"`
	Total        int      `json:"total"`
	BasePassRate *float64 `json:"base_pass_rate,omitempty"`
	Report       string   `json:"report"` // report.json path
	// Label is what the evaluated model is: "fine-tune" or "base (not trained)".
	Label string `json:"label,omitempty"`
}

// PipelineOptions control RunPipeline.
type PipelineOptions struct {
	// Force re-runs these stages (and so every stage after them) even when
	// their inputs are unchanged; "all" forces every stage.
	Force []string
	Train TrainOptions
	// Export needs Tools; Version and Command are recorded as provenance.
	Export ExportOptions
	// Eval runs the suite (nil: EvalSuite with the llamacpp runner and
	// default options, which needs an engine: the command line passes one).
	Eval func(ctx context.Context, r EvalRequest) (*EvalOutcome, error)
	// CheckSuite validates the suite before any stage runs (nil: evalrun.LoadSuite).
	CheckSuite func(path string) error
	// Verify, when set, checks the export at the end of the export stage
	// (`sattva verify`); its error fails the stage.
	Verify func(ctx context.Context, p *Project) error
	// OnStage is told when a stage starts ("" status) and ends.
	OnStage func(stage, status, detail string)
	Logger  *slog.Logger
	// Now is the clock (tests).
	Now func() time.Time
}

// StageRecord is one stage's outcome in the state file and the summary.
type StageRecord struct {
	Stage   string  `json:"stage"`
	Status  string  `json:"status"`
	Inputs  string  `json:"inputs_sha256,omitempty"`
	Detail  string  `json:"detail,omitempty"`
	Seconds float64 `json:"seconds"`
}

// PipelineState is <output>/state.json: the inputs hash of each stage's last
// success and the history of eval pass rates.
type PipelineState struct {
	Stages map[string]StageRecord `json:"stages"`
	Evals  []EvalHistory          `json:"evals,omitempty"`
}

// EvalHistory is one eval of the pipeline.
type EvalHistory struct {
	Time     string  `json:"time"`
	Model    string  `json:"model_sha256"`
	PassRate float64 `json:"pass_rate"`
	Passed   int     `json:"passed"`
	Total    int     `json:"total"`
}

// PipelineSummary is the outcome of RunPipeline.
type PipelineSummary struct {
	Stages       []StageRecord
	Eval         *EvalOutcome
	PrevPassRate *float64 // the previous eval of this project, if any
	Train        *TrainResult
	Export       *ExportResult
	PassBar      float64
}

// StatePath is <output>/state.json.
func (p *Project) StatePath() string { return filepath.Join(p.OutputDir(), "state.json") }

// LoadState reads the state file (missing: empty).
func (p *Project) LoadState() (*PipelineState, error) {
	st := &PipelineState{Stages: map[string]StageRecord{}}
	b, err := os.ReadFile(p.StatePath())
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("%s: %w (delete it to start over)", p.StatePath(), err)
	}
	if st.Stages == nil {
		st.Stages = map[string]StageRecord{}
	}
	return st, nil
}

func (p *Project) saveState(st *PipelineState) error {
	if err := os.MkdirAll(p.OutputDir(), 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(st, "", "  ")
	return atomicfile.WriteFile(p.StatePath(), append(b, '\n'), 0o644)
}

// digest hashes labelled parts into one hex sha256.
func digest(parts ...string) string {
	h := sha256.New()
	for _, s := range parts {
		fmt.Fprintf(h, "%d:%s\n", len(s), s)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ErrStageFailed wraps the error of the stage that stopped a run.
type StageError struct {
	Stage string
	Err   error
}

func (e *StageError) Error() string { return fmt.Sprintf("stage %s: %v", e.Stage, e.Err) }
func (e *StageError) Unwrap() error { return e.Err }

// RunPipeline runs data validate → train → export → eval. Before any stage
// runs, every input is checked (base folder, datasets, suite, tools), so a bad
// input costs no time. A stage whose inputs hash the same as at its last
// success, and whose outputs still exist, is skipped; Force re-runs stages.
// The state is saved after every stage, so an interrupted run resumes.
func RunPipeline(ctx context.Context, p *Project, o PipelineOptions) (*PipelineSummary, error) {
	r := &pipelineRun{ctx: ctx, p: p, o: o, now: o.Now, force: map[string]bool{}}
	if r.now == nil {
		r.now = time.Now
	}
	for _, f := range o.Force {
		if f == "all" {
			for _, s := range Stages() {
				r.force[s] = true
			}
			continue
		}
		if !contains(Stages(), f) {
			return nil, fmt.Errorf("pipeline: --force %q: stages are %s or all", f, strings.Join(Stages(), ", "))
		}
		r.force[f] = true
	}
	r.hc = o.Export.Hashes
	if r.hc == nil {
		r.hc = OpenHashCache(filepath.Join(p.OutputDir(), "hashes.json"))
		r.o.Export.Hashes = r.hc
	}
	defer r.hc.Save()
	if err := r.check(); err != nil {
		return nil, err
	}
	var err error
	if r.st, err = p.LoadState(); err != nil {
		return nil, err
	}
	r.sum = &PipelineSummary{PassBar: p.Eval.PassBar}
	if n := len(r.st.Evals); n > 0 {
		prev := r.st.Evals[n-1].PassRate
		r.sum.PrevPassRate = &prev
	}
	for _, s := range pipelineStages() {
		if err := s.run(r); err != nil {
			return r.sum, err
		}
	}
	if p.Eval.Suite == "" {
		return r.sum, nil
	}
	if err := p.saveState(r.st); err != nil {
		return r.sum, err
	}
	if r.sum.Eval != nil && r.sum.Eval.PassRate < p.Eval.PassBar {
		return r.sum, &StageError{StageEval, fmt.Errorf("pass rate %.1f%% is below eval.pass_bar %.1f%%", 100*r.sum.Eval.PassRate, 100*p.Eval.PassBar)}
	}
	return r.sum, nil
}

// pipelineStage is one stage of RunPipeline: its name and the function that
// hashes its inputs and runs it (through pipelineRun.step).
type pipelineStage struct {
	name string
	run  func(*pipelineRun) error
}

// pipelineStages are the stages in run order.
func pipelineStages() []pipelineStage {
	return []pipelineStage{
		{StageData, (*pipelineRun).data},
		{StageTrain, (*pipelineRun).train},
		{StageExport, (*pipelineRun).export},
		{StageEval, (*pipelineRun).eval},
	}
}

// pipelineRun is the state of one RunPipeline call, passed from stage to
// stage.
type pipelineRun struct {
	ctx    context.Context
	p      *Project
	o      PipelineOptions
	now    func() time.Time
	force  map[string]bool
	forced bool // a forced or re-run stage forces the ones after it
	hc     *HashCache
	st     *PipelineState
	sum    *PipelineSummary

	examples []dataset.Example // the checked datasets
	tplan    *TrainPlan        // the trainer's plan, checked before any stage
	dataHash string            // the data stage's inputs
	base     Input             // the base folder's hash
	manifest *Manifest         // the export's manifest (read back when skipped)
}

// check refuses, before any stage runs, everything that can be refused.
func (r *pipelineRun) check() error {
	p, o := r.p, r.o
	if err := p.CheckBase(); err != nil {
		return err
	}
	examples, err := p.CheckData(r.ctx, o.Train.ValidateData)
	if err != nil {
		return &StageError{StageData, err}
	}
	r.examples = examples
	if p.Eval.Suite != "" {
		check := o.CheckSuite
		if check == nil {
			check = func(path string) error { _, err := evalrun.LoadSuite(path); return err }
		}
		if err := check(p.Resolve(p.Eval.Suite)); err != nil {
			return &StageError{StageEval, err}
		}
	}
	if o.Export.Tools.ConvertBase == nil || o.Export.Tools.Quantize == nil {
		return errors.New("pipeline: the export tools are missing")
	}
	if r.tplan, _, err = PlanTrain(r.ctx, p, o.Train); err != nil {
		return &StageError{StageTrain, err}
	}
	return nil
}

func (r *pipelineRun) notify(stage, status, detail string) {
	if r.o.OnStage != nil {
		r.o.OnStage(stage, status, detail)
	}
}

// step runs body as stage unless its inputs hash as at its last success and
// outputsOK, records the outcome in the summary and saves the state.
func (r *pipelineRun) step(stage, inputs string, outputsOK bool, body func() (string, error)) error {
	st, sum := r.st, r.sum
	r.forced = r.forced || r.force[stage]
	last, had := st.Stages[stage]
	if !r.forced && had && last.Status != StatusFailed && last.Inputs == inputs && outputsOK {
		if last.Status == StatusNone { // still nothing to do (no trainer): say so again
			last.Seconds = 0
			sum.Stages = append(sum.Stages, last)
			r.notify(stage, StatusNone, last.Detail)
			return nil
		}
		rec := StageRecord{Stage: stage, Status: StatusSkipped, Inputs: inputs, Detail: "unchanged: " + last.Detail}
		if last.Status == StatusSkipped {
			rec.Detail = last.Detail
		}
		sum.Stages = append(sum.Stages, rec)
		r.notify(stage, StatusSkipped, rec.Detail)
		return nil
	}
	r.forced = true
	r.notify(stage, "", "")
	start := r.now()
	detail, err := body()
	rec := StageRecord{Stage: stage, Status: StatusRan, Inputs: inputs, Detail: detail, Seconds: r.now().Sub(start).Seconds()}
	if err != nil {
		rec.Status, rec.Detail = StatusFailed, err.Error()
		sum.Stages = append(sum.Stages, rec)
		st.Stages[stage] = rec
		r.p.saveState(st)
		r.notify(stage, StatusFailed, err.Error())
		return &StageError{stage, err}
	}
	if strings.HasPrefix(detail, "skipped: ") {
		rec.Status, rec.Detail = StatusNone, strings.TrimPrefix(detail, "skipped: ")
	}
	sum.Stages = append(sum.Stages, rec)
	st.Stages[stage] = rec
	if err := r.p.saveState(st); err != nil {
		return err
	}
	r.notify(stage, rec.Status, rec.Detail)
	return nil
}

// data: the datasets' hashes.
func (r *pipelineRun) data() error {
	var dataParts []string
	for _, f := range r.p.DataFiles() {
		in, err := r.hc.File(f)
		if err != nil {
			return err
		}
		dataParts = append(dataParts, in.SHA256)
	}
	r.dataHash = digest(dataParts...)
	return r.step(StageData, r.dataHash, true, func() (string, error) {
		return fmt.Sprintf("%d examples in %d files", len(r.examples), len(dataParts)), nil
	})
}

// train: data + base + the trainer config.
func (r *pipelineRun) train() error {
	p := r.p
	base, err := r.hc.Dir(p.BaseDir())
	if err != nil {
		return err
	}
	r.base = base
	trainHash := digest(r.dataHash, base.SHA256, string(r.tplan.ConfigYAML), r.tplan.Trainer)
	if r.tplan.Trainer == TrainerLlamaCpp {
		// The native trainer's own settings (engine, rate, epochs …) are not
		// in the LoRA config above.
		trainHash = digest(trainHash, fmt.Sprintf("%+v", p.Train.Native))
	}
	_, adapterErr := os.Stat(filepath.Join(p.AdapterDir(), "adapter_config.json"))
	trainOutputs := adapterErr == nil || r.tplan.Trainer == TrainerNone
	if r.tplan.Trainer == TrainerLlamaCpp {
		_, trainOutputs = p.NativeCheckpoint()
	}
	return r.step(StageTrain, trainHash, trainOutputs, func() (string, error) {
		to := r.o.Train
		to.ValidateData = nil // validated above, before any stage ran
		if to.ConvertBase == nil {
			to.ConvertBase = r.o.Export.Tools.ConvertBase
		}
		res, err := Train(r.ctx, p, to)
		if err != nil {
			return "", err
		}
		r.sum.Train = res
		if res.Skipped {
			return "skipped: " + res.Reason, nil
		}
		last := ""
		if n := len(res.Losses); n > 0 {
			last = fmt.Sprintf(", loss %.4f → %.4f", res.Losses[0].Loss, res.Losses[n-1].Loss)
		}
		return fmt.Sprintf("%s, %d steps%s", res.Trainer, res.Steps, last), nil
	})
}

// export: base + adapter + export and Modelfile settings + version.
func (r *pipelineRun) export() error {
	p := r.p
	adapterHash := ""
	if native, ok := p.NativeCheckpoint(); ok {
		a, err := r.hc.File(native)
		if err != nil {
			return err
		}
		adapterHash = "native:" + a.SHA256
	} else if _, err := os.Stat(filepath.Join(p.AdapterDir(), "adapter_config.json")); err == nil {
		a, err := r.hc.Dir(p.AdapterDir())
		if err != nil {
			return err
		}
		adapterHash = a.SHA256
	}
	exportCfg, _ := json.Marshal([]any{p.Name, p.Template, p.Export, p.Ollama, p.Sampler, p.Eval.CompareBase, r.o.Export.Version})
	exportHash := digest(r.base.SHA256, adapterHash, string(exportCfg))
	manifest, manifestOK := p.readManifest()
	r.manifest = manifest
	return r.step(StageExport, exportHash, manifestOK, func() (string, error) {
		eo := r.o.Export
		eo.BaseModel = p.Eval.CompareBase && p.Eval.Suite != ""
		res, err := Export(r.ctx, p, eo)
		if err != nil {
			return "", err
		}
		r.sum.Export = res
		r.manifest = res.Manifest
		if r.o.Verify != nil {
			if err := r.o.Verify(r.ctx, p); err != nil {
				return "", err
			}
		}
		var parts []string
		for _, a := range res.Manifest.Artifacts {
			if a.Kind != "modelfile" {
				parts = append(parts, fmt.Sprintf("%s %s", a.Path, progress.FormatBytes(a.Size)))
			}
		}
		detail := strings.Join(parts, ", ")
		if len(res.Manifest.Notes) > 0 {
			detail += " (" + strings.Join(res.Manifest.Notes, "; ") + ")"
		}
		return detail, nil
	})
}

// eval: the evaluated model's hash + the suite's.
func (r *pipelineRun) eval() error {
	p, sum, manifest := r.p, r.sum, r.manifest
	if p.Eval.Suite == "" {
		sum.Stages = append(sum.Stages, StageRecord{Stage: StageEval, Status: StatusNone, Detail: "no eval.suite in the project"})
		return nil
	}
	model, baseModel := manifest.model(p.Eval.Type), manifest.baseModel()
	if model == nil {
		return &StageError{StageEval, fmt.Errorf("the export has no %s model", p.Eval.Type)}
	}
	suite, err := r.hc.File(p.Resolve(p.Eval.Suite))
	if err != nil {
		return err
	}
	adapterArt := manifest.artifact("adapter")
	baseSum, adapterSum := "", ""
	if adapterArt != nil {
		adapterSum = adapterArt.SHA256
		if p.Eval.CompareBase {
			baseSum = model.SHA256 // separate mode: the FROM file is the base alone
		}
	} else if baseModel != nil && p.Eval.CompareBase {
		baseSum = baseModel.SHA256
	}
	evalHash := digest(model.SHA256, adapterSum, baseSum, suite.SHA256, fmt.Sprintf("%+v", p.EvalSampling()))
	evalDir := filepath.Join(p.OutputDir(), "eval")
	evalFn := r.o.Eval
	if evalFn == nil {
		evalFn = func(ctx context.Context, req EvalRequest) (*EvalOutcome, error) {
			return EvalSuite(ctx, req, evalrun.RunnerLlamaCpp, evalrun.RunnerOptions{Logger: r.o.Logger})
		}
	}
	outcomePath := filepath.Join(evalDir, "outcome.json")
	_, outErr := os.Stat(outcomePath)
	err = r.step(StageEval, evalHash, outErr == nil, func() (string, error) {
		sp := p.EvalSampling()
		req := EvalRequest{Suite: p.Resolve(p.Eval.Suite), Model: filepath.Join(p.ExportDir(), model.Path), OutDir: evalDir, Sampling: &sp, Label: "fine-tune"}
		note := ""
		if manifest.Adapter == "none" {
			// Nothing was trained: the model is the base, and a comparison
			// with itself would show nothing.
			req.Label, baseSum = "base (not trained)", ""
			if p.Eval.CompareBase {
				note = "; compare_base refused: nothing was trained, the evaluated model is the base"
			}
		}
		if adapterArt != nil {
			req.Adapter = filepath.Join(p.ExportDir(), adapterArt.Path)
			if baseSum != "" {
				req.Base = req.Model
			}
		} else if baseSum != "" {
			req.Base = filepath.Join(p.ExportDir(), baseModel.Path)
		}
		out, err := evalFn(r.ctx, req)
		if err != nil {
			return "", err
		}
		sum.Eval = out
		b, _ := json.MarshalIndent(out, "", "  ")
		if err := os.MkdirAll(evalDir, 0o755); err != nil {
			return "", err
		}
		if err := atomicfile.WriteFile(outcomePath, append(b, '\n'), 0o644); err != nil {
			return "", err
		}
		r.st.Evals = append(r.st.Evals, EvalHistory{Time: r.now().UTC().Format(time.RFC3339), Model: model.SHA256, PassRate: out.PassRate, Passed: out.Passed, Total: out.Total})
		d := fmt.Sprintf("%d/%d passed (%.1f%%)", out.Passed, out.Total, 100*out.PassRate)
		if out.BasePassRate != nil {
			d += fmt.Sprintf(", base %.1f%%", 100**out.BasePassRate)
		}
		out.Label = req.Label
		return d + note, nil
	})
	if err != nil {
		return err
	}
	if sum.Eval == nil { // skipped: report the last outcome
		if b, err := os.ReadFile(outcomePath); err == nil {
			var out EvalOutcome
			if json.Unmarshal(b, &out) == nil {
				sum.Eval = &out
				// the previous run is the one before the last, which this outcome is
				if n := len(r.st.Evals); n >= 2 {
					prev := r.st.Evals[n-2].PassRate
					sum.PrevPassRate = &prev
				} else {
					sum.PrevPassRate = nil
				}
			}
		}
	}
	return nil
}

// readManifest reads the export manifest and reports whether every artifact
// in it still exists with its recorded size.
func (p *Project) readManifest() (*Manifest, bool) {
	b, err := os.ReadFile(filepath.Join(p.ExportDir(), "manifest.json"))
	if err != nil {
		return nil, false
	}
	var m Manifest
	if json.Unmarshal(b, &m) != nil {
		return nil, false
	}
	for _, a := range m.Artifacts {
		st, err := os.Stat(filepath.Join(p.ExportDir(), a.Path))
		if err != nil || st.Size() != a.Size {
			return &m, false
		}
	}
	return &m, true
}

func (m *Manifest) model(typ string) *Artifact {
	if m == nil {
		return nil
	}
	for i, a := range m.Artifacts {
		if a.Kind == "model" && strings.EqualFold(a.Type, typ) {
			return &m.Artifacts[i]
		}
	}
	return nil
}

func (m *Manifest) baseModel() *Artifact { return m.artifact("base-model") }

func (m *Manifest) artifact(kind string) *Artifact {
	if m == nil {
		return nil
	}
	for i, a := range m.Artifacts {
		if a.Kind == kind {
			return &m.Artifacts[i]
		}
	}
	return nil
}

// WriteSummary prints the stage table and the eval pass rate against the
// previous run.
func (s *PipelineSummary) WriteSummary(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tSTATUS\tTIME\tDETAIL")
	for _, r := range s.Stages {
		t := "-"
		if r.Status == StatusRan || r.Status == StatusFailed {
			t = fmt.Sprintf("%.1fs", r.Seconds)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Stage, r.Status, t, oneLine(r.Detail))
	}
	tw.Flush()
	if s.Eval != nil {
		fmt.Fprintln(w)
		if s.Eval.Label != "" {
			fmt.Fprintf(w, "evaluated model: %s\n", s.Eval.Label)
		}
		fmt.Fprintf(w, "eval pass rate: %.1f%% (%d/%d)", 100*s.Eval.PassRate, s.Eval.Passed, s.Eval.Total)
		if s.PrevPassRate != nil {
			fmt.Fprintf(w, ", previous run %.1f%% (%+.1f points)", 100**s.PrevPassRate, 100*(s.Eval.PassRate-*s.PrevPassRate))
		} else {
			fmt.Fprint(w, ", no previous run")
		}
		if s.Eval.BasePassRate != nil {
			fmt.Fprintf(w, "; base model %.1f%%", 100**s.Eval.BasePassRate)
		}
		fmt.Fprintf(w, "; pass bar %.1f%%\n", 100*s.PassBar)
	}
}

func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	if len(s) > 160 {
		s = s[:157] + "..."
	}
	return s
}

// EvalSuite runs the suite on r.Model (and r.Base, when set, first, for a
// side-by-side comparison) with the runner evalrun.NewRunner makes of kind
// and ro (its Model and Adapters set from r) and writes the report files
// into r.OutDir.
func EvalSuite(ctx context.Context, r EvalRequest, kind string, ro evalrun.RunnerOptions) (*EvalOutcome, error) {
	suite, err := evalrun.LoadSuite(r.Suite)
	if err != nil {
		return nil, err
	}
	runOne := func(model, adapter, label string) (*evalrun.Report, error) {
		o := ro
		o.Model = model
		if adapter != "" {
			o.Adapters = append(o.Adapters[:len(o.Adapters):len(o.Adapters)], evalrun.Adapter{Path: adapter, Scale: 1})
		}
		g, err := evalrun.NewRunner(kind, o)
		if err != nil {
			return nil, err
		}
		defer g.Close()
		ro := evalrun.RunOptions{Label: label}
		if r.Sampling != nil && !suite.Defaults.SamplingSet {
			ro.Sampling = r.Sampling
		}
		return evalrun.Run(ctx, suite, g, ro)
	}
	var baseRep *evalrun.Report
	if r.Base != "" {
		if baseRep, err = runOne(r.Base, "", "base"); err != nil {
			return nil, err
		}
	}
	label := r.Label
	if label == "" {
		label = "fine-tune"
	}
	rep, err := runOne(r.Model, r.Adapter, label)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(r.OutDir, 0o755); err != nil {
		return nil, err
	}
	if _, err := evalrun.WriteFiles(r.OutDir, evalrun.NewDocument("sattva pipeline", rep, baseRep)); err != nil {
		return nil, err
	}
	out := &EvalOutcome{PassRate: rep.Summary.PassRate, Passed: rep.Summary.Passed, Total: rep.Summary.Total,
		Report: filepath.Join(r.OutDir, "report.json")}
	if baseRep != nil {
		br := baseRep.Summary.PassRate
		out.BasePassRate = &br
	}
	return out, nil
}
