package pipeline

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExampleProjectLoads(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sattva.yaml")
	if err := os.WriteFile(path, []byte(ExampleProjectYAML()), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := LoadProject(path)
	if err != nil {
		t.Fatalf("example does not load: %v", err)
	}
	if p.Name != "sattva-llama31-8b" || p.Template != "llama3" || p.Train.LoraRank != 16 || p.Train.LoraAlpha != 32 ||
		p.Train.QuantizationBit != 4 || p.Train.CutoffLen != 2048 || p.Train.LearningRate != 2e-4 ||
		len(p.Export.Types) != 2 || p.Export.Types[0] != "q4_K_M" || p.Eval.PassBar != 0.8 ||
		*p.Sampler.NumCtx != 4096 || *p.Sampler.RepeatPenalty != 1 || !strings.HasPrefix(p.Ollama.System, "You are SatTva") {
		t.Errorf("example fields: %+v", p)
	}
	if got, want := p.BaseDir(), filepath.Join(dir, "models", "llama-3.1-8b"); got != want {
		t.Errorf("BaseDir = %q, want %q", got, want)
	}
}

func TestProjectDefaults(t *testing.T) {
	p, err := ParseProject("/x/sattva.yaml", []byte("name: m\nbase: hf\ndata:\n  train: [a.jsonl]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Train.LoraAlpha != 32 || p.Train.Trainer != "auto" || p.Export.Adapter != "merge" || p.Ollama.Type != "q4_K_M" ||
		*p.Train.BF16 != true || p.Train.QuantizationBit != 0 || p.OutputDir() != "/x/out" {
		t.Errorf("defaults: %+v", p.Train)
	}
}

func TestProjectErrors(t *testing.T) {
	const good = "name: m\nbase: hf\ndata:\n  train: [a.jsonl]\n"
	cases := []struct {
		name, yaml string
		line       int
		field, msg string
	}{
		{"unknown key", good + "trian:\n  epochs: 1\n", 5, "trian", "unknown key"},
		{"unknown nested", good + "train:\n  lora_r: 8\n", 6, "train.lora_r", "unknown key"},
		{"type", good + "train:\n  lora_rank: sixteen\n", 6, "train.lora_rank", "cannot unmarshal"},
		{"range", good + "train:\n  lora_dropout: 1.5\n", 6, "train.lora_dropout", "[0, 1)"},
		{"all-linear", good + "train:\n  lora_target: all-linear\n", 6, "train.lora_target", `"all"`},
		{"plan key in extra", good + "train:\n  extra:\n    prompt_template: llama3\n", 7, "train.extra.prompt_template", "use template"},
		{"unknown extra", good + "train:\n  extra:\n    foo_bar: 1\n", 7, "train.extra.foo_bar", "not an argument"},
		{"managed extra", good + "train:\n  extra:\n    lora_rank: 1\n", 7, "train.extra.lora_rank", "set by sattva"},
		{"missing base", "name: m\ndata:\n  train: [a.jsonl]\n", 0, "base", "required"},
		{"template", good + "template: chatml\n", 5, "template", "must be one of"},
		{"export type", good + "export:\n  types: [q4_K_X]\n", 6, "export.types", "not a known type"},
		{"ollama type", good + "export:\n  types: [q8_0]\nollama:\n  type: q4_K_M\n", 8, "ollama.type", "not one of"},
		{"param", good + "ollama:\n  parameters:\n    temprature: 0.5\n", 7, "ollama.parameters.temprature", "unknown Ollama parameter"},
		{"duplicate", good + "name: n\n", 5, "name", "duplicate"},
		{"nodes", good + "train:\n  nodes: 2\n", 0, "train.master_addr", "required"},
		{"gpus", good + "train:\n  gpus: \"0;1\"\n", 6, "train.gpus", "comma-separated"},
		{"syntax", "name: [\n", 1, "", ""},
		{"not mapping", "- a\n", 1, "", "mapping"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseProject("p.yaml", []byte(c.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrProject) {
				t.Errorf("errors.Is(err, ErrProject) = false: %v", err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("not a *FieldError: %T %v", err, err)
			}
			if fe.Line != c.line || fe.Field != c.field || !strings.Contains(fe.Msg, c.msg) {
				t.Errorf("got %s (line %d field %q), want line %d field %q containing %q", fe, fe.Line, fe.Field, c.line, c.field, c.msg)
			}
			if !strings.HasPrefix(err.Error(), "p.yaml:") {
				t.Errorf("error does not start with the file name: %v", err)
			}
		})
	}
}

func TestProjectErrorsAllReported(t *testing.T) {
	_, err := ParseProject("p.yaml", []byte("name: m\nbase: hf\ndata:\n  train: [a.jsonl]\ntrain:\n  lora_rank: 0\n  lora_rank: 1\n  epochs: x\n  foo: 1\n"))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"p.yaml:7:3: train.lora_rank: duplicate key", "p.yaml:8:11: train.epochs:", "p.yaml:9:3: train.foo: unknown key"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}
