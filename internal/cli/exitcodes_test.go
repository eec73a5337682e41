package cli

import (
	"io"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// missingInputArgs is, for every command, a command line whose input file
// does not exist (the documented exit code 3, whichever engine would have
// read it), or nil for a command that reads no input file. Every runnable
// command must be listed: TestExitCodeTable fails for a new one that is not.
func missingInputArgs(dir string) map[string][]string {
	nope := func(name string) string { return filepath.Join(dir, "absent", name) }
	out := filepath.Join(dir, "out")
	return map[string][]string{
		"bench":                 []string{"bench", nope("m.gguf")},
		"chat":                  []string{"chat", nope("m.gguf")},
		"convert":               []string{"convert", nope("hf"), "-o", out + ".gguf"},
		"convert lora":          []string{"convert", "lora", nope("lora"), "--base", nope("hf"), "-o", out + ".gguf"},
		"data convert":          []string{"data", "convert", nope("d.jsonl"), "--to", "sharegpt", "-o", out + ".json"},
		"data gen numerology":   []string{"data", "gen", "numerology", "-n", "2", "--meanings", nope("m.yaml"), "-o", out + ".jsonl"},
		"data split":            []string{"data", "split", nope("d.jsonl"), "--train", out + "1.jsonl", "--eval", out + "2.jsonl"},
		"data validate":         []string{"data", "validate", nope("d.jsonl")},
		"doctor":                []string{"doctor", nope("sattva.yaml")},
		"eval":                  []string{"eval", nope("suite.yaml"), "-m", nope("m.gguf"), "-o", out},
		"export":                []string{"export", nope("sattva.yaml")},
		"gguf diff":             []string{"gguf", "diff", nope("a.gguf"), nope("b.gguf")},
		"gguf inspect":          []string{"gguf", "inspect", nope("m.gguf")},
		"gguf set":              []string{"gguf", "set", nope("m.gguf"), "general.name", "x", "-o", out + ".gguf"},
		"ollama create":         []string{"ollama", "create", "x", "-f", nope("Modelfile")},
		"pipeline run":          []string{"pipeline", "run", nope("sattva.yaml")},
		"plan run":              []string{"plan", "run", nope("m.gguf"), "--ctx", "512"},
		"plan train":            []string{"plan", "train", "--model", nope("hf")},
		"quantize":              []string{"quantize", nope("m.gguf"), out + ".gguf", "Q4_0"},
		"run":                   []string{"run", nope("m.gguf"), "-p", "x"},
		"serve":                 []string{"serve", nope("m.gguf"), "--port", "0"},
		"synth":                 []string{"synth", "--shape", "tiny", "--tokenizer", nope("tok"), out},
		"train":                 []string{"train", nope("sattva.yaml")},
		"imatrix":               []string{"imatrix", nope("m.gguf"), "--data", nope("d.jsonl"), "-o", out + ".imatrix.gguf"},
		"quantize-report":       []string{"quantize-report", nope("m.gguf"), "--data", nope("d.jsonl"), "--imatrix-data", nope("t.jsonl")},
		"verify":                []string{"verify", nope("sattva.yaml")},
		"init":                  nil, // creates what it needs; --base may name a model not downloaded yet
		"numerology":            nil,
		"version":               nil,
		"completion bash":       nil,
		"completion fish":       nil,
		"completion powershell": nil,
		"completion zsh":        nil,
	}
}

// leafCommands lists every runnable command of the tree by its path below
// "sattva" ("gguf inspect").
func leafCommands(c *cobra.Command) []string {
	var out []string
	for _, sub := range c.Commands() {
		if sub.Name() == "help" {
			continue
		}
		if sub.Runnable() {
			out = append(out, strings.TrimPrefix(sub.CommandPath(), "sattva "))
		}
		out = append(out, leafCommands(sub)...)
	}
	sort.Strings(out)
	return out
}

// TestExitCodeTable holds every command to the one exit-code table: 0 for
// --help, 2 for a flag it does not know, 3 when its input file is missing.
func TestExitCodeTable(t *testing.T) {
	dir := t.TempDir()
	table := missingInputArgs(dir)
	root := NewRootCmd(&Streams{In: strings.NewReader(""), Out: io.Discard, ErrOut: io.Discard})
	cmds := leafCommands(root)
	if len(cmds) < 20 {
		t.Fatalf("found only %d commands: %v", len(cmds), cmds)
	}
	for _, name := range cmds {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			words := strings.Fields(name)
			if code, _, errs := runSattva(t, append(words, "--help")...); code != ExitOK {
				t.Errorf("%s --help: exit %d, want 0 (%s)", name, code, errs)
			}
			if code, _, errs := runSattva(t, append(words, "--no-such-flag")...); code != ExitUsage {
				t.Errorf("%s --no-such-flag: exit %d, want 2 (%s)", name, code, errs)
			}
			args, listed := table[name]
			if !listed {
				t.Fatalf("%q is not in missingInputArgs: add the command line whose input file is missing (or nil)", name)
			}
			if args == nil {
				return
			}
			code, _, errs := runSattva(t, args...)
			if code != ExitInvalidInput {
				t.Errorf("%s with a missing input file: exit %d, want 3\n%s", strings.Join(args, " "), code, errs)
			}
			if !strings.Contains(errs, "absent") {
				t.Errorf("%s: the message does not name the missing file:\n%s", name, errs)
			}
		})
	}
}
