//go:build cgo

package serve

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sattva/sattva/evalrun"
	"github.com/sattva/sattva/evalrun/llamarun"
	"github.com/sattva/sattva/internal/fixture"
	"github.com/sattva/sattva/llamacpp"
)

// The control suite answered by two servers (each its own context, as two
// `sattva serve` processes would be) gives the in-process runner's report,
// case by case, greedy. Every fifth case, cut at 16 tokens: the whole suite
// (prompts of ~1,500 stories260K tokens, 256-token answers) takes too long
// for a unit test on a CPU build without SIMD; docs/serve.md records the
// whole suite through the CLI and two `sattva serve` processes.
func TestEvalOverTwoServersEqualsInProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("the control suite twice on the CPU")
	}
	model := fixture.Path(t, storiesGGUF)
	suite, err := evalrun.LoadSuite(filepath.Join(fixture.Repo(), "evals", "sattva-control.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var sub []evalrun.Case
	for i := 0; i < len(suite.Cases); i += 5 {
		sub = append(sub, suite.Cases[i])
	}
	suite.Cases = sub
	lr, err := llamarun.New(llamarun.Options{Model: model, CPUOnly: true, Threads: 2, Logger: testLog})
	if err != nil {
		t.Fatal(err)
	}
	defer lr.Close()
	ctx := context.Background()
	ro := evalrun.RunOptions{MaxTokens: 16}
	want, err := evalrun.Run(ctx, suite, lr, ro)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("in process: %.1fs", want.WallSeconds)
	m := loadModel(t, model)
	var hosts []string
	for range 2 {
		lc, err := m.NewContext(llamacpp.ContextOptions{ContextSize: 4096, Parallel: 4, Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(lc, Options{ModelName: "stories", Logger: testLog})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptestServer(t, s)
		t.Cleanup(func() { s.Close(); lc.Close() })
		hosts = append(hosts, hs)
	}
	g := &evalrun.OpenAIRunner{BaseURLs: hosts, Model: "stories", Concurrency: 4, Retries: 1}
	got, err := evalrun.Run(ctx, suite, g, ro)
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]int{}
	for i, w := range want.Cases {
		c := got.Cases[i]
		used[c.Host]++
		if c.ID != w.ID || c.Answer != w.Answer || c.Status != w.Status || c.StopReason != w.StopReason || c.Tokens != w.Tokens || c.PromptTokens != w.PromptTokens || c.Score != w.Score {
			t.Errorf("case %s:\n server  %s %s %d+%d tokens %q\n library %s %s %d+%d tokens %q", w.ID,
				c.Status, c.StopReason, c.PromptTokens, c.Tokens, c.Answer, w.Status, w.StopReason, w.PromptTokens, w.Tokens, w.Answer)
		}
	}
	if used[hosts[0]] == 0 || used[hosts[1]] == 0 || len(used) != 2 {
		t.Errorf("answered by %v: want both servers and only them", used)
	}
	if got.Summary.Passed != want.Summary.Passed {
		t.Errorf("passed %d, in process %d", got.Summary.Passed, want.Summary.Passed)
	}
	t.Logf("%d cases, %d passed both ways; hosts %v", len(want.Cases), want.Summary.Passed, used)
}
