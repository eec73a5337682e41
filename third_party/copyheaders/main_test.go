package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestCopiesMatchModule fails when a header under third_party/llama.cpp/include,
// VERSION or LICENSE differs from what the pinned module gives: after a module
// upgrade, run `go generate ./third_party/...`.
func TestCopiesMatchModule(t *testing.T) {
	mod, err := ModuleDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "llama.cpp")
	for _, h := range Headers {
		want, err := os.ReadFile(filepath.Join(mod, filepath.FromSlash(h.Src)))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dir, "include", h.Name))
		if err != nil {
			t.Fatalf("%v (run go generate ./third_party/...)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the module's %s; run go generate ./third_party/...", h.Name, h.Src)
		}
	}
	lic, err := os.ReadFile(filepath.Join(mod, filepath.FromSlash(LicenseSrc)))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "LICENSE")); err != nil || !bytes.Equal(got, lic) {
		t.Errorf("LICENSE differs from the module's %s (err %v)", LicenseSrc, err)
	}
	ver, err := ModuleVersion()
	if err != nil {
		t.Fatal(err)
	}
	commit, err := LlamaCommit(mod)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "VERSION")); err != nil || string(got) != Version(ver, commit) {
		t.Errorf("VERSION = %q, want %q (err %v)", got, Version(ver, commit), err)
	}
}

// TestEveryIncludeCopied checks that every quoted #include in the copied
// headers is itself copied, so the cgo preamble never reaches outside.
func TestEveryIncludeCopied(t *testing.T) {
	have := map[string]bool{}
	for _, h := range Headers {
		have[h.Name] = true
	}
	for _, h := range Headers {
		b, err := os.ReadFile(filepath.Join("..", "llama.cpp", "include", h.Name))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range bytes.Split(b, []byte("\n")) {
			line = bytes.TrimSpace(line)
			if !bytes.HasPrefix(line, []byte(`#include "`)) {
				continue
			}
			name := string(bytes.Trim(bytes.TrimPrefix(line, []byte("#include ")), `"`))
			if !have[name] {
				t.Errorf("%s includes %q, which is not copied", h.Name, name)
			}
		}
	}
}
