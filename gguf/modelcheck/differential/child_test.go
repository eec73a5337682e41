//go:build cgo

package differential

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sattva/sattva/llamacpp"
)

// The child process: SATTVA_LOADCHILD=model|adapter, SATTVA_LOADFILE=path,
// SATTVA_LOADBASE=base model for an adapter. It exits childLoaded when
// llama.cpp loaded (and ran) the file, childRefused when Load returned an
// error (sattva's check or llama.cpp's own, gracefully).
const (
	childLoaded  = 0
	childRefused = 3
	childBroken  = 4 // Load accepted a file it then could not use
)

func TestMain(m *testing.M) {
	if mode := os.Getenv("SATTVA_LOADCHILD"); mode != "" {
		os.Exit(child(mode, os.Getenv("SATTVA_LOADFILE"), os.Getenv("SATTVA_LOADBASE")))
	}
	os.Exit(m.Run())
}

func child(mode, path, base string) int {
	o := llamacpp.ModelOptions{CPUOnly: true}
	if mode == "adapter" {
		o.LoRA = []llamacpp.Adapter{{Path: path, Scale: 1}}
		path = base
	}
	vm, err := llamacpp.Load(path, llamacpp.ModelOptions{CPUOnly: true, VocabOnly: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "refused (vocab):", err)
		return childRefused
	}
	vm.Close()
	m, err := llamacpp.Load(path, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "refused:", err)
		return childRefused
	}
	defer m.Close()
	toks, err := m.Tokenize("a b\nthe x", true, true)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tokenize:", err)
		return childBroken
	}
	if _, err := m.Detokenize(toks, false, false); err != nil {
		fmt.Fprintln(os.Stderr, "detokenize:", err)
		return childBroken
	}
	c, err := m.NewContext(llamacpp.ContextOptions{ContextSize: 64, Threads: 1, BatchThreads: 1})
	if err != nil {
		fmt.Fprintln(os.Stderr, "context:", err)
		return childBroken
	}
	defer c.Close()
	for _, err := range c.Generate(context.Background(), toks, llamacpp.GenerateOptions{MaxTokens: 2}) {
		if err != nil {
			fmt.Fprintln(os.Stderr, "generate:", err)
			return childBroken
		}
	}
	return childLoaded
}

// crashMarks are what an abort of llama.cpp or ggml leaves in the output.
var crashMarks = []string{"GGML_ASSERT", "GGML_ABORT", "ggml_print_backtrace", "terminate called", "AddressSanitizer",
	"runtime error:", "SIGSEGV", "SIGABRT", "panic:", "fatal error", "#0 "}

// childResult is how a child ended.
type childResult struct {
	code   int
	signal string
	out    string
}

// runChild loads data (written to a temporary file) in a child process.
func runChild(t testing.TB, mode string, data []byte, base string) childResult {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "in.gguf")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SATTVA_LOADCHILD="+mode, "SATTVA_LOADFILE="+p, "SATTVA_LOADBASE="+base)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	r := childResult{out: out.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.signal = ws.Signal().String()
		}
		r.code = ee.ExitCode()
	default:
		t.Fatalf("child: %v", err)
	}
	if ctx.Err() != nil {
		r.signal = "timeout"
	}
	return r
}

// crashed returns why r is a crash, or "".
func (r childResult) crashed() string {
	if r.signal != "" {
		return "signal " + r.signal
	}
	if r.code != childLoaded && r.code != childRefused {
		return fmt.Sprintf("exit code %d", r.code)
	}
	for _, m := range crashMarks {
		if strings.Contains(r.out, m) {
			return "output has " + strconv(m)
		}
	}
	return ""
}

func strconv(s string) string { return fmt.Sprintf("%q", s) }
