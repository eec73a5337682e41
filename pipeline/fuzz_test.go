package pipeline

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseProject: any bytes give a project or an error with a position,
// never a panic; a parsed project is valid (its checks hold).
func FuzzParseProject(f *testing.F) {
	f.Add([]byte(ExampleProjectYAML()))
	f.Add([]byte("name: m\nbase: b\ndata:\n  train: [a.jsonl]\ntrain:\n  extra: {val_size: 0.1}\n"))
	f.Add([]byte("name: m\nbase: b\ndata: &a\n  train: *a\n"))
	f.Add([]byte("a: [\n"))
	f.Add([]byte("---\nname: a\n---\nname: b\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseProject("f.yaml", data)
		if err != nil {
			if !errors.Is(err, ErrProject) {
				t.Fatalf("error is not ErrProject: %v", err)
			}
			if !strings.HasPrefix(err.Error(), "f.yaml") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		if p.Name == "" || p.Base == "" || len(p.Data.Train) == 0 || p.Train.LoraRank < 1 {
			t.Fatalf("invalid project accepted: %+v", p)
		}
		if _, err := MarshalConfigYAML("", p.LlamaFactoryConfig("/d")); err != nil {
			t.Fatalf("config of a valid project: %v", err)
		}
	})
}

// FuzzParseTrainLine never panics and never reports a negative count.
func FuzzParseTrainLine(f *testing.F) {
	f.Add("{'loss': 1.2345, 'grad_norm': 0.51, 'learning_rate': 0.0002, 'epoch': 0.12}")
	f.Add(" 12%|█▏        | 12/100 [00:05<00:40,  2.1it/s]")
	f.Add("{'loss': '0.8', 'step': 99999999999999999999}")
	f.Fuzz(func(t *testing.T, line string) {
		ev, _ := ParseTrainLine(line)
		if ev.Step < 0 || ev.Total < 0 {
			t.Fatalf("negative count from %q: %+v", line, ev)
		}
	})
}
