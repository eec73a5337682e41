package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/sattva/sattva/internal/atomicfile"
)

// SignalContext returns a context cancelled by the first SIGINT or SIGTERM:
// the running command stops at its next check and cleans up (no output is
// renamed into place after it). A second signal exits the process at once
// with ExitInterrupted, whatever is running, even a C call that cannot be
// interrupted; the temporary files of unfinished atomic writes are removed
// first. stop releases the signals.
func SignalContext(errOut io.Writer) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sig:
		case <-done:
			return
		}
		cancel()
		fmt.Fprintln(errOut, "\nsattva: interrupted; stopping (press Ctrl-C again to exit now)")
		select {
		case <-sig:
		case <-done:
			return
		}
		atomicfile.RemoveTemporaries()
		fmt.Fprintln(errOut, "sattva: exiting now")
		os.Exit(ExitInterrupted)
	}()
	return ctx, func() {
		signal.Stop(sig)
		close(done)
		cancel()
	}
}
