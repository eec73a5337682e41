//go:build unix

package cli

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sattva/sattva/internal/atomicfile"
)

// TestSecondSignalExitsAtOnce runs a child (this test binary) that takes the
// signals with SignalContext and then, like a C call that cannot be
// interrupted, ignores its context. The first SIGINT cancels the context;
// the second exits at once with 130 and removes the unfinished atomic
// write's temporary file.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	if os.Getenv("SATTVA_SIGNAL_CHILD") != "" {
		ctx, stop := SignalContext(os.Stderr)
		defer stop()
		f, err := atomicfile.Create(filepath.Join(os.Getenv("SATTVA_SIGNAL_CHILD"), "out"), 0)
		if err != nil {
			os.Exit(9)
		}
		_ = f
		os.Stdout.WriteString("ready\n")
		<-ctx.Done()
		os.Stdout.WriteString("cancelled\n")
		for {
			time.Sleep(time.Hour) // an uninterruptible call
		}
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSecondSignalExitsAtOnce$")
	cmd.Env = append(os.Environ(), "SATTVA_SIGNAL_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(out)
	expect := func(want string) {
		t.Helper()
		if !lines.Scan() || strings.TrimSpace(lines.Text()) != want {
			t.Fatalf("child said %q, want %q", lines.Text(), want)
		}
	}
	expect("ready")
	cmd.Process.Signal(syscall.SIGINT)
	expect("cancelled")
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != ExitInterrupted {
			t.Fatalf("child ended with %v, want exit %d", err, ExitInterrupted)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the second SIGINT did not end the child")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("left behind: %v", ents)
	}
}

// TestFIFOInputsRefused: the review's reproduction. gguf inspect on a FIFO
// blocked in the open (no writer), and Ctrl-C could not stop it. Every
// command that reads a model or a dataset refuses a FIFO up front.
func TestFIFOInputsRefused(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	for _, args := range [][]string{
		{"gguf", "inspect", fifo},
		{"data", "validate", "-q", fifo},
		{"data", "convert", fifo, "--to", "sharegpt", "-o", filepath.Join(t.TempDir(), "o.jsonl")},
		{"quantize", "-q", fifo, filepath.Join(t.TempDir(), "o.gguf"), "Q8_0"},
	} {
		done := make(chan int, 1)
		go func() {
			code, _, _ := runSattva(t, args...)
			done <- code
		}()
		select {
		case code := <-done:
			if code != ExitInvalidInput {
				t.Errorf("%v: exit %d, want %d", args, code, ExitInvalidInput)
			}
		case <-time.After(20 * time.Second):
			// Unblock the open so that the goroutine ends with the test.
			if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				f.Close()
			}
			t.Fatalf("%v: still blocked on the FIFO after 20 s", args)
		}
	}
}
