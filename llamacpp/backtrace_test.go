//go:build cgo

package llamacpp

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestGGMLAbortWritesNoBacktrace aborts a child process inside ggml and
// checks that standard output stays empty (ggml's gdb backtrace went there)
// while the abort message reaches standard error and the exit is a failure.
// With SATTVA_GGML_BACKTRACE=1 and gdb installed, ggml runs the debugger
// again: the same check then sees its output, so it can fail.
func TestGGMLAbortWritesNoBacktrace(t *testing.T) {
	if os.Getenv("SATTVA_TEST_ABORT_CHILD") == "1" {
		abortForTest()
		return
	}
	run := func(extra ...string) (stdout, stderr string) {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^TestGGMLAbortWritesNoBacktrace$", "-test.count=1")
		cmd.Env = append(os.Environ(), append([]string{"SATTVA_TEST_ABORT_CHILD=1"}, extra...)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("child: %v, want a failed exit; stderr:\n%s", err, errb.String())
		}
		return out.String(), errb.String()
	}
	stdout, stderr := run()
	if strings.TrimSpace(stdout) != "" {
		t.Errorf("abort wrote to standard output:\n%s", stdout)
	}
	if !strings.Contains(stderr, "sattva test abort") {
		t.Errorf("abort message missing from standard error:\n%s", stderr)
	}
	if _, err := exec.LookPath("gdb"); err != nil {
		t.Log("no gdb here: the debugger's side of the check does not run")
		return
	}
	stdout, _ = run("SATTVA_GGML_BACKTRACE=1")
	if strings.TrimSpace(stdout) == "" {
		t.Log("with SATTVA_GGML_BACKTRACE=1 gdb printed nothing (ptrace not permitted here?)")
	} else {
		t.Logf("with SATTVA_GGML_BACKTRACE=1 ggml's debugger wrote %d bytes to standard output", len(stdout))
	}
}
