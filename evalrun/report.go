package evalrun

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
)

// SchemaVersion is the version of the JSON report schema. It changes only
// when a field changes meaning or disappears; new fields keep it.
const SchemaVersion = 1

// SchemaName identifies sattva eval reports.
const SchemaName = "sattva.eval"

// Document is what a report file holds: one run, and optionally the baseline
// it was compared with. It is the JSON schema (version SchemaVersion).
type Document struct {
	Schema        string      `json:"schema"`         // SchemaName
	SchemaVersion int         `json:"schema_version"` // SchemaVersion
	Tool          string      `json:"tool"`           // "sattva <version>"
	Created       time.Time   `json:"created"`
	Run           *Report     `json:"run"`
	Baseline      *Report     `json:"baseline,omitempty"`
	Comparison    *Comparison `json:"comparison,omitempty"`
}

// Report is one run of a suite against one generator.
type Report struct {
	Label       string        `json:"label"`
	Generator   GeneratorInfo `json:"generator"`
	Suite       SuiteInfo     `json:"suite"`
	Settings    RunSettings   `json:"settings"`
	Started     time.Time     `json:"started"`
	WallSeconds float64       `json:"wall_seconds"`
	Partial     bool          `json:"partial"` // interrupted: some cases are not_run
	Summary     Summary       `json:"summary"`
	Throughput  Throughput    `json:"throughput"`
	Cases       []CaseResult  `json:"cases"` // in the suite's order
}

// SuiteInfo identifies the suite a report ran.
type SuiteInfo struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Cases  int    `json:"cases"`
}

// RunSettings are the decoding settings of a run (of its first case; cases
// may override max_tokens).
type RunSettings struct {
	MaxTokens    int      `json:"max_tokens"`
	Sampling     Sampling `json:"sampling"`
	ChatTemplate bool     `json:"chat_template"`
	IgnoreEOS    bool     `json:"ignore_eos"`
}

// Summary counts verdicts.
type Summary struct {
	Total    int     `json:"total"`
	Passed   int     `json:"passed"`
	Failed   int     `json:"failed"`
	Errors   int     `json:"errors"`
	NotRun   int     `json:"not_run"`
	PassRate float64 `json:"pass_rate"` // passed / (total - not_run)
	ByTag    []Tally `json:"by_tag"`
	ByLang   []Tally `json:"by_lang"`
}

// Tally is the pass count of one tag or language.
type Tally struct {
	Key      string  `json:"key"`
	Total    int     `json:"total"`
	Passed   int     `json:"passed"`
	PassRate float64 `json:"pass_rate"`
}

// Throughput is the run's token counts and speed: generated tokens over the
// wall time of the whole run (all cases, however many ran at once).
type Throughput struct {
	PromptTokens    int     `json:"prompt_tokens"`
	GeneratedTokens int     `json:"generated_tokens"`
	TokensPerSecond float64 `json:"tokens_per_second"`
}

// CaseResult is one case's answer and verdict.
type CaseResult struct {
	ID           string   `json:"id"`
	Lang         string   `json:"lang"`
	Tags         []string `json:"tags,omitempty"`
	Prompt       string   `json:"prompt"`
	Answer       string   `json:"answer"`
	Status       string   `json:"status"` // pass, fail, error, not_run
	Score        float64  `json:"score"`  // share of checks passed
	Checks       []Check  `json:"checks,omitempty"`
	StopReason   string   `json:"stop_reason,omitempty"`
	PromptTokens int      `json:"prompt_tokens"`
	Tokens       int      `json:"tokens"`
	Seconds      float64  `json:"seconds"`            // from the start of the run to this answer
	Host         string   `json:"host,omitempty"`     // the server that answered (HTTP runners)
	Attempts     int      `json:"attempts,omitempty"` // tries it took, when more than one
	Error        string   `json:"error,omitempty"`
}

// Passed reports whether the case passed.
func (c *CaseResult) Passed() bool { return c.Status == StatusPass }

// NewDocument wraps a run (and an optional baseline) into a report document,
// comparing the two when both are given.
func NewDocument(tool string, run, baseline *Report) *Document {
	d := &Document{Schema: SchemaName, SchemaVersion: SchemaVersion, Tool: tool, Created: time.Now().UTC(), Run: run, Baseline: baseline}
	if baseline != nil && run != nil {
		d.Comparison = Compare(baseline, run)
	}
	return d
}

// WriteJSON writes d as indented JSON.
func (d *Document) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(d)
}

// ReadDocument reads a JSON report written by WriteJSON. A file of another
// schema or a newer schema version is ErrBadReport.
func ReadDocument(r io.Reader) (*Document, error) {
	data, err := io.ReadAll(io.LimitReader(r, 256<<20))
	if err != nil {
		return nil, err
	}
	var head struct {
		Schema        string `json:"schema"`
		SchemaVersion int    `json:"schema_version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadReport, err)
	}
	if head.Schema != SchemaName {
		return nil, fmt.Errorf("%w: schema %q", ErrBadReport, head.Schema)
	}
	if head.SchemaVersion < 1 || head.SchemaVersion > SchemaVersion {
		return nil, fmt.Errorf("%w: schema version %d (this sattva reads 1..%d)", ErrBadReport, head.SchemaVersion, SchemaVersion)
	}
	d := &Document{}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(d); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadReport, err)
	}
	if d.Run == nil {
		return nil, fmt.Errorf("%w: no run", ErrBadReport)
	}
	return d, nil
}

// ReadReportFile reads the run of a JSON report file (for --baseline).
func ReadReportFile(path string) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d, err := ReadDocument(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d.Run, nil
}

// Comparison is a run against its baseline, case by case.
type Comparison struct {
	Baseline      string     `json:"baseline"`  // the baseline's label
	Candidate     string     `json:"candidate"` // the run's label
	PassRateDelta float64    `json:"pass_rate_delta"`
	Regressed     int        `json:"regressed"` // passed in the baseline, not in the run
	Improved      int        `json:"improved"`
	Changed       int        `json:"answers_changed"`
	Cases         []CaseDiff `json:"cases"`
}

// Case changes.
const (
	ChangeRegressed = "regressed" // passed in the baseline, fails (or errs) now
	ChangeImproved  = "improved"
	ChangeSamePass  = "same_pass"
	ChangeSameFail  = "same_fail"
	ChangeNew       = "new"     // not in the baseline
	ChangeRemoved   = "removed" // in the baseline, not in the run
	ChangeNotRun    = "not_run" // the run was interrupted before this case
)

// CaseDiff is one case in both runs.
type CaseDiff struct {
	ID            string  `json:"id"`
	Change        string  `json:"change"`
	Baseline      string  `json:"baseline_status"`
	Candidate     string  `json:"candidate_status"`
	ScoreDelta    float64 `json:"score_delta"`
	AnswerChanged bool    `json:"answer_changed"`
}

// Compare compares run with baseline case by case, matching cases by id, in
// the run's order followed by cases only the baseline has.
func Compare(baseline, run *Report) *Comparison {
	cmp := &Comparison{Baseline: baseline.Label, Candidate: run.Label, PassRateDelta: run.Summary.PassRate - baseline.Summary.PassRate}
	base := map[string]*CaseResult{}
	for i := range baseline.Cases {
		base[baseline.Cases[i].ID] = &baseline.Cases[i]
	}
	seen := map[string]bool{}
	for i := range run.Cases {
		c := &run.Cases[i]
		seen[c.ID] = true
		d := CaseDiff{ID: c.ID, Candidate: c.Status}
		b, ok := base[c.ID]
		switch {
		case !ok:
			d.Change = ChangeNew
		case c.Status == StatusNotRun || b.Status == StatusNotRun:
			d.Baseline = b.Status
			d.Change = ChangeNotRun
		default:
			d.Baseline = b.Status
			d.ScoreDelta = c.Score - b.Score
			d.AnswerChanged = c.Answer != b.Answer
			switch {
			case b.Passed() && !c.Passed():
				d.Change = ChangeRegressed
				cmp.Regressed++
			case !b.Passed() && c.Passed():
				d.Change = ChangeImproved
				cmp.Improved++
			case c.Passed():
				d.Change = ChangeSamePass
			default:
				d.Change = ChangeSameFail
			}
			if d.AnswerChanged {
				cmp.Changed++
			}
		}
		cmp.Cases = append(cmp.Cases, d)
	}
	for i := range baseline.Cases {
		b := &baseline.Cases[i]
		if !seen[b.ID] {
			cmp.Cases = append(cmp.Cases, CaseDiff{ID: b.ID, Change: ChangeRemoved, Baseline: b.Status})
		}
	}
	return cmp
}

// Diff returns the comparison entry of case id, if any.
func (c *Comparison) Diff(id string) (CaseDiff, bool) {
	if c == nil {
		return CaseDiff{}, false
	}
	for _, d := range c.Cases {
		if d.ID == id {
			return d, true
		}
	}
	return CaseDiff{}, false
}
