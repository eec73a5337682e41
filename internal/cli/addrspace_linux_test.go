package cli

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/sattva/sattva/dataset"
)

// addressSpaceLimit is the bound of the robustness bar (`ulimit -v 2000000`,
// in KiB) under which scripts/hostile.sh runs every hostile file.
const addressSpaceLimit = 2000000 << 10

// TestValidateUnderAddressSpaceLimit: the review's reproduction. `data
// validate` of 20 million unique lines in a 10 MB .zst died under `ulimit -v
// 2000000` with "fatal error: out of memory" at 330 MB resident in the cgo
// build: glibc's malloc had reserved a 64 MiB arena for each thread the Go
// runtime started (llamacpp/arenas_linux.c). The duplicate index stops at
// DefaultMaxDuplicateIndex examples, so a file a little past it reaches the
// same peak as 20 million lines. The child (this test binary) sets
// RLIMIT_AS, as the shell's ulimit does, and runs the command with
// GOMAXPROCS=8 whatever the machine, as on an 8-core one: the runtime then
// starts about a dozen threads. Without the arena cap the child dies (four
// runs of four here, 2-core machine); with it VmPeak is 1.70–1.77 GB.
func TestValidateUnderAddressSpaceLimit(t *testing.T) {
	if path := os.Getenv("SATTVA_ADDRSPACE_CHILD"); path != "" {
		lim := syscall.Rlimit{Cur: addressSpaceLimit, Max: addressSpaceLimit}
		if err := syscall.Setrlimit(syscall.RLIMIT_AS, &lim); err != nil {
			fmt.Fprintln(os.Stderr, "setrlimit:", err)
			os.Exit(9)
		}
		code := Main(context.Background(), []string{"data", "validate", "-q", "--max-issues", "0", path}, strings.NewReader(""), os.Stdout, os.Stderr)
		fmt.Printf("exit %d, VmPeak %d kB\n", code, vmPeakKB())
		os.Exit(code)
	}
	if testing.Short() {
		t.Skip("writes and validates 2.2 million lines")
	}
	path := filepath.Join(t.TempDir(), "unique.jsonl.zst")
	lines := dataset.DefaultMaxDuplicateIndex + 100_000
	writeUniqueLines(t, path, lines)

	cmd := exec.Command(os.Args[0], "-test.run=^TestValidateUnderAddressSpaceLimit$")
	cmd.Env = append(os.Environ(), "SATTVA_ADDRSPACE_CHILD="+path, "GOMAXPROCS=8")
	out, err := cmd.CombinedOutput()
	t.Logf("child: %s", lastLine(out))
	if err != nil {
		// Exit 0: only warnings (no lang field); anything else, a Go "fatal
		// error: out of memory" (exit 2) above all, fails.
		t.Fatalf("data validate under RLIMIT_AS of %d MiB: %v\n%s", addressSpaceLimit>>20, err, tailBytes(out, 2000))
	}
	if !strings.Contains(string(out), fmt.Sprintf("%d lines, %d examples", lines, lines)) {
		t.Fatalf("the child did not validate every line:\n%s", tailBytes(out, 2000))
	}
}

// writeUniqueLines writes n distinct alpaca examples, zstd-compressed.
func writeUniqueLines(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw, err := zstd.NewWriter(f, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriterSize(zw, 1<<20)
	for i := range n {
		fmt.Fprintf(bw, `{"instruction":"question %d","output":"answer %d"}`+"\n", i, i)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
}

// vmPeakKB returns this process's peak address space (VmPeak), 0 if unknown.
func vmPeakKB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmPeak:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

func lastLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func tailBytes(b []byte, n int) string {
	if len(b) > n {
		return "…" + string(b[len(b)-n:])
	}
	return string(b)
}
