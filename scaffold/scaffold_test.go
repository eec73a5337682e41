package scaffold

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sattva/sattva/evalrun"
	"github.com/sattva/sattva/numerology"
	"github.com/sattva/sattva/pipeline"
)

func TestCreate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "proj")
	entries, err := Create(dir, Options{Name: "my-sattva", Base: `D:\models\llama 3.1 #8b`, Template: "plain", Examples: 40, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Action != Created {
			t.Errorf("%s: %s", e.Path, e.Action)
		}
	}
	for _, f := range folders {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || !fi.IsDir() {
			t.Errorf("folder %s: %v", f, err)
		}
	}
	p, err := pipeline.LoadProject(filepath.Join(dir, ProjectFile))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "my-sattva" || p.Base != `D:\models\llama 3.1 #8b` || p.Template != "plain" || p.Eval.Suite != SuiteFile {
		t.Fatalf("project: name %q base %q template %q suite %q", p.Name, p.Base, p.Template, p.Eval.Suite)
	}
	// The comments of the example stay.
	yml, _ := os.ReadFile(filepath.Join(dir, ProjectFile))
	if !bytes.Contains(yml, []byte("# 4: QLoRA (bitsandbytes nf4, double quant)")) || !bytes.Contains(yml, []byte("an evalrun suite")) {
		t.Fatalf("comments lost:\n%s", yml)
	}

	// The dataset: 40 alpaca lines whose answers are right.
	f, err := os.Open(filepath.Join(dir, DatasetFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ex numerology.Example
		if err := json.Unmarshal(sc.Bytes(), &ex); err != nil || ex.Instruction == "" || ex.Output == "" {
			t.Fatalf("line %d: %v %+v", n+1, err, ex)
		}
		n++
	}
	if n != 40 {
		t.Fatalf("%d examples", n)
	}
	// The suite loads with evalrun's loader.
	s, err := evalrun.LoadSuite(filepath.Join(dir, SuiteFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Cases) != 4 {
		t.Fatalf("%d cases", len(s.Cases))
	}
	gi, _ := os.ReadFile(filepath.Join(dir, ".gitignore"))
	for _, g := range gitIgnore {
		if !bytes.Contains(gi, []byte(g+"\n")) {
			t.Errorf(".gitignore lacks %s", g)
		}
	}

	// Again: nothing is overwritten, nothing is created.
	os.WriteFile(filepath.Join(dir, ProjectFile), []byte("name: mine\n"), 0o644)
	entries, err = Create(dir, Options{Examples: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Action != Kept {
			t.Errorf("second run: %s %s", e.Path, e.Action)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, ProjectFile)); string(b) != "name: mine\n" {
		t.Fatalf("sattva.yaml overwritten: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, ".gitignore")); !bytes.Equal(b, gi) {
		t.Fatal(".gitignore changed on the second run")
	}
}

func TestGitIgnoreAppends(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".gitignore"), []byte("node_modules\ndata/private\n*.gguf"), 0o600)
	if _, err := Create(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, ".gitignore"))
	want := "node_modules\ndata/private\n*.gguf\n\n# sattva: private data, model weights and outputs stay out of git\n/models/\n/out/\n*.safetensors\n"
	if string(b) != want {
		t.Fatalf("got\n%s\nwant\n%s", b, want)
	}
	if fi, _ := os.Stat(filepath.Join(dir, ".gitignore")); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	if _, err := os.Stat(filepath.Join(dir, DatasetFile)); !os.IsNotExist(err) {
		t.Fatal("a dataset was written with Examples 0")
	}
}

func TestGitIgnoresPrivateData(t *testing.T) {
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("no git")
	}
	dir := t.TempDir()
	if _, err := Create(dir, Options{Examples: 3}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "models", "model.safetensors"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "out.gguf"), []byte("x"), 0o644)
	cmd := exec.Command(git, "init", "-q", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git init: %v %s", err, out)
	}
	cmd = exec.Command(git, "-C", dir, "status", "--porcelain", "--untracked-files=all")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, leaked := range []string{"data/private", "models/", "out.gguf"} {
		if strings.Contains(s, leaked) {
			t.Errorf("git would track %s:\n%s", leaked, s)
		}
	}
	for _, kept := range []string{"sattva.yaml", ".gitignore", "configs/train/.gitkeep", "scripts/train/.gitkeep"} {
		if !strings.Contains(s, kept) {
			t.Errorf("git does not see %s:\n%s", kept, s)
		}
	}
}

func TestCreateErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Create(dir, Options{Template: "chatml"}); err == nil {
		t.Fatal("unknown template accepted")
	}
	os.WriteFile(filepath.Join(dir, "models"), []byte("a file"), 0o644)
	if _, err := Create(dir, Options{}); err == nil || !strings.Contains(err.Error(), "not a folder") {
		t.Fatalf("%v", err)
	}
}

func TestYAMLString(t *testing.T) {
	for in, want := range map[string]string{"models/llama": "models/llama", "yes": `"yes"`, "3.1": `"3.1"`, "a: b": `"a: b"`, `C:\m`: `"C:\\m"`, "": `""`} {
		if got := yamlString(in); got != want {
			t.Errorf("%q: %s, want %s", in, got, want)
		}
	}
}
