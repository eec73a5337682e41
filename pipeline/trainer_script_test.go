package pipeline

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sattva/sattva/internal/fixture"
)

// pyTrainer runs code with scripts/train/sft_lora.py importable (its torch
// imports are inside main, so no torch is needed).
func pyTrainer(t *testing.T, code string) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	cmd := exec.Command(py, "-c", "import sys; sys.path.insert(0, "+pyQuote(filepath.Join(fixture.Repo(), "scripts", "train"))+")\n"+code)
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1") // no __pycache__ in the source tree
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	return string(out)
}

func pyQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

// The fallback trainer renders each example exactly as RenderPrompt (and so
// the Modelfile's TEMPLATE and Ollama) does, with the answer after it.
func TestFallbackTrainerSegments(t *testing.T) {
	for _, tmpl := range []string{"llama3", "plain"} {
		for _, system := range []string{"", "Be exact."} {
			code := "import json, sft_lora\n" +
				"print(json.dumps(sft_lora.segments(" + pyQuote(tmpl) + ", {'system': " + pyQuote(system) + ", 'user': 'Date 29.01.1988\\nplease', 'answer': 'Jiva: 2'})))"
			var segs [2][]string
			if err := json.Unmarshal([]byte(pyTrainer(t, code)), &segs); err != nil {
				t.Fatal(err)
			}
			if segs[0][0] != "<BOS>" {
				t.Errorf("%s: prompt does not start with BOS: %q", tmpl, segs[0])
			}
			got := strings.Join(segs[0][1:], "")
			want, _ := RenderPrompt(tmpl, system, "Date 29.01.1988\nplease")
			if got != want {
				t.Errorf("%s system=%q: trainer prompt\n%q\nRenderPrompt\n%q", tmpl, system, got, want)
			}
			wantAns := []string{"Jiva: 2<|eot_id|>"}
			if tmpl == "plain" {
				wantAns = []string{"Jiva: 2", "<EOS>"}
			}
			if strings.Join(segs[1], "|") != strings.Join(wantAns, "|") {
				t.Errorf("%s: answer %q, want %q", tmpl, segs[1], wantAns)
			}
		}
	}
}

// Loss on the answer only, LLaMA-Factory's cutoff split, and its alpaca join.
func TestFallbackTrainerEncoding(t *testing.T) {
	out := pyTrainer(t, `
import json, sft_lora
class Tok:  # one id per character; BOS 1, EOS 2
    bos_token_id, eos_token_id = 1, 2
    def encode(self, s, add_special_tokens=False):
        assert not add_special_tokens
        return [ord(c) for c in s]
ids, labels = sft_lora.encode(Tok(), "plain", {"system": "", "user": "Q?", "answer": "A!"}, 64)
short = sft_lora.encode(Tok(), "plain", {"system": "", "user": "x" * 50, "answer": "y" * 30}, 40)
print(json.dumps({"ids": ids, "labels": labels, "short": [len(short[0]), sum(1 for l in short[1] if l != -100)],
  "seq": [sft_lora.infer_seqlen(10, 5, 64), sft_lora.infer_seqlen(50, 31, 40), sft_lora.infer_seqlen(100, 10, 40)]}))
`)
	var r struct {
		IDs, Labels, Short []int
		Seq                [][2]int
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	wantIDs := []int{1, 'Q', '?', 'A', '!', 2}
	wantLabels := []int{-100, -100, -100, 'A', '!', 2}
	if !equalInts(r.IDs, wantIDs) || !equalInts(r.Labels, wantLabels) {
		t.Errorf("ids %v labels %v, want %v %v", r.IDs, r.Labels, wantIDs, wantLabels)
	}
	// LLaMA-Factory's infer_seqlen: (10,5,64)→(10,5); (50,31,40)→ target int(40*31/81)=15, source 25; (100,10,40)→ target 10, source 30.
	if r.Seq[0] != [2]int{10, 5} || r.Seq[1] != [2]int{25, 15} || r.Seq[2] != [2]int{30, 10} {
		t.Errorf("infer_seqlen %v", r.Seq)
	}
	if r.Short[0] != 40 {
		t.Errorf("cut example has %d tokens, want cutoff 40", r.Short[0])
	}
	out = pyTrainer(t, `
import json, os, tempfile, sft_lora
d = tempfile.mkdtemp()
open(os.path.join(d, "dataset_info.json"), "w").write(json.dumps({"s": {"file_name": "s.jsonl", "formatting": "alpaca",
  "columns": {"prompt": "instruction", "query": "input", "response": "output", "system": "system"}}}))
open(os.path.join(d, "s.jsonl"), "w").write(json.dumps({"instruction": "I", "input": "In", "output": "O", "system": "S"}) + "\n" +
  json.dumps({"instruction": "I2", "input": "", "output": "O2"}) + "\n")
print(json.dumps(sft_lora.load_examples({"dataset": "s", "dataset_dir": d})))
`)
	var ex []map[string]string
	if err := json.Unmarshal([]byte(out), &ex); err != nil {
		t.Fatal(err)
	}
	if len(ex) != 2 || ex[0]["user"] != "I\nIn" || ex[0]["system"] != "S" || ex[0]["answer"] != "O" || ex[1]["user"] != "I2" || ex[1]["system"] != "" {
		t.Errorf("examples %v", ex)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A tokenizer.json that maps ordinary text to <unk> (stories260K's holds three
// tokens) makes the trainer use tokenizer.model through sentencepiece, and a
// working tokenizer is kept. sentencepiece is faked here (no PyPI on this machine).
func TestFallbackTrainerTokenizerCheck(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.model"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	code := `
import sys, types, json, sft_lora
class SP:
    def __init__(self, model_file): self.f = model_file
    def bos_id(self): return 1
    def eos_id(self): return 2
    def unk_id(self): return 0
    def pad_id(self): return -1
    def encode(self, text): return [3 + (ord(c) % 500) for c in text]
    def piece_to_id(self, p): return 0
sys.modules["sentencepiece"] = types.SimpleNamespace(SentencePieceProcessor=SP)
class Broken:
    unk_token_id = 0
    def encode(self, text, add_special_tokens=False): return [0] * len(text.split())
    def save_pretrained(self, out): return "saved " + out
class Good(Broken):
    def encode(self, text, add_special_tokens=False): return [5] * len(text.split())
d = ` + pyQuote(dir) + `
good = Good()
kept = sft_lora.checked_tokenizer(good, d) is good
sp = sft_lora.checked_tokenizer(Broken(), d)
print(json.dumps({"kept": kept, "sp": type(sp).__name__, "ids": sp.encode("ab"), "bos": sp.bos_token_id,
                  "eos": sp.eos_token_id, "pad": sp.pad_token_id, "save": sp.save_pretrained("o")}))
try:
    sft_lora.checked_tokenizer(Broken(), d + "/missing")
    print("no error")
except SystemExit as e:
    print("exit:", e)
`
	out := pyTrainer(t, code)
	lines := strings.SplitN(strings.TrimSpace(out), "\n", 3)
	var got struct {
		Kept bool
		SP   string
		IDs  []int
		BOS  int
		EOS  int
		Pad  *int
		Save string
	}
	// the log line of the fallback goes to stderr, mixed into out before the JSON
	js := lines[len(lines)-2]
	if err := json.Unmarshal([]byte(js), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !got.Kept || got.SP != "SentencePieceTokenizer" || len(got.IDs) != 2 || got.BOS != 1 || got.EOS != 2 || got.Pad != nil || got.Save != "saved o" {
		t.Errorf("unexpected: %+v\n%s", got, out)
	}
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "exit:") || !strings.Contains(last, "no tokenizer.model") {
		t.Errorf("a broken tokenizer without tokenizer.model must stop the trainer, got %q", last)
	}
}
