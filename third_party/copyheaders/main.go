// Command copyheaders copies llama.cpp's public C headers from the pinned
// github.com/ollama/ollama module (its vendored llama.cpp and ggml) into
// third_party/llama.cpp/include, and writes VERSION and LICENSE beside them.
// The llamacpp package compiles against these copies; the blank-imported
// module packages supply the matching C and C++ sources.
//
// Run it with `go generate ./third_party/...` from the repository root.
package main

//go:generate go run . -out ../llama.cpp

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// ModulePath is the Go module that vendors llama.cpp.
const ModulePath = "github.com/ollama/ollama"

// Header is one copied header: its path inside the module and its name in
// third_party/llama.cpp/include.
type Header struct{ Src, Name string }

// Headers lists every header the llamacpp package's cgo preamble reaches:
// llama.h and what it includes, and gguf.h; and two of ggml's internal
// headers, which only imatrix.cpp includes: ggml-impl.h (struct ggml_cgraph
// and ggml_graph_view) and ggml-backend-impl.h (struct ggml_backend).
var Headers = []Header{
	{"llama/llama.cpp/include/llama.h", "llama.h"},
	{"ml/backend/ggml/ggml/include/ggml.h", "ggml.h"},
	{"ml/backend/ggml/ggml/include/ggml-alloc.h", "ggml-alloc.h"},
	{"ml/backend/ggml/ggml/include/ggml-backend.h", "ggml-backend.h"},
	{"ml/backend/ggml/ggml/include/ggml-cpu.h", "ggml-cpu.h"},
	{"ml/backend/ggml/ggml/include/ggml-opt.h", "ggml-opt.h"},
	{"ml/backend/ggml/ggml/include/gguf.h", "gguf.h"},
	{"ml/backend/ggml/ggml/src/ggml-impl.h", "ggml-impl.h"},
	{"ml/backend/ggml/ggml/src/ggml-backend-impl.h", "ggml-backend-impl.h"},
}

// LicenseSrc is llama.cpp's MIT licence inside the module.
const LicenseSrc = "llama/llama.cpp/LICENSE"

func main() {
	out := flag.String("out", "../llama.cpp", "destination folder (include/, VERSION and LICENSE go there)")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "copyheaders:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	mod, err := ModuleDir()
	if err != nil {
		return err
	}
	ver, err := ModuleVersion()
	if err != nil {
		return err
	}
	commit, err := LlamaCommit(mod)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(out, "include"), 0o755); err != nil {
		return err
	}
	for _, h := range Headers {
		b, err := os.ReadFile(filepath.Join(mod, filepath.FromSlash(h.Src)))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, "include", h.Name), b, 0o644); err != nil {
			return err
		}
	}
	lic, err := os.ReadFile(filepath.Join(mod, filepath.FromSlash(LicenseSrc)))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "LICENSE"), lic, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "VERSION"), []byte(Version(ver, commit)), 0o644)
}

// Version is the text of third_party/llama.cpp/VERSION.
func Version(moduleVersion, commit string) string {
	return fmt.Sprintf("module %s %s\nllama.cpp %s\n", ModulePath, moduleVersion, commit)
}

// ModuleDir returns the pinned module's folder in the module cache.
func ModuleDir() (string, error) { return goList("{{.Dir}}") }

// ModuleVersion returns the pinned module's version from go.mod.
func ModuleVersion() (string, error) { return goList("{{.Version}}") }

func goList(format string) (string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", format, ModulePath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list -m %s: %v: %s", ModulePath, err, strings.TrimSpace(stderr.String()))
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", errors.New("go list -m " + ModulePath + ": empty answer (is the module downloaded? run go mod download)")
	}
	return s, nil
}

var commitRE = regexp.MustCompile(`LLAMA_COMMIT\s*=\s*"([0-9a-f]+)"`)

// LlamaCommit returns the upstream llama.cpp commit that the module vendors,
// read from its llama/build-info.cpp.
func LlamaCommit(mod string) (string, error) {
	b, err := os.ReadFile(filepath.Join(mod, "llama", "build-info.cpp"))
	if err != nil {
		return "", err
	}
	m := commitRE.FindSubmatch(b)
	if m == nil {
		return "", errors.New("no LLAMA_COMMIT in llama/build-info.cpp")
	}
	return string(m[1]), nil
}
