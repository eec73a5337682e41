//go:build cgo

package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/fixture"
	"github.com/sattva/sattva/pipeline"
)

// TestDemoSteps runs what `make demo` runs (scripts/demo.sh), on a smaller
// dataset and a shorter training: generate the numerology data, validate
// it, then `pipeline run` on the default project's settings with the native
// trainer — train, export, eval base vs fine-tune — and checks each stage's
// outputs, the provenance and the labels, and that a second run skips all.
func TestDemoSteps(t *testing.T) {
	if testing.Short() {
		t.Skip("trains and evaluates stories260K (about a minute)")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "numerology.jsonl")
	if code, _, errs := runSattva(t, "data", "gen", "numerology", "-n", "60", "--seed", "1", "--lang-ratio", "0",
		"--from", "01.01.1950", "--to", "31.12.2030", "-o", data); code != 0 {
		t.Fatalf("data gen: exit %d: %s", code, errs)
	}
	if code, out, errs := runSattva(t, "data", "validate", data); code != 0 {
		t.Fatalf("data validate: exit %d: %s%s", code, out, errs)
	}
	// The default project, pointed at this data, with a short native run and
	// 8 of the 40 eval questions.
	repo := fixture.Repo()
	y, err := os.ReadFile(filepath.Join(repo, "examples", "default", "sattva.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	suite, err := os.ReadFile(filepath.Join(repo, "examples", "default", "numerology-eval.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cases := strings.Split(string(suite), "\n  - id: ")
	if len(cases) < 9 {
		t.Fatalf("eval suite has %d cases", len(cases)-1)
	}
	os.WriteFile(filepath.Join(dir, "numerology-eval.yaml"), []byte(strings.Join(cases[:9], "\n  - id: ")+"\n"), 0o644)
	proj := strings.NewReplacer(
		"base: ../../testdata/stories260K/hf", "base: "+filepath.Join(repo, "testdata", "stories260K", "hf"),
		"output: ../../out/default", "output: out",
		"train: [../../out/default/data/numerology.jsonl]", "train: ["+data+"]",
		"    epochs: 2\n", "    epochs: 1\n    max_steps: 12\n",
		"  trainer: auto\n", "  trainer: llamacpp\n",
	).Replace(string(y))
	if !strings.Contains(proj, "max_steps: 12") || !strings.Contains(proj, "trainer: llamacpp") {
		t.Fatalf("the default project changed shape:\n%s", proj)
	}
	path := filepath.Join(dir, "sattva.yaml")
	os.WriteFile(path, []byte(proj), 0o644)

	code, out, errs := runSattva(t, "pipeline", "run", path, "--quiet", "--threads", "1", "--cpu")
	if code != 0 {
		t.Fatalf("pipeline run: exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"train   ran", "llamacpp, 12 steps", "evaluated model: fine-tune", "trained with llamacpp (12 steps", "training loss:", "steps    1-"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	p, err := pipeline.LoadProject(path)
	if err != nil {
		t.Fatal(err)
	}
	var m pipeline.Manifest
	b, err := os.ReadFile(filepath.Join(p.ExportDir(), "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.Adapter != pipeline.ModeNative || m.Provenance.Trained == nil || !strings.Contains(m.Provenance.Training, "own ggml training graph") {
		t.Fatalf("manifest: mode %q, trained %v, training %q", m.Adapter, m.Provenance.Trained, m.Provenance.Training)
	}
	f, err := gguf.Open(filepath.Join(p.ExportDir(), "sattva-stories260k-f16.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	v, ok := f.Get("general.provenance.training")
	f.Close()
	if !ok || !strings.Contains(v.V.(string), "own ggml training graph") {
		t.Fatalf("exported GGUF provenance: %v", v.V)
	}
	// The report: base vs fine-tune, labelled so, and the fine-tune answers differently.
	rb, err := os.ReadFile(filepath.Join(p.OutputDir(), "eval", "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Run, Baseline struct {
			Label string
			Cases []struct{ Answer string }
		}
	}
	if err := json.Unmarshal(rb, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Run.Label != "fine-tune" || rep.Baseline.Label != "base" || len(rep.Run.Cases) != 8 {
		t.Fatalf("report labels %q / %q, %d cases", rep.Run.Label, rep.Baseline.Label, len(rep.Run.Cases))
	}
	changed := 0
	for i := range rep.Run.Cases {
		if rep.Run.Cases[i].Answer != rep.Baseline.Cases[i].Answer {
			changed++
		}
	}
	if changed == 0 {
		t.Error("the fine-tune answers every question as the base does")
	}

	// Unchanged inputs: every stage is skipped.
	code, out, errs = runSattva(t, "pipeline", "run", path, "--quiet", "--threads", "1", "--cpu")
	if code != 0 || strings.Count(out, "skipped") < 4 {
		t.Fatalf("second run: exit %d\n%s\n%s", code, out, errs)
	}
}
