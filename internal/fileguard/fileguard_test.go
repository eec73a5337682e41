package fileguard

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestOutputs(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	os.WriteFile("in.jsonl", []byte("x"), 0o644)
	os.Mkdir("sub", 0o755)
	os.Symlink("in.jsonl", "link.jsonl")
	os.Link("in.jsonl", "hard.jsonl")
	in := []string{"in.jsonl"}
	for _, tc := range []struct {
		outs []string
		bad  bool
	}{
		{[]string{"out.jsonl"}, false},
		{[]string{"./in.jsonl"}, true},
		{[]string{"sub/../in.jsonl"}, true},
		{[]string{filepath.Join(dir, "in.jsonl")}, true},
		{[]string{"link.jsonl"}, true},
		{[]string{"hard.jsonl"}, true},
		{[]string{"a.jsonl", "./a.jsonl"}, true},
		{[]string{"sub/a.jsonl", "sub/../sub/a.jsonl"}, true},
		{[]string{"a.jsonl", "b.jsonl", "-", "-", ""}, false},
	} {
		err := Outputs(in, tc.outs...)
		if (err != nil) != tc.bad || (err != nil && !errors.Is(err, ErrConflict)) {
			t.Errorf("%v: %v", tc.outs, err)
		}
	}
}

func TestOpenRefusesNonRegular(t *testing.T) {
	if _, err := Open(t.TempDir()); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("directory: %v", err)
	}
	if _, err := os.Stat("/dev/zero"); err == nil {
		if _, err := Open("/dev/zero"); !errors.Is(err, ErrNotRegular) {
			t.Fatalf("/dev/zero: %v", err)
		}
	}
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, nil, 0o644)
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}
