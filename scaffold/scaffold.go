// Package scaffold lays out a new sattva project the way the user's plan
// describes it: data/private/datasets and data/private/eval for private data,
// configs/train and scripts/train kept in git, models/ for weights, a
// commented sattva.yaml (pipeline.ExampleProjectYAML), a starter numerology
// dataset and eval suite, and .gitignore entries that keep private data,
// weights and outputs out of git. It never overwrites a file: what exists is
// kept, and .gitignore only gains the entries it lacks.
package scaffold

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sattva/sattva/internal/atomicfile"
	"github.com/sattva/sattva/numerology"
	"github.com/sattva/sattva/pipeline"
)

// Options shape the project. The zero value writes the example project as it is.
type Options struct {
	// Name replaces the example's name: (the Ollama model name).
	Name string
	// Base replaces the example's base: (the base model's Hugging Face folder).
	Base string
	// Template replaces the example's template: ("llama3" or "plain").
	Template string
	// Examples is the number of generated numerology examples in the starter
	// dataset (0: none; the dataset file is still created, empty files are
	// not: see Create).
	Examples int
	// Seed of the generated examples.
	Seed uint64
}

// Layout paths, relative to the project folder.
const (
	ProjectFile = "sattva.yaml"
	DatasetFile = "data/private/datasets/sattva_instruct_v1.jsonl"
	SuiteFile   = "data/private/eval/control.yaml"
)

// folders are the folders the scaffold creates.
var folders = []string{"data/private/datasets", "data/private/eval", "configs/train", "models", "scripts/train"}

// gitIgnore are the entries .gitignore must hold.
var gitIgnore = []string{
	"/data/private/",
	"/models/",
	"/out/",
	"*.gguf",
	"*.safetensors",
}

// Action says what Create did with a path.
type Action string

// Actions.
const (
	Created  Action = "created"
	Kept     Action = "kept"     // it existed; left as it was
	Appended Action = "appended" // .gitignore gained entries
)

// Entry is one path Create handled.
type Entry struct {
	Path   string `json:"path"` // relative to the project folder, slash-separated
	Action Action `json:"action"`
	Note   string `json:"note,omitempty"`
}

// Create lays out the project in dir (created if missing) and returns what it
// did, in order. It never overwrites: an existing file is kept and reported.
func Create(dir string, o Options) ([]Entry, error) {
	if o.Template != "" && o.Template != "llama3" && o.Template != "plain" {
		return nil, fmt.Errorf("scaffold: template %q: want llama3 or plain", o.Template)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var out []Entry
	for _, f := range folders {
		p := filepath.Join(dir, filepath.FromSlash(f))
		if fi, err := os.Stat(p); err == nil {
			if !fi.IsDir() {
				return out, fmt.Errorf("scaffold: %s exists and is not a folder", p)
			}
			out = append(out, Entry{Path: f + "/", Action: Kept})
			continue
		}
		if err := os.MkdirAll(p, 0o755); err != nil {
			return out, err
		}
		out = append(out, Entry{Path: f + "/", Action: Created})
	}
	// Folders that git keeps get a .gitkeep so that an empty one survives a clone.
	for _, f := range []string{"configs/train", "scripts/train"} {
		e, err := writeNew(dir, f+"/.gitkeep", nil)
		if err != nil {
			return out, err
		}
		if e.Action == Created {
			out = append(out, e)
		}
	}

	yml, err := projectYAML(o)
	if err != nil {
		return out, err
	}
	e, err := writeNew(dir, ProjectFile, yml)
	if err != nil {
		return out, err
	}
	out = append(out, e)

	if o.Examples > 0 {
		data, err := starterDataset(o.Examples, o.Seed)
		if err != nil {
			return out, err
		}
		e, err := writeNew(dir, DatasetFile, data)
		if err != nil {
			return out, err
		}
		if e.Action == Created {
			e.Note = fmt.Sprintf("%d generated numerology examples (RU/EN); add your own pairs", o.Examples)
		}
		out = append(out, e)
	}
	e, err = writeNew(dir, SuiteFile, starterSuite())
	if err != nil {
		return out, err
	}
	if e.Action == Created {
		e.Note = "control prompts: numerology dates with known answers; add your own"
	}
	out = append(out, e)

	e, err = updateGitIgnore(dir)
	if err != nil {
		return out, err
	}
	out = append(out, e)
	return out, nil
}

// writeNew writes rel under dir unless it exists.
func writeNew(dir, rel string, data []byte) (Entry, error) {
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if _, err := os.Lstat(p); err == nil {
		return Entry{Path: rel, Action: Kept}, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return Entry{}, err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return Entry{}, err
	}
	// O_EXCL: a file that appeared since the check is still never replaced.
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return Entry{Path: rel, Action: Kept}, nil
	}
	if err != nil {
		return Entry{}, err
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(p)
		return Entry{}, err
	}
	return Entry{Path: rel, Action: Created}, nil
}

// projectYAML is the pipeline's example with the options' values put in
// place of the example's name:, base:, template: and eval suite: lines.
func projectYAML(o Options) ([]byte, error) {
	src := pipeline.ExampleProjectYAML()
	set := func(indent, key, val string) error {
		if val == "" {
			return nil
		}
		lines := strings.SplitAfter(src, "\n")
		for i, l := range lines {
			if strings.HasPrefix(l, indent+key+":") {
				rest := strings.TrimPrefix(l, indent+key+":")
				comment := ""
				if j := strings.Index(rest, " #"); j >= 0 {
					comment = "  " + strings.TrimSpace(rest[j:])
				}
				lines[i] = indent + key + ": " + yamlString(val) + comment + "\n"
				src = strings.Join(lines, "")
				return nil
			}
		}
		return fmt.Errorf("scaffold: the example project has no %q line to set", indent+key+":")
	}
	if err := errors.Join(
		set("", "name", o.Name),
		set("", "base", o.Base),
		set("", "template", o.Template),
		set("  ", "suite", SuiteFile),
	); err != nil {
		return nil, err
	}
	// The result must load: a wrong substitution is caught here, not by the user.
	if _, err := pipeline.ParseProject(filepath.Join(os.TempDir(), ProjectFile), []byte(src)); err != nil {
		return nil, fmt.Errorf("scaffold: the generated sattva.yaml does not load: %w", err)
	}
	return []byte(src), nil
}

// yamlString quotes s when YAML would not read it back as the same string.
func yamlString(s string) string {
	plain := s != "" && !strings.ContainsAny(s, ":#{}[],&*!|>'\"%@`\\\n") && strings.TrimSpace(s) == s
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		plain = false
	}
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "null", "on", "off", "~":
		plain = false
	}
	if plain {
		return s
	}
	b, _ := json.Marshal(s) // a JSON string is a valid YAML double-quoted scalar
	return string(b)
}

// starterDataset is n generated numerology examples as alpaca JSONL.
func starterDataset(n int, seed uint64) ([]byte, error) {
	return numerology.ExamplesJSONL(numerology.GenOptions{N: n, Seed: seed, RussianShare: 0.5})
}

// starterSuite is a small evalrun suite of numerology control prompts whose
// answers numerology.Compute checks.
func starterSuite() []byte {
	var b strings.Builder
	b.WriteString(`# Control prompts (section 10 of the plan): run after every training run.
# Each case passes when the five numbers in the answer are right for the date.
# Add your own cases; see evals/sattva-control.yaml in the sattva repository for every scorer.
name: sattva-starter
version: 1
defaults:
  max_tokens: 64
  sampling:
    temperature: 0
cases:
`)
	cases := []struct{ id, lang, prompt, date string }{
		{"ru-1", "ru", "Определи числа Джива, Дхарма, Подход, Метод, Карма для даты: 29.01.1988. Дай только числа.", "29.01.1988"},
		{"en-1", "en", "Analyze this birth date (DDMMYYYY=05112004) and return five core numerology numbers (Jiva, Dharma, Approach, Method, Karma). Output only numbers.", "05112004"},
		{"ru-2", "ru", "Определи числа Джива, Дхарма, Подход, Метод, Карма для даты: 17.08.1975. Дай только числа.", "17.08.1975"},
		{"en-2", "en", "Birth date 3 March 2001: give Jiva, Dharma, Approach, Method and Karma, numbers only.", "3 March 2001"},
	}
	for _, c := range cases {
		fmt.Fprintf(&b, "  - id: %s\n    lang: %s\n    prompt: %s\n    expect:\n      numerology: %s\n", c.id, c.lang, yamlString(c.prompt), yamlString(c.date))
	}
	return []byte(b.String())
}

// updateGitIgnore appends the gitIgnore entries .gitignore lacks.
func updateGitIgnore(dir string) (Entry, error) {
	p := filepath.Join(dir, ".gitignore")
	old, err := os.ReadFile(p)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Entry{}, err
	}
	have := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(old))
	for sc.Scan() {
		have[strings.TrimSpace(sc.Text())] = true
	}
	var missing []string
	for _, g := range gitIgnore {
		// "data/private/" and "/data/private" mean the same folder here.
		alt := strings.TrimPrefix(g, "/")
		if !have[g] && !have[alt] && !have[strings.TrimSuffix(g, "/")] && !have[strings.TrimSuffix(alt, "/")] {
			missing = append(missing, g)
		}
	}
	if len(missing) == 0 {
		return Entry{Path: ".gitignore", Action: Kept}, nil
	}
	var b bytes.Buffer
	b.Write(old)
	if len(old) > 0 && !bytes.HasSuffix(old, []byte("\n")) {
		b.WriteByte('\n')
	}
	if len(old) > 0 {
		b.WriteByte('\n')
	}
	b.WriteString("# sattva: private data, model weights and outputs stay out of git\n")
	for _, m := range missing {
		b.WriteString(m + "\n")
	}
	perm := fs.FileMode(0o644)
	if fi, err := os.Stat(p); err == nil {
		perm = fi.Mode().Perm()
	}
	if err := atomicfile.WriteFile(p, b.Bytes(), perm); err != nil {
		return Entry{}, err
	}
	action := Appended
	if len(old) == 0 {
		action = Created
	}
	return Entry{Path: ".gitignore", Action: action, Note: strings.Join(missing, " ")}, nil
}
