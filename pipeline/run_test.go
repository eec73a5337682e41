package pipeline

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sattva/sattva/dataset"
)

func statuses(s *PipelineSummary) string {
	var parts []string
	for _, r := range s.Stages {
		parts = append(parts, r.Stage+"="+r.Status)
	}
	return strings.Join(parts, " ")
}

func TestRunPipelineStagesAndSkips(t *testing.T) {
	dir := t.TempDir()
	runs := filepath.Join(dir, "trainer-runs")
	fakeBin(t, "llamafactory-cli", `
echo run >> "`+runs+`"
out=$(sed -n 's/^output_dir: //p' "$2")
echo "{'loss': 1.5, 'epoch': 1.0}"
mkdir -p "$out" && echo '{}' > "$out/adapter_config.json" && echo w > "$out/adapter_model.safetensors"
`)
	os.WriteFile(filepath.Join(dir, "suite.yaml"), []byte("cases: []\n"), 0o644)
	p := mustProject(t, dir, "eval:\n  suite: suite.yaml\n  pass_bar: 0.5\n  compare_base: true\n")
	var calls []string
	rates := []float64{0.6, 0.8}
	var evals []EvalRequest
	opts := PipelineOptions{
		Export:     ExportOptions{Tools: fakeTools(t, &calls), Version: "test"},
		CheckSuite: func(string) error { return nil },
		Eval: func(ctx context.Context, r EvalRequest) (*EvalOutcome, error) {
			evals = append(evals, r)
			rate := rates[0]
			rates = rates[1:]
			base := 0.1
			return &EvalOutcome{PassRate: rate, Passed: int(rate * 10), Total: 10, BasePassRate: &base}, nil
		},
	}
	sum, err := RunPipeline(context.Background(), p, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(sum); got != "data=ran train=ran export=ran eval=ran" {
		t.Errorf("first run: %s", got)
	}
	if len(evals) != 1 || !strings.HasSuffix(evals[0].Model, "m-q4_K_M.gguf") || !strings.HasSuffix(evals[0].Base, "m-base-q4_K_M.gguf") {
		t.Errorf("eval request %+v", evals)
	}
	var buf bytes.Buffer
	sum.WriteSummary(&buf)
	if !strings.Contains(buf.String(), "eval pass rate: 60.0% (6/10), no previous run; base model 10.0%") {
		t.Errorf("summary:\n%s", buf.String())
	}

	// Nothing changed: everything is skipped, the last outcome reported.
	sum, err = RunPipeline(context.Background(), p, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(sum); got != "data=skipped train=skipped export=skipped eval=skipped" {
		t.Errorf("second run: %s", got)
	}
	if b, _ := os.ReadFile(runs); strings.Count(string(b), "run") != 1 {
		t.Errorf("trainer ran %q", b)
	}

	// Export forced: export and eval again; the comparison is with the previous eval.
	opts.Force = []string{"export"}
	sum, err = RunPipeline(context.Background(), p, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := statuses(sum); got != "data=skipped train=skipped export=ran eval=ran" {
		t.Errorf("forced export: %s", got)
	}
	buf.Reset()
	sum.WriteSummary(&buf)
	if !strings.Contains(buf.String(), "eval pass rate: 80.0% (8/10), previous run 60.0% (+20.0 points)") {
		t.Errorf("summary:\n%s", buf.String())
	}
	opts.Force = nil

	// New data: every stage runs again.
	f, _ := os.OpenFile(p.DataFiles()[0], os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"instruction":"Q3","output":"A3"}` + "\n")
	f.Close()
	rates = []float64{0.4}
	sum, err = RunPipeline(context.Background(), p, opts)
	var se *StageError
	if !errors.As(err, &se) || se.Stage != StageEval || !strings.Contains(err.Error(), "below eval.pass_bar") {
		t.Errorf("below the pass bar: %v", err)
	}
	if got := statuses(sum); got != "data=ran train=ran export=ran eval=ran" {
		t.Errorf("new data: %s", got)
	}
	if b, _ := os.ReadFile(runs); strings.Count(string(b), "run") != 2 {
		t.Errorf("trainer runs %q", b)
	}
}

func TestRunPipelineRefusesBeforeWork(t *testing.T) {
	dir := t.TempDir()
	fakeBin(t, "llamafactory-cli", "touch \""+filepath.Join(dir, "ran")+"\"\n")
	p := mustProject(t, dir, "eval:\n  suite: suite.yaml\n")
	var calls []string
	opts := PipelineOptions{Export: ExportOptions{Tools: fakeTools(t, &calls)}}
	// the suite is missing
	_, err := RunPipeline(context.Background(), p, opts)
	var se *StageError
	if !errors.As(err, &se) || se.Stage != StageEval {
		t.Errorf("missing suite: %v", err)
	}
	// a dataset line is broken
	os.WriteFile(filepath.Join(dir, "suite.yaml"), []byte("cases: []\n"), 0o644)
	opts.CheckSuite = func(string) error { return nil }
	os.WriteFile(p.DataFiles()[0], []byte("{not json\n"), 0o644)
	_, err = RunPipeline(context.Background(), p, opts)
	var de *dataset.ExampleError
	if !errors.As(err, &de) {
		t.Errorf("broken dataset: %v", err)
	}
	// a bad --force
	if _, err := RunPipeline(context.Background(), p, PipelineOptions{Force: []string{"training"}}); err == nil {
		t.Error("--force training accepted")
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil || len(calls) > 0 {
		t.Errorf("work was done despite bad input (calls %v)", calls)
	}
}
