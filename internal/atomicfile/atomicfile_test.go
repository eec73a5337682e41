package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCommitRenames(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.gguf")
	if err := WriteFile(p, []byte("hello"), 0); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "hello" {
		t.Fatalf("read back %q, %v", b, err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("temporary file left behind: %v", ents)
	}
}

func TestAbortLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.gguf")
	f, err := Create(p, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("partial"))
	f.Abort()
	f.Abort()
	if err := f.Commit(); err == nil {
		t.Fatal("Commit after Abort must fail")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 0 {
		t.Fatalf("files left after Abort: %v", ents)
	}
}

func TestCommitKeepsOldFileUntilRename(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x")
	os.WriteFile(p, []byte("old"), 0o644)
	f, _ := Create(p, 0)
	f.Write([]byte("new"))
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Fatalf("target changed before Commit: %q", b)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "new" {
		t.Fatalf("after Commit: %q", b)
	}
}
