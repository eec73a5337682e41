package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/sattva/sattva/internal/fixture"
	"github.com/sattva/sattva/llamacpp"
)

// signalWhen is a context that is cancelled, as by a Ctrl-C, at the first
// check of Err after cond holds. It places the signal at a point of the
// command's work that a test can name (a temporary file exists: during the
// write; the output exists: after the rename) instead of at a time.
type signalWhen struct {
	context.Context
	cond   func() bool
	mu     sync.Mutex
	done   chan struct{}
	cancel bool
}

func newSignalWhen(cond func() bool) *signalWhen {
	return &signalWhen{Context: context.Background(), cond: cond, done: make(chan struct{})}
}

func (c *signalWhen) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.cancel && c.cond() {
		c.cancel = true
		close(c.done)
	}
	if c.cancel {
		return context.Canceled
	}
	return nil
}

func (c *signalWhen) Done() <-chan struct{} { return c.done }

// temporaryIn reports whether dir holds an atomic write's temporary file.
func temporaryIn(dir string) func() bool {
	return func() bool {
		m, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
		return len(m) > 0
	}
}

func mainCtx(ctx context.Context, args ...string) (int, string) {
	var out, errb bytes.Buffer
	code := Main(ctx, args, strings.NewReader(""), &out, &errb)
	return code, errb.String()
}

// TestQuantizeInterruptKeepsOutput: the review's reproduction. quantize
// --engine llamacpp ignored SIGINT, ran on, replaced the existing output
// (leaving it mode 0600) and exited 130. A signal during the quantization
// now leaves the earlier output as it was, no temporary file, and exits 130.
func TestQuantizeInterruptKeepsOutput(t *testing.T) {
	in := fixture.Path(t, "stories260K/ref/stories260K-f32.ref.gguf")
	engines := []string{"go"}
	if _, err := llamacpp.InitBackends("", nil); err == nil {
		engines = append(engines, "llamacpp")
	}
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "q.gguf")
			old := []byte("an earlier output")
			if err := os.WriteFile(out, old, 0o640); err != nil {
				t.Fatal(err)
			}
			ctx := newSignalWhen(temporaryIn(dir))
			code, errs := mainCtx(ctx, "quantize", "-q", "--engine", engine, in, out, "Q4_K_M")
			if code != ExitInterrupted {
				t.Fatalf("exit %d, want %d: %s", code, ExitInterrupted, errs)
			}
			if !ctx.cancel {
				t.Fatal("the command never checked its context while its temporary file existed")
			}
			unchanged(t, out, old)
			if st, _ := os.Stat(out); st.Mode().Perm() != 0o640 {
				t.Errorf("output mode %v, want 0640", st.Mode().Perm())
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 1 {
				t.Errorf("left behind: %v", ents)
			}
		})
	}
}

// TestConvertSignalAfterRename: the review's reproduction. convert
// interrupted during the final rename left the new file in place and exited
// 130. A signal that comes once the output is in place means the command
// finished: exit 0; one that comes during the write leaves nothing and
// exits 130.
func TestConvertSignalAfterRename(t *testing.T) {
	hf := fixture.Path(t, "stories260K/hf")
	dir := t.TempDir()
	out := filepath.Join(dir, "m.gguf")
	exists := func() bool { _, err := os.Stat(out); return err == nil }
	ctx := newSignalWhen(exists)
	if code, errs := mainCtx(ctx, "convert", hf, "-o", out, "-q", "--outtype", "f32"); code != ExitOK {
		t.Fatalf("signal after the rename: exit %d, want 0: %s", code, errs)
	}
	if !exists() {
		t.Fatal("no output")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("left behind: %v", ents)
	}

	dir = t.TempDir()
	out = filepath.Join(dir, "m.gguf")
	ctx = newSignalWhen(temporaryIn(dir))
	if code, errs := mainCtx(ctx, "convert", hf, "-o", out, "-q", "--outtype", "f32"); code != ExitInterrupted {
		t.Fatalf("signal during the write: exit %d, want %d: %s", code, ExitInterrupted, errs)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
}
