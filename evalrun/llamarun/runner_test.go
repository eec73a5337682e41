package llamarun

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sattva/sattva/evalrun"
	"github.com/sattva/sattva/internal/fixture"
	"github.com/sattva/sattva/llamacpp"
)

// newStoriesRunner loads the shared stories260K reference GGUF (skips without
// cgo or without the fixture).
func starterSuite(t testing.TB) *evalrun.Suite {
	t.Helper()
	s, err := evalrun.LoadSuite(filepath.Join(fixture.Repo(), "evals", "sattva-control.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newStoriesRunner(t *testing.T, parallel int) *Runner {
	t.Helper()
	path := fixture.Path(t, "stories260K/ref/stories260K-f32.ref.gguf")
	r, err := New(Options{Model: path, Parallel: parallel, Threads: 1, CPUOnly: true})
	if errors.Is(err, llamacpp.ErrNoEngine) {
		t.Skip("built without cgo: no llama.cpp engine")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// The starter suite end to end on stories260K (a 260K-parameter model of
// children's stories): every case gets an answer, the scores are low, and all
// four report files are written.
//
// The suite runs unchanged, system prompt included, although stories260K's
// training context is 512 tokens and its vocabulary spells Cyrillic in bytes
// (the prompts are 1,600-2,000 of its tokens): the answers are meaningless,
// which is the point of an honest low score.
func TestStarterSuiteOnStories260K(t *testing.T) {
	s := starterSuite(t)
	r := newStoriesRunner(t, 0)
	var last int64
	rep, err := evalrun.Run(context.Background(), s, r, evalrun.RunOptions{MaxTokens: 32, Progress: func(d, _ int64) { last = d }})
	t.Logf("%d prompt tokens, %d generated in %.1f s", rep.Throughput.PromptTokens, rep.Throughput.GeneratedTokens, rep.WallSeconds)
	if err != nil {
		t.Fatal(err)
	}
	if last != 30 || rep.Summary.Total != 30 || rep.Summary.Errors != 0 || rep.Summary.NotRun != 0 {
		t.Fatalf("progress %d, summary %+v", last, rep.Summary)
	}
	if rep.Throughput.GeneratedTokens == 0 || rep.Throughput.TokensPerSecond <= 0 {
		t.Errorf("throughput %+v", rep.Throughput)
	}
	// stories260K knows no numerology and no Russian: honest scores are low.
	if rep.Summary.PassRate > 0.3 {
		t.Errorf("pass rate %.2f on stories260K: a scorer is too lenient", rep.Summary.PassRate)
	}
	for _, c := range rep.Cases {
		if c.Tokens == 0 && c.StopReason != "eog" {
			t.Errorf("%s: no tokens, stop %q", c.ID, c.StopReason)
		}
		if c.ID == "num-ru-dotted-only-numbers" && c.Status == evalrun.StatusPass {
			t.Errorf("stories260K computed numerology? answer %q", c.Answer)
		}
	}
	if len(rep.Generator.Notes) == 0 || !strings.Contains(rep.Generator.Notes[0], "no chat template") {
		t.Errorf("notes %v: want the no-chat-template fallback noted", rep.Generator.Notes)
	}
	dir := t.TempDir()
	paths, err := evalrun.WriteFiles(dir, evalrun.NewDocument("sattva test", rep, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 4 {
		t.Fatalf("paths %v", paths)
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil || st.Size() < 500 {
			t.Errorf("%s: %v, %d bytes", p, err, st.Size())
		}
	}
	if os.Getenv("EVALRUN_KEEP") != "" {
		for _, p := range paths {
			b, _ := os.ReadFile(p)
			os.WriteFile(filepath.Join(os.Getenv("EVALRUN_KEEP"), filepath.Base(p)), b, 0o644)
		}
	}
}

// Greedy decoding in parallel sequences gives the same answers as one case at
// a time, and the same answers on a second run.
func TestLlamaRunnerDeterministic(t *testing.T) {
	s := starterSuite(t)
	s.Defaults.System = ""
	s.Cases = s.Cases[:6]
	par := newStoriesRunner(t, 0)
	one := newStoriesRunner(t, 1)
	a, err := evalrun.Run(context.Background(), s, par, evalrun.RunOptions{MaxTokens: 24})
	if err != nil {
		t.Fatal(err)
	}
	b, err := evalrun.Run(context.Background(), s, par, evalrun.RunOptions{MaxTokens: 24})
	if err != nil {
		t.Fatal(err)
	}
	c, err := evalrun.Run(context.Background(), s, one, evalrun.RunOptions{MaxTokens: 24})
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Cases {
		if a.Cases[i].Answer != b.Cases[i].Answer {
			t.Errorf("%s: run 1 %q, run 2 %q", a.Cases[i].ID, a.Cases[i].Answer, b.Cases[i].Answer)
		}
		if a.Cases[i].Answer != c.Cases[i].Answer {
			t.Errorf("%s: parallel %q, one at a time %q", a.Cases[i].ID, a.Cases[i].Answer, c.Cases[i].Answer)
		}
	}
	// Seeded sampling: the same seed twice gives the same text.
	sp := evalrun.Sampling{Temperature: 0.9, TopK: 40, Seed: 7}
	x, err := evalrun.Run(context.Background(), s, par, evalrun.RunOptions{MaxTokens: 24, Sampling: &sp})
	if err != nil {
		t.Fatal(err)
	}
	y, err := evalrun.Run(context.Background(), s, par, evalrun.RunOptions{MaxTokens: 24, Sampling: &sp})
	if err != nil {
		t.Fatal(err)
	}
	differs := false
	for i := range x.Cases {
		if x.Cases[i].Answer != y.Cases[i].Answer {
			t.Errorf("%s: seeded sampling not reproducible: %q vs %q", x.Cases[i].ID, x.Cases[i].Answer, y.Cases[i].Answer)
		}
		differs = differs || x.Cases[i].Answer != a.Cases[i].Answer
	}
	if !differs {
		t.Error("sampling at temperature 0.9 gave exactly the greedy answers")
	}
}

// --ignore-eos makes every case produce exactly MaxTokens tokens.
func TestLlamaRunnerIgnoreEOS(t *testing.T) {
	s := starterSuite(t)
	s.Defaults.System = ""
	s.Cases = s.Cases[:4]
	r := newStoriesRunner(t, 0)
	rep, err := evalrun.Run(context.Background(), s, r, evalrun.RunOptions{MaxTokens: 300, IgnoreEOS: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Cases {
		if c.Tokens != 300 || c.StopReason != "max_tokens" {
			t.Errorf("%s: %d tokens, stop %q; want 300, max_tokens", c.ID, c.Tokens, c.StopReason)
		}
	}
}

// Ctrl-C in the middle of a batch: the cases that finished keep their
// answers, the rest are not_run, and Run says the report is partial.
func TestLlamaRunnerInterrupted(t *testing.T) {
	s := starterSuite(t)
	s.Defaults.System = ""
	s.Cases = s.Cases[:4]
	path := fixture.Path(t, "stories260K/ref/stories260K-f32.ref.gguf")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := New(Options{Model: path, Parallel: 1, Threads: 1, CPUOnly: true, Progress: func(done, _ int64) {
		if done == 40 { // inside the second case: the first has its 32 tokens
			cancel()
		}
	}})
	if errors.Is(err, llamacpp.ErrNoEngine) {
		t.Skip("built without cgo: no llama.cpp engine")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rep, err := evalrun.Run(ctx, s, r, evalrun.RunOptions{MaxTokens: 32, IgnoreEOS: true})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if !rep.Partial || rep.Cases[0].Tokens != 32 || rep.Summary.NotRun != 3 {
		t.Errorf("partial %v, first case %d tokens, summary %+v", rep.Partial, rep.Cases[0].Tokens, rep.Summary)
	}
}
