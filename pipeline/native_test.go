package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sattva/sattva/dataset"
)

// charTok is one id per character; BOS 1, EOS 2 (the Python tests' Tok).
type charTok struct{}

func (charTok) Tokenize(s string, addSpecial, parseSpecial bool) ([]int32, error) {
	if addSpecial {
		return nil, fmt.Errorf("addSpecial")
	}
	var ids []int32
	for _, r := range s {
		ids = append(ids, int32(r))
	}
	return ids, nil
}
func (charTok) BOS() int32 { return 1 }
func (charTok) EOS() int32 { return 2 }

// The native trainer's examples are token for token what the fallback
// trainer (scripts/train/sft_lora.py) trains on, for both templates, with and
// without a system prompt and input, and with cutoff_len cutting.
func TestEncodeExampleMatchesFallbackTrainer(t *testing.T) {
	type tc struct {
		Template string          `json:"template"`
		Ex       dataset.Example `json:"ex"`
		Cutoff   int             `json:"cutoff"`
	}
	var cases []tc
	for _, tmpl := range []string{"llama3", "plain"} {
		for _, ex := range []dataset.Example{
			{Instruction: "Date 29.01.1988?", Output: "Jiva: 2"},
			{Instruction: "Numbers for", Input: "29.01.1988", Output: "2, 3, 1, 8, 5", System: "Be exact."},
		} {
			for _, cut := range []int{2048, 40, 12} {
				cases = append(cases, tc{tmpl, ex, cut})
			}
		}
	}
	in, _ := json.Marshal(cases)
	out := pyTrainer(t, `
import json, sft_lora
class Tok:
    bos_token_id, eos_token_id = 1, 2
    def encode(self, s, add_special_tokens=False):
        assert not add_special_tokens
        return [ord(c) for c in s]
res = []
for c in json.loads(`+pyQuote(string(in))+`):
    e = c["ex"]
    user = "\n".join(x for x in (e["instruction"], e["input"]) if x)
    ids, labels = sft_lora.encode(Tok(), c["template"], {"system": e.get("system", ""), "user": user, "answer": e["output"]}, c["cutoff"])
    res.append([ids, sum(1 for l in labels if l == -100)])
print(json.dumps(res))
`)
	var want [][2]json.RawMessage
	if err := json.Unmarshal([]byte(out), &want); err != nil {
		t.Fatal(err, out)
	}
	for i, c := range cases {
		ids, prompt, err := EncodeExample(charTok{}, c.Template, c.Ex, c.Cutoff)
		if err != nil {
			t.Fatal(err)
		}
		var wids []int32
		var wprompt int
		json.Unmarshal(want[i][0], &wids)
		json.Unmarshal(want[i][1], &wprompt)
		if fmt.Sprint(ids) != fmt.Sprint(wids) || prompt != wprompt {
			t.Errorf("%s %+v cutoff %d:\n got %v (prompt %d)\nwant %v (prompt %d)", c.Template, c.Ex, c.Cutoff, ids, prompt, wids, wprompt)
		}
	}
}

func TestNativeConfigAndSchedule(t *testing.T) {
	dir := t.TempDir()
	p := mustProject(t, dir, "train:\n  trainer: llamacpp\n  epochs: 1.5\n  native:\n    context: 512\n")
	if p.Train.Trainer != TrainerLlamaCpp || p.Train.Native.NativeEpochs() != 2 || p.Train.Native.LearningRate != 1e-5 || p.Train.Native.Context != 512 {
		t.Fatalf("native config %+v", p.Train.Native)
	}
	for _, bad := range []string{"    context: 300\n", "    tensors: '('\n", "    learning_rate: -1\n"} {
		if _, err := ParseProject(dir+"/sattva.yaml", []byte("name: m\nbase: b\ndata:\n  train: [d.jsonl]\ntrain:\n  native:\n"+bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	for in, want := range map[string]string{"cosine": "cosine", "linear": "linear", "constant_with_warmup": "constant", "polynomial": "cosine"} {
		if got := NativeSchedule(in); got != want {
			t.Errorf("NativeSchedule(%q) = %q, want %q", in, got, want)
		}
	}
}

// Nothing trained: the eval calls the model the base, and compare_base is
// refused with the reason in the stage detail, not dropped silently.
func TestEvalOfUntrainedExport(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "suite.yaml"), []byte("cases: []\n"), 0o644)
	p := mustProject(t, dir, "train:\n  trainer: none\neval:\n  suite: suite.yaml\n  compare_base: true\n")
	var calls []string
	var reqs []EvalRequest
	sum, err := RunPipeline(context.Background(), p, PipelineOptions{
		Export:     ExportOptions{Tools: fakeTools(t, &calls), Version: "test"},
		CheckSuite: func(string) error { return nil },
		Eval: func(ctx context.Context, r EvalRequest) (*EvalOutcome, error) {
			reqs = append(reqs, r)
			return &EvalOutcome{Total: 1}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 1 || reqs[0].Label != "base (not trained)" || reqs[0].Base != "" {
		t.Fatalf("eval requests %+v", reqs)
	}
	last := sum.Stages[len(sum.Stages)-1]
	if !strings.Contains(last.Detail, "compare_base refused: nothing was trained") {
		t.Errorf("eval detail %q", last.Detail)
	}
	var buf strings.Builder
	sum.WriteSummary(&buf)
	if !strings.Contains(buf.String(), "evaluated model: base (not trained)") || strings.Contains(buf.String(), "fine-tune") {
		t.Errorf("summary:\n%s", buf.String())
	}
}
