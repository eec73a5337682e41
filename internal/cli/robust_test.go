package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/hostile"
)

func mustGen(t *testing.T, path string) []byte {
	t.Helper()
	if code, _, errs := runSattva(t, "data", "gen", "numerology", "-n", "40", "--seed", "1", "-o", path); code != 0 {
		t.Fatalf("gen: %d %s", code, errs)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func unchanged(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s changed (%d bytes, was %d): %v", path, len(got), len(want), err)
	}
}

// TestDataOutputsNeverInputs: the review's data-loss reproductions. Paths
// were compared as strings, so ./g.jsonl overwrote g.jsonl.
func TestDataOutputsNeverInputs(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	g := mustGen(t, "g.jsonl")
	os.Symlink("g.jsonl", "link.jsonl")
	for _, args := range [][]string{
		{"data", "split", "g.jsonl", "--train", "./g.jsonl", "--eval", "e.jsonl"},
		{"data", "split", "g.jsonl", "--train", "t.jsonl", "--eval", filepath.Join(dir, "g.jsonl")},
		{"data", "split", "g.jsonl", "--train", "link.jsonl", "--eval", "e.jsonl"},
		{"data", "split", "g.jsonl", "--train", "s.jsonl", "--eval", "./s.jsonl"},
		{"data", "convert", "g.jsonl", "--to", "sharegpt", "-o", "./g.jsonl"},
		{"data", "convert", "g.jsonl", "--to", "sharegpt", "-o", "link.jsonl"},
	} {
		code, _, errs := runSattva(t, args...)
		if code != ExitUsage {
			t.Errorf("%v: exit %d, want %d: %s", args, code, ExitUsage, errs)
		}
		unchanged(t, "g.jsonl", g)
		for _, p := range []string{"s.jsonl", "e.jsonl", "t.jsonl"} {
			if _, err := os.Stat(p); err == nil {
				t.Errorf("%v: left %s", args, p)
			}
		}
	}
	// an earlier output may be replaced
	if code, _, errs := runSattva(t, "data", "split", "g.jsonl", "--train", "t.jsonl", "--eval", "e.jsonl"); code != 0 {
		t.Fatalf("split: %d %s", code, errs)
	}
	if code, _, errs := runSattva(t, "data", "split", "g.jsonl", "--train", "./t.jsonl", "--eval", "e.jsonl", "--seed", "9"); code != 0 {
		t.Fatalf("split again: %d %s", code, errs)
	}
}

// TestGGUFSetThroughSymlink: gguf set on a link writes the link's target and
// leaves the link a link (it replaced the link with a file).
func TestGGUFSetThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "m.gguf")
	if err := os.WriteFile(m, hostile.TinyLlama().Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	l := filepath.Join(dir, "l.gguf")
	if err := os.Symlink("m.gguf", l); err != nil {
		t.Skip(err)
	}
	if code, _, errs := runSattva(t, "gguf", "set", "-q", l, "general.name", "renamed"); code != 0 {
		t.Fatalf("set: %d %s", code, errs)
	}
	if st, err := os.Lstat(l); err != nil || st.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("%s is no longer a link: %v", l, err)
	}
	f, err := gguf.Open(m)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if s, _ := f.String("general.name"); s != "renamed" {
		t.Fatalf("target's general.name %q", s)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Fatalf("files left: %v", ents)
	}
}

// TestQuantizeOutputNeverInput: quantize IN ./IN is refused before anything
// is written.
func TestQuantizeOutputNeverInput(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	b := hostile.TinyLlama().Bytes()
	os.WriteFile("in.gguf", b, 0o644)
	if code, _, errs := runSattva(t, "quantize", "-q", "in.gguf", "./in.gguf", "Q8_0"); code != ExitUsage {
		t.Fatalf("exit %d: %s", code, errs)
	}
	unchanged(t, "in.gguf", b)
}

// TestNonRegularInputsRefused: /dev/zero and directories are refused up
// front (data validate on /dev/zero ran for 13 minutes and ignored Ctrl-C).
func TestNonRegularInputsRefused(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	for _, args := range [][]string{
		{"data", "validate", "-q", "/dev/zero"},
		{"gguf", "inspect", "/dev/zero"},
		{"gguf", "inspect", t.TempDir()},
		{"data", "convert", "/dev/zero", "--to", "sharegpt"},
		{"quantize", "-q", "/dev/zero", filepath.Join(t.TempDir(), "o.gguf"), "Q8_0"},
	} {
		if code, _, errs := runSattva(t, args...); code != ExitInvalidInput {
			t.Errorf("%v: exit %d, want %d: %s", args, code, ExitInvalidInput, errs)
		}
	}
}

func TestLoRAScaleFinite(t *testing.T) {
	for _, s := range []string{"a.gguf:NaN", "a.gguf:inf", "a.gguf:-Inf"} {
		if _, err := parseLoRA(s); err == nil {
			t.Errorf("%s accepted", s)
		}
	}
	if a, err := parseLoRA("a.gguf:0.5"); err != nil || a.Scale != 0.5 {
		t.Errorf("a.gguf:0.5: %v %v", a, err)
	}
}

// TestGGUFInspectLongStringBounded: a 60 MB string value is printed cut,
// without converting it all to runes (466 MB before).
func TestGGUFInspectLongStringBounded(t *testing.T) {
	long := strings.Repeat("ж", 30<<20) // 60 MB of UTF-8
	head, cut := firstRunes(long, 60)
	if !cut || utf8.RuneCountInString(head) != 60 {
		t.Fatalf("head of %d runes, cut %v", utf8.RuneCountInString(head), cut)
	}
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	txt := ggufValueText(gguf.String(long), 60)
	runtime.ReadMemStats(&ms1)
	if len(txt) > 400 {
		t.Fatalf("printed %d bytes", len(txt))
	}
	if alloc := ms1.TotalAlloc - ms0.TotalAlloc; alloc > 1<<20 {
		t.Fatalf("printing allocated %d bytes", alloc)
	}
}

// TestInterruptExitCodes: cancellation is decided before the rename. A
// command cancelled before its output is renamed exits 130 and leaves
// nothing; a command that finished (its rename happened) exits 0 even if the
// signal came after (Main turned any interrupted run into 130).
func TestInterruptExitCodes(t *testing.T) {
	dir := t.TempDir()
	g := filepath.Join(dir, "g.jsonl")
	mustGen(t, g)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errb bytes.Buffer
	o := filepath.Join(dir, "o.jsonl")
	if code := Main(ctx, []string{"data", "convert", g, "--to", "sharegpt", "-o", o}, strings.NewReader(""), &out, &errb); code != ExitInterrupted {
		t.Fatalf("cancelled convert: exit %d: %s", code, errb.String())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("left behind: %v", ents)
	}
	if code := Main(ctx, []string{"version"}, strings.NewReader(""), &out, &errb); code != ExitOK {
		t.Fatalf("a command that completed exited %d", code)
	}
}
