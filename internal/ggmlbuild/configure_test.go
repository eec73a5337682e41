package ggmlbuild

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sattva/sattva/internal/fixture"
)

// TestBackendsConfigure configures the plugin build exactly as `make
// backends` does (make backends-configure, into a temporary folder) and reads
// Ninja's compile lines: every CPU variant's ggml-cpu.cpp must be compiled
// with GGML_USE_CPU_REPACK (llama.cpp's default, which the module's tree
// leaves undefined) and GGML_USE_LLAMAFILE, and without GGML_USE_OPENMP
// (docs/llamacpp.md says why). Configuring takes seconds; building the
// plugins takes many minutes, so CI checks the configuration and the llamacpp
// tests check a built plugin's REPACK feature where one is present
// (SATTVA_BACKEND_DIR). Needs cmake and ninja: under CI=true their absence
// fails, elsewhere it skips.
func TestBackendsConfigure(t *testing.T) {
	for _, tool := range []string{"cmake", "ninja", "make", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not found: .ci/run installs cmake and ninja-build", tool)
			}
			t.Skipf("%s not found (apt-get install -y cmake ninja-build)", tool)
		}
	}
	tmp := t.TempDir()
	src, bld := filepath.Join(tmp, "src"), filepath.Join(tmp, "build")
	cmd := exec.Command("make", "-s", "backends-configure", "BACKEND_SRC="+src, "BACKEND_BUILD="+bld)
	cmd.Dir = fixture.Repo()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make backends-configure: %v\n%s", err, out)
	}
	out, err := exec.Command("ninja", "-C", bld, "-t", "commands").Output()
	if err != nil {
		t.Fatalf("ninja -t commands: %v", err)
	}
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		i := strings.Index(line, " -o ")
		if i < 0 || !strings.Contains(line, " -c ") {
			continue // not a compile line
		}
		target := strings.Fields(line[i+4:])[0]
		if !strings.HasSuffix(target, "/ggml-cpu.cpp.o") {
			continue
		}
		n++
		for _, def := range []string{"-DGGML_USE_CPU_REPACK", "-DGGML_USE_LLAMAFILE", "-DGGML_BACKEND_DL"} {
			if !strings.Contains(line, def+" ") {
				t.Errorf("%s: compiled without %s", target, def)
			}
		}
		if strings.Contains(line, "-DGGML_USE_OPENMP") {
			t.Errorf("%s: compiled with GGML_USE_OPENMP", target)
		}
	}
	if n == 0 {
		t.Fatalf("no ggml-cpu.cpp compile line among Ninja's commands:\n%.2000s", out)
	}
	t.Logf("%d CPU variants configured with GGML_USE_CPU_REPACK and GGML_USE_LLAMAFILE", n)
}
