//go:build cgo

package verify

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sattva/sattva/evalrun"
	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/half"
	"github.com/sattva/sattva/internal/fixture"
	"github.com/sattva/sattva/pipeline"
)

// tools are export's converters and quantizer (pipeline.ConvertTools).
var tools = pipeline.ConvertTools(2, nil)

func convertBase(ctx context.Context, hfDir, out, outType, merge string) error {
	return tools.ConvertBase(ctx, hfDir, out, outType, merge, nil, nil)
}

func convertLoRA(ctx context.Context, adapterDir, baseDir, out string) error {
	return tools.ConvertLoRA(ctx, adapterDir, baseDir, out, nil)
}

// heldOut are held-out examples in Russian and English.
var heldOut = []map[string]string{
	{"instruction": "Определи число Кармы для даты 12.03.1990.", "output": "Число Кармы: 3. Это сумма цифр дня рождения."},
	{"instruction": "What is the Life Path number for 1988-01-29?", "output": "The Life Path number is 2: 2+9+0+1+1+9+8+8 = 38, 3+8 = 11, 1+1 = 2."},
	{"instruction": "Что означает число Дхармы?", "output": "Число Дхармы описывает путь и предназначение человека."},
	{"instruction": "Explain the Method number briefly.", "output": "The Method number shows how a person acts to reach a goal."},
	{"instruction": "Сложи цифры даты 07.07.2007.", "output": "0+7+0+7+2+0+0+7 = 23, 2+3 = 5."},
	{"instruction": "Give the Approach number for 01.01.2000.", "input": "Answer with one number.", "output": "4"},
}

func TestMain(m *testing.M) {
	code := m.Run()
	if exportFix != nil {
		os.RemoveAll(exportFix.project.Dir)
	}
	os.Exit(code)
}

type exportFixture struct {
	project *pipeline.Project
	base    string // unmerged base F16 GGUF
	adapter string // GGUF LoRA adapter
}

var (
	exportOnce sync.Once
	exportFix  *exportFixture
	exportErr  error
)

// llama31Export exports llama31-tiny with its LoRA (merge, f16 + q8_0) with
// sattva's own export, once per test binary.
func llama31Export(t *testing.T) *exportFixture {
	t.Helper()
	hf := fixture.Path(t, "llama31-tiny/hf")
	lora := fixture.Path(t, "llama31-tiny/lora")
	exportOnce.Do(func() {
		exportFix, exportErr = makeExport(hf, lora)
	})
	if exportErr != nil {
		t.Fatal(exportErr)
	}
	return exportFix
}

func makeExport(hf, lora string) (*exportFixture, error) {
	dir, err := os.MkdirTemp("", "sattva-verify-test-")
	if err != nil {
		return nil, err
	}
	var data bytes.Buffer
	for _, ex := range heldOut {
		b, _ := json.Marshal(ex)
		data.Write(append(b, '\n'))
	}
	if err := os.WriteFile(filepath.Join(dir, "held.jsonl"), data.Bytes(), 0o644); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "out", "adapter"), 0o755); err != nil {
		return nil, err
	}
	for _, f := range []string{"adapter_config.json", "adapter_model.safetensors"} {
		b, err := os.ReadFile(filepath.Join(lora, f))
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, "out", "adapter", f), b, 0o644); err != nil {
			return nil, err
		}
	}
	yaml := fmt.Sprintf(`name: tiny
base: %s
template: llama3
output: out
data:
  train: [held.jsonl]
export:
  adapter: merge
  types: [f16, q8_0]
  outtype: f16
ollama:
  type: q8_0
  system: You are SatTva.
sampler:
  temperature: 0.7
  num_ctx: 128
verify:
  data: held.jsonl
`, hf)
	pf := filepath.Join(dir, "sattva.yaml")
	if err := os.WriteFile(pf, []byte(yaml), 0o644); err != nil {
		return nil, err
	}
	p, err := pipeline.LoadProject(pf)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	if _, err := pipeline.Export(ctx, p, pipeline.ExportOptions{Tools: tools, Version: "test"}); err != nil {
		return nil, err
	}
	fx := &exportFixture{project: p, base: filepath.Join(dir, "base-f16.gguf"), adapter: filepath.Join(dir, "lora.gguf")}
	if err := convertBase(ctx, hf, fx.base, "f16", ""); err != nil {
		return nil, err
	}
	if err := convertLoRA(ctx, lora, hf, fx.adapter); err != nil {
		return nil, err
	}
	return fx, nil
}

func (fx *exportFixture) options(t *testing.T) Options {
	return Options{Project: fx.project, Base: fx.base, Adapter: fx.adapter, CPUOnly: true, Threads: 2,
		Convert: convertBase, ConvertLoRA: convertLoRA, Logger: nil}
}

func run(t *testing.T, o Options) *Report {
	t.Helper()
	rep, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	rep.WriteText(&b, true)
	t.Log("\n" + b.String())
	return rep
}

func check(rep *Report, name string) *Check {
	for i := range rep.Checks {
		if rep.Checks[i].Name == name {
			return &rep.Checks[i]
		}
	}
	return nil
}

// mustFail asserts the named check failed with every part in its detail.
func mustFail(t *testing.T, rep *Report, name string, parts ...string) {
	t.Helper()
	c := check(rep, name)
	if c == nil {
		t.Fatalf("no check %q", name)
	}
	if c.Status != Fail {
		t.Fatalf("check %q: %s (%s), want fail", name, c.Status, c.Detail)
	}
	for _, p := range parts {
		if !strings.Contains(c.Detail, p) {
			t.Errorf("check %q: detail %q lacks %q", name, c.Detail, p)
		}
	}
	if !rep.Failed {
		t.Error("report not failed")
	}
}

func TestCorrectExportPasses(t *testing.T) {
	fx := llama31Export(t)
	rep := run(t, fx.options(t))
	for _, c := range rep.Checks {
		if c.Status == Fail {
			t.Errorf("%s / %s failed: %s", c.Gate, c.Name, c.Detail)
		}
	}
	for _, want := range []string{"tokens: training vs hf", "tokens: training vs gguf", "tokens: training vs gguf-jinja", "tokens: training vs modelfile",
		"template family", "training turns end", "GGUF end-of-generation", "Modelfile stops", "one BOS", "served sampler", "eval vs served", "generation stops", "KL merge", "KL q8_0"} {
		c := check(rep, want)
		if c == nil {
			t.Errorf("no check %q", want)
		} else if c.Status == Skip {
			t.Errorf("check %q skipped: %s", want, c.Detail)
		}
	}
	// The 3.1 HF template's date block is a documented warning, not silence.
	if c := check(rep, "tokens: training vs hf"); c == nil || c.Status != Warn || !strings.Contains(c.Detail, "Cutting Knowledge Date") {
		t.Errorf("HF template: want a warning naming the date block, got %+v", c)
	}
	if c := check(rep, "tokens: training vs modelfile"); c == nil || c.Status != Pass {
		t.Errorf("Modelfile template: want pass, got %+v", c)
	}
	if len(rep.KL) != 2 || rep.KL[0].Stats.ByLabel["ru"] == nil || rep.KL[0].Stats.ByLabel["en"] == nil {
		t.Errorf("KL results: %+v", rep.KL)
	}
	dir := t.TempDir()
	files, err := rep.WriteFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := os.ReadFile(files[2])
	for _, want := range []string{"<svg", "polyline", "Template parity", "End of turn", "Sampling parity", "KL divergence", "q8_0"} {
		if !bytes.Contains(h, []byte(want)) {
			t.Errorf("verify.html lacks %q", want)
		}
	}
}

// modelfileVariant writes the export's Modelfile with edit applied next to
// it (so FROM resolves) and returns its path.
func modelfileVariant(t *testing.T, fx *exportFixture, edit func(string) string) string {
	t.Helper()
	src := filepath.Join(fx.project.ExportDir(), "Modelfile")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(fx.project.ExportDir(), "Modelfile."+strings.ReplaceAll(t.Name(), "/", "_"))
	edited := edit(string(b))
	if edited == string(b) {
		t.Fatal("the edit changed nothing")
	}
	if err := os.WriteFile(out, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(out) })
	return out
}

func TestDefectModelfileDropsSystem(t *testing.T) {
	fx := llama31Export(t)
	o := fx.options(t)
	o.NoKL, o.NoGenerate = true, true
	o.Modelfile = modelfileVariant(t, fx, func(s string) string {
		return strings.Replace(s, "{{- range .Messages }}", `{{- range .Messages }}{{- if eq .Role "system" }}{{ continue }}{{ end }}`, 1)
	})
	rep := run(t, o)
	mustFail(t, rep, "tokens: training vs modelfile", "Modelfile TEMPLATE", "system turn is missing")
	if c := check(rep, "tokens: training vs modelfile"); c.Diff == nil {
		t.Error("no token diff")
	}
	if h := rep.HTML(); !strings.Contains(h, "First template mismatch") || !strings.Contains(h, `<pre class="diff">`) || !strings.Contains(h, "<b>") {
		t.Error("the HTML report does not show the first template mismatch")
	}
}

func TestDefectGGUFSecondBOS(t *testing.T) {
	fx := llama31Export(t)
	o := fx.options(t)
	o.NoKL, o.NoGenerate = true, true
	served := filepath.Join(fx.project.ExportDir(), "tiny-q8_0.gguf")
	bad := filepath.Join(t.TempDir(), "bos.gguf")
	err := gguf.Rewrite(context.Background(), served, bad, func(s *gguf.Spec) error {
		for _, kv := range s.KVs {
			if kv.Key == "tokenizer.chat_template" {
				s.SetKV(kv.Key, gguf.String("{{ bos_token }}"+kv.Value.V.(string)))
				return nil
			}
		}
		return fmt.Errorf("no chat template")
	}, gguf.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	o.Served = bad
	rep := run(t, o)
	mustFail(t, rep, "one BOS", "gguf-jinja", "starts with 2 BOS tokens")
}

func TestDefectMissingEOTStop(t *testing.T) {
	fx := llama31Export(t)
	o := fx.options(t)
	o.NoKL, o.NoGenerate = true, true
	o.Modelfile = modelfileVariant(t, fx, func(s string) string {
		return strings.Replace(s, "PARAMETER stop \"<|eot_id|>\"\n", "", 1)
	})
	rep := run(t, o)
	mustFail(t, rep, "Modelfile stops", `"<|eot_id|>"`)
}

func TestDefectTrainingTemplateOtherFamily(t *testing.T) {
	fx := llama31Export(t)
	o := fx.options(t)
	o.NoKL, o.NoGenerate = true, true
	o.TrainTemplate = "qwen"
	rep := run(t, o)
	mustFail(t, rep, "template family", `"qwen"`, "ChatML", "Llama 3", "another chat family")
}

func TestDefectRepeatPenalty(t *testing.T) {
	fx := llama31Export(t)
	o := fx.options(t)
	o.NoKL, o.NoGenerate = true, true
	o.Modelfile = modelfileVariant(t, fx, func(s string) string {
		return strings.Replace(s, "PARAMETER repeat_penalty 1\n", "PARAMETER repeat_penalty 1.1\n", 1)
	})
	o.EvalSampling, o.EvalSource = &evalrun.Sampling{Temperature: 0}, "a greedy suite"
	rep := run(t, o)
	mustFail(t, rep, "eval vs served", "repeat_penalty: evaluated 1, served 1.1", "changes even greedy output")
}

// perturbed copies src with every element of tensor name shifted by ±delta
// (alternating), or, when asBF16, with its F16 data replaced by the BF16
// encoding of the same values (another type's bytes under the F16 type).
func perturbed(t *testing.T, src, name string, delta float32, asBF16 bool) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), filepath.Base(src))
	found := false
	err := gguf.Rewrite(context.Background(), src, out, func(s *gguf.Spec) error {
		for i := range s.Tensors {
			wt := &s.Tensors[i]
			if wt.Name != name {
				continue
			}
			if wt.Type != gguf.TypeF16 {
				return fmt.Errorf("%s is %v, want F16", name, wt.Type)
			}
			var b bytes.Buffer
			if _, err := wt.Data.WriteTo(&b); err != nil {
				return err
			}
			data := b.Bytes()
			for j := 0; j+1 < len(data); j += 2 {
				f := half.ToFloat32(binary.LittleEndian.Uint16(data[j:]))
				var h uint16
				if asBF16 {
					h = half.BF16FromFloat32(f)
				} else {
					if (j/2)%2 == 0 {
						f += delta
					} else {
						f -= delta
					}
					h = half.FromFloat32Numpy(f)
				}
				binary.LittleEndian.PutUint16(data[j:], h)
			}
			wt.Data = gguf.BytesData(data)
			found = true
		}
		return nil
	}, gguf.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Fatalf("no tensor %s", name)
	}
	return out
}

func TestDefectMergedTensorPerturbed(t *testing.T) {
	fx := llama31Export(t)
	o := fx.options(t)
	o.NoGenerate = true
	o.Reference = perturbed(t, filepath.Join(fx.project.ExportDir(), "tiny-f16.gguf"), "blk.1.ffn_down.weight", 1e-2, false)
	o.Quantized = map[string]string{}
	rep := run(t, o)
	mustFail(t, rep, "KL merge", "merged weights are not base + adapter")
}

func TestDefectQuantTensorOtherTypeData(t *testing.T) {
	fx := llama31Export(t)
	o := fx.options(t)
	o.NoGenerate = true
	o.Quantized = map[string]string{"q8_0": perturbed(t, filepath.Join(fx.project.ExportDir(), "tiny-q8_0.gguf"), "blk.0.attn_q.weight", 0, true)}
	rep := run(t, o)
	mustFail(t, rep, "KL q8_0", "not a faithful copy")
	if c := check(rep, "KL merge"); c == nil || c.Status != Pass {
		t.Errorf("merge check should still pass: %+v", c)
	}
}
