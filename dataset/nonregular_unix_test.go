//go:build unix

package dataset

import (
	"context"
	"errors"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/sattva/sattva/internal/fileguard"
)

// TestValidateFileRefusesNonRegular: /dev/zero and a FIFO are refused before
// they are read (a FIFO blocked the open itself).
func TestValidateFileRefusesNonRegular(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	for _, p := range []string{"/dev/zero", fifo, t.TempDir()} {
		err := NewValidator(Options{}).ValidateFile(context.Background(), p)
		if !errors.Is(err, fileguard.ErrNotRegular) {
			t.Fatalf("%s: %v", p, err)
		}
	}
}
