package cli

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/spf13/cobra"

	"github.com/sattva/sattva/internal/fixture"
)

// exampleExit lists the help examples that do not exit 0 here, with the code
// they do exit with and why. Everything else must exit 0.
var exampleExit = map[string]struct {
	code int
	why  string
}{
	"sattva train --trainer fallback examples/default/sattva.yaml": {ExitFailure, "the fallback trainer needs torch, which a test machine lacks"},
	"sattva doctor":                    {ExitFailure, "a test machine has no torch: doctor reports failed checks with exit 1"},
	"sattva doctor sattva.yaml --json": {ExitFailure, "as above"},
}

// exampleSkip are help examples that cannot run in a test, and why.
var exampleSkip = map[string]string{
	"sattva bench model.gguf --backend-dir build/backends/lib/ollama -t 2":                                            "one process loads the backend plugins from one folder; the test runs every example in one process",
	"sattva quantize-report f16.gguf --data heldout.jsonl --imatrix-data train.jsonl -o quality.md --svg quality.svg": "quantizes five types twice and measures each on 64 sequences: minutes on a CPU (its own test runs a smaller one)",
	"sattva verify": "needs an export in ./out (the verify package's tests export llama31-tiny and verify it)",
	"sattva verify examples/default/sattva.yaml --no-kl":                                                                         "needs the default example exported first (sattva pipeline run does, and verifies)",
	"sattva verify --ref f16.gguf --quant q4_K_M=q4.gguf -m q4.gguf -f Modelfile --data held.jsonl --hf-dir models/llama-3.1-8b": "needs exported files (bench/gpu/verify.sh runs this form)",
	"sattva ollama create": "needs a running Ollama server (the Ollama integration test covers it)",
	"sattva ollama create sattva-v2 -f out/export/Modelfile":                                     "needs a running Ollama server (the Ollama integration test covers it)",
	"sattva serve model.gguf -np 8 -c 4096":                                                      "serves until stopped (serve's tests and cmd_serve_test cover it)",
	"sattva serve export/ --port 8080":                                                           "serves until stopped (serve's tests and cmd_serve_test cover it)",
	"sattva serve base.gguf --lora adapter.gguf:0.8 --host 0.0.0.0 --api-key-env SATTVA_API_KEY": "serves until stopped (serve's tests and cmd_serve_test cover it)",
}

// exampleLines returns the command lines of a help text's Example: each
// line that starts with "sattva ", without a trailing "# comment" or
// "(note)", split on && and cut at a pipe or a redirect.
func exampleLines(example string) []string {
	var out []string
	for _, line := range strings.Split(example, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "sattva ") && line != "sattva" {
			continue
		}
		if i := strings.Index(line, "  #"); i >= 0 {
			line = line[:i]
		}
		if i := strings.Index(line, "    ("); i >= 0 {
			line = line[:i]
		}
		for _, part := range strings.Split(line, "&&") {
			part = strings.TrimSpace(part)
			if i := strings.IndexAny(part, "|>"); i >= 0 {
				part = strings.TrimSpace(part[:i])
			}
			if strings.HasPrefix(part, "sattva") {
				out = append(out, part)
			}
		}
	}
	return out
}

// shellWords splits a command line as a POSIX shell would for the quoting
// help examples use ('…', "…"); ~ at the start of a word is left for the
// commands themselves (they expand it).
func shellWords(line string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// exampleWorkdir lays out the files the help examples name, from the test
// fixtures: model.gguf and base.gguf are the Llama-3.1-shaped checkpoint (with
// its chat template), stories.gguf and merged.gguf stories260K, models/llama-3.1-8b the Llama-3.1-shaped
// checkpoint, adapter.gguf its LoRA, data/sattva.jsonl a generated dataset.
func exampleWorkdir(t *testing.T) string {
	t.Helper()
	w := t.TempDir()
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	stories := fixture.Path(t, "stories260K/ref/stories260K-f32.ref.gguf")
	hf := fixture.Path(t, "llama31-tiny/hf")
	lora := fixture.Path(t, "llama31-tiny/lora")
	link := func(target, name string) {
		p := filepath.Join(w, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"stories.gguf", "ours.gguf", "llama-cpp.gguf", "merged.gguf"} {
		link(stories, n)
	}
	link(hf, "models/llama-3.1-8b")
	link(fixture.Path(t, "stories260K/hf"), "models/stories260K")
	link(lora, "lora-adapter")
	link(filepath.Join(repo, "evals"), "evals")
	link(filepath.Join(repo, "testdata"), "testdata")
	if err := os.CopyFS(filepath.Join(w, "examples"), os.DirFS(filepath.Join(repo, "examples"))); err != nil {
		t.Fatal(err)
	}
	link(fixture.Path(t, "templates/meta-llama-Llama-3.1-8B-Instruct.jinja"), "template.jinja")
	must := func(args ...string) {
		t.Helper()
		if code, _, errs := runSattva(t, args...); code != 0 {
			t.Fatalf("setup %v: exit %d\n%s", args, code, errs)
		}
	}
	at := func(name string) string { return filepath.Join(w, name) }
	must("convert", hf, "--outtype", "f16", "-q", "-o", at("base.gguf"))
	must("convert", hf, "--outtype", "f16", "-q", "-o", at("model.gguf")) // has a chat template
	must("convert", hf, "--outtype", "f16", "-q", "-o", at("model-f16.gguf"))
	// llama31-tiny's rows (16) are too short for any quantized type: the
	// examples' quantized model is a Llama-3.1-shaped checkpoint in F16.
	must("convert", hf, "--outtype", "f16", "-q", "-o", at("sattva.q4_k_m.gguf"))
	must("convert", "lora", lora, "--base", hf, "-q", "-o", at("adapter.gguf"))
	must("data", "gen", "numerology", "-n", "40", "--seed", "1", "-o", at("data/sattva.jsonl"))
	must("data", "gen", "numerology", "-n", "20", "--seed", "3", "-o", at("train.jsonl"))
	must("data", "gen", "numerology", "-n", "40", "--seed", "2", "--lang-ratio", "0", "-o", at("out/default/data/numerology.jsonl"))
	must("init", w, "--base", "models/llama-3.1-8b", "--examples", "20")
	// The stand-in base's rows (16) fit no quantized type, and its random
	// weights pass no eval: the project exports F16 and has no pass bar.
	yml, err := os.ReadFile(at("sattva.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// ollama.type and eval.type must name one of export.types.
	yml = []byte(strings.NewReplacer("types: [q4_K_M, q8_0]", "types: [f16]", "type: q4_K_M", "type: f16", "pass_bar: 0.8", "pass_bar: 0").Replace(string(yml)))
	if err := os.WriteFile(at("sattva.yaml"), yml, 0o644); err != nil {
		t.Fatal(err)
	}
	// A zstd-compressed dataset, as data validate's example reads one.
	raw, err := os.ReadFile(at("data/sattva.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := zstd.NewWriter(nil)
	if err := os.WriteFile(at("train.jsonl.zst"), enc.EncodeAll(raw, nil), 0o644); err != nil {
		t.Fatal(err)
	}
	return w
}

// TestHelpExamples runs every example line of every command's help, as
// written, in a folder holding the files the examples name: the help a user
// copies from works.
func TestHelpExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every help example (a minute)")
	}
	w := exampleWorkdir(t)
	t.Chdir(w)
	t.Setenv("HF_HUB_CACHE", filepath.Join(w, "hub-cache")) // no user cache
	root := NewRootCmd(&Streams{In: strings.NewReader(""), Out: io.Discard, ErrOut: io.Discard})
	var cmds []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			if sub.Runnable() {
				cmds = append(cmds, sub)
			}
			walk(sub)
		}
	}
	walk(root)
	ran := 0
	for _, c := range cmds {
		lines := exampleLines(c.Example)
		if len(lines) == 0 {
			t.Errorf("%s has no example in its help", c.CommandPath())
			continue
		}
		for _, line := range lines {
			if why, ok := exampleSkip[line]; ok {
				t.Logf("not run: %s (%s)", line, why)
				continue
			}
			want := ExitOK
			if e, ok := exampleExit[line]; ok {
				want = e.code
			}
			code, _, errs := runSattva(t, shellWords(line)[1:]...)
			ran++
			if code != want {
				t.Errorf("%s\n  exit %d, want %d\n%s", line, code, want, errs)
			}
		}
	}
	t.Logf("%d help examples ran", ran)
}
