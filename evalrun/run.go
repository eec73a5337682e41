package evalrun

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Generator produces answers for a batch of requests. Implementations decide
// how many run at once; they call onDone once for every request that finished
// (with a result or its own error), from any goroutine, and return when all
// are done or ctx is cancelled (then with ctx's error; onDone is not called
// for the unfinished ones). An error return means the batch as a whole
// failed.
type Generator interface {
	Name() string
	Generate(ctx context.Context, reqs []GenRequest, onDone func(i int, r GenResult)) error
}

// GeneratorInfo describes what answered: filled by generators that implement
// Describer, shown in reports.
type GeneratorInfo struct {
	Runner   string   `json:"runner"`             // "llamacpp", "ollama", "openai"
	Model    string   `json:"model"`              // a GGUF path or a served model name
	Adapters []string `json:"adapters,omitempty"` // LoRA adapters as PATH:SCALE
	Endpoint string   `json:"endpoint,omitempty"` // the server URL for HTTP runners
	Parallel int      `json:"parallel,omitempty"` // requests decoded at once
	Notes    []string `json:"notes,omitempty"`    // facts worth knowing (no chat template, fell back to raw prompts)
}

// Describer is implemented by generators that can describe themselves.
type Describer interface{ Info() GeneratorInfo }

// GenRequest is one case to answer.
type GenRequest struct {
	ID           string
	Messages     []Message // the whole conversation, system prompt included
	ChatTemplate bool      // render with the model's chat template; false: RawPrompt(Messages)
	MaxTokens    int
	Stop         []string
	Sampling     Sampling
	// IgnoreEOS keeps generating past end-of-generation tokens until
	// MaxTokens (benchmarks only; the text after EOS means nothing).
	IgnoreEOS bool
}

// GenResult is a generated answer.
type GenResult struct {
	Text         string
	PromptTokens int
	Tokens       int           // generated tokens
	StopReason   string        // "eog", "max_tokens", "stop", "context_full", or the server's reason
	Duration     time.Duration // from the start of Generate to this answer
	Host         string        // the server that answered (HTTP runners with several)
	Attempts     int           // tries it took (HTTP runners that retry); 0 or 1: one
	Err          error
}

// RawPrompt renders messages without a chat template: their contents joined
// by blank lines, for base models that have none.
func RawPrompt(msgs []Message) string {
	parts := make([]string, 0, len(msgs))
	for _, m := range msgs {
		parts = append(parts, m.Content)
	}
	return strings.Join(parts, "\n\n")
}

// RunOptions control Run.
type RunOptions struct {
	// Label names this run in reports ("A", "base", "v3"); "" uses the
	// generator's name.
	Label string
	// MaxTokens, when > 0, replaces every case's new-token limit.
	MaxTokens int
	// IgnoreEOS asks the generator to produce MaxTokens tokens per case.
	IgnoreEOS bool
	// Sampling, when not nil, replaces the suite's sampling settings.
	Sampling *Sampling
	// Progress is called with the number of finished cases and the total.
	Progress func(done, total int64)
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
}

// Run asks g to answer every case of s and scores the answers. When ctx is
// cancelled it returns the partial report (cases not answered have status
// not_run, Partial is true) together with ctx's error.
func Run(ctx context.Context, s *Suite, g Generator, o RunOptions) (*Report, error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	reqs := make([]GenRequest, len(s.Cases))
	for i := range s.Cases {
		c := &s.Cases[i]
		sp := s.Defaults.Sampling
		if o.Sampling != nil {
			sp = *o.Sampling
		}
		mt := s.MaxTokensFor(c)
		if o.MaxTokens > 0 {
			mt = o.MaxTokens
		}
		reqs[i] = GenRequest{
			ID:           c.ID,
			Messages:     s.ChatMessages(c),
			ChatTemplate: s.Defaults.ChatTemplate,
			MaxTokens:    mt,
			Stop:         s.Defaults.Stop,
			Sampling:     sp,
			IgnoreEOS:    o.IgnoreEOS,
		}
	}
	rep := &Report{
		Label:   o.Label,
		Suite:   SuiteInfo{Name: s.Name, Path: s.Path, SHA256: s.SHA256, Cases: len(s.Cases)},
		Started: now().UTC(),
	}
	if rep.Label == "" {
		rep.Label = g.Name()
	}
	if len(reqs) > 0 {
		rep.Settings = RunSettings{MaxTokens: reqs[0].MaxTokens, Sampling: reqs[0].Sampling, ChatTemplate: reqs[0].ChatTemplate, IgnoreEOS: o.IgnoreEOS}
	}
	results := make([]*CaseResult, len(s.Cases))
	var mu sync.Mutex
	done := int64(0)
	total := int64(len(s.Cases))
	if o.Progress != nil {
		o.Progress(0, total)
	}
	start := now()
	err := g.Generate(ctx, reqs, func(i int, r GenResult) {
		if i < 0 || i >= len(s.Cases) {
			return
		}
		cr := scoreCase(&s.Cases[i], r)
		mu.Lock()
		defer mu.Unlock()
		if results[i] != nil {
			return
		}
		results[i] = cr
		done++
		if o.Progress != nil {
			o.Progress(done, total)
		}
	})
	rep.WallSeconds = now().Sub(start).Seconds()
	// Asked after the run: generators note what they found while answering.
	if d, ok := g.(Describer); ok {
		rep.Generator = d.Info()
	} else {
		rep.Generator = GeneratorInfo{Runner: g.Name()}
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range s.Cases {
		if results[i] == nil {
			c := &s.Cases[i]
			cr := &CaseResult{ID: c.ID, Lang: c.Lang, Tags: c.Tags, Prompt: c.Prompt(), Status: StatusNotRun}
			if err != nil && ctx.Err() == nil {
				cr.Status = StatusError
				cr.Error = err.Error()
			}
			results[i] = cr
		}
		rep.Cases = append(rep.Cases, *results[i])
	}
	rep.summarize()
	if err != nil {
		if ctx.Err() != nil {
			rep.Partial = true
			return rep, ctx.Err()
		}
		return rep, fmt.Errorf("evalrun: %s: %w", g.Name(), err)
	}
	return rep, nil
}

// Case statuses.
const (
	StatusPass   = "pass"
	StatusFail   = "fail"
	StatusError  = "error"   // the generator failed on this case
	StatusNotRun = "not_run" // interrupted before the case was answered
)

func scoreCase(c *Case, r GenResult) *CaseResult {
	cr := &CaseResult{
		ID: c.ID, Lang: c.Lang, Tags: c.Tags, Prompt: c.Prompt(),
		Answer: r.Text, StopReason: r.StopReason, PromptTokens: r.PromptTokens, Tokens: r.Tokens,
		Seconds: r.Duration.Seconds(), Host: r.Host,
	}
	if r.Attempts > 1 {
		cr.Attempts = r.Attempts
	}
	if r.Err != nil {
		cr.Status = StatusError
		cr.Error = r.Err.Error()
		return cr
	}
	passed := 0
	for _, sc := range c.Scorers {
		ch := sc.Score(r.Text)
		if ch.Pass {
			passed++
		}
		cr.Checks = append(cr.Checks, ch)
	}
	if len(c.Scorers) > 0 {
		cr.Score = float64(passed) / float64(len(c.Scorers))
	}
	cr.Status = StatusFail
	if passed == len(c.Scorers) {
		cr.Status = StatusPass
	}
	return cr
}

func (r *Report) summarize() {
	sm := Summary{}
	byTag := map[string]*Tally{}
	byLang := map[string]*Tally{}
	add := func(m map[string]*Tally, k string, pass bool) {
		t := m[k]
		if t == nil {
			t = &Tally{Key: k}
			m[k] = t
		}
		t.Total++
		if pass {
			t.Passed++
		}
	}
	var gen, prompt int
	for _, c := range r.Cases {
		sm.Total++
		switch c.Status {
		case StatusPass:
			sm.Passed++
		case StatusFail:
			sm.Failed++
		case StatusError:
			sm.Errors++
		case StatusNotRun:
			sm.NotRun++
			continue
		}
		pass := c.Status == StatusPass
		for _, t := range c.Tags {
			add(byTag, t, pass)
		}
		if len(c.Tags) == 0 {
			add(byTag, "(untagged)", pass)
		}
		add(byLang, c.Lang, pass)
		gen += c.Tokens
		prompt += c.PromptTokens
	}
	if run := sm.Total - sm.NotRun; run > 0 {
		sm.PassRate = float64(sm.Passed) / float64(run)
	}
	sm.ByTag = tallies(byTag)
	sm.ByLang = tallies(byLang)
	r.Summary = sm
	r.Throughput = Throughput{PromptTokens: prompt, GeneratedTokens: gen}
	if r.WallSeconds > 0 {
		r.Throughput.TokensPerSecond = float64(gen) / r.WallSeconds
	}
}

func tallies(m map[string]*Tally) []Tally {
	out := make([]Tally, 0, len(m))
	for _, t := range m {
		if t.Total > 0 {
			t.PassRate = float64(t.Passed) / float64(t.Total)
		}
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b Tally) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// ErrBadReport is matched by errors reading a report file that is not one.
var ErrBadReport = errors.New("evalrun: not a sattva eval report")
