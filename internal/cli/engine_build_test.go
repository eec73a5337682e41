package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sattva/sattva/llamacpp"
)

func TestEngineBuildLines(t *testing.T) {
	noRepack := llamacpp.BackendInfo{Name: "CPU", Kind: "CPU", Description: "EPYC", Builtin: true, Features: []string{"LLAMAFILE"}}
	repack := llamacpp.BackendInfo{Name: "CPU", Kind: "CPU", Description: "EPYC", Features: []string{"AVX2", "REPACK"}}
	cuda := llamacpp.BackendInfo{Name: "CUDA0", Kind: "GPU", Description: "H200", Features: []string{"USE_GRAPHS"}}
	if got := featureLine(noRepack); !strings.Contains(got, "no REPACK") {
		t.Errorf("featureLine without REPACK: %q", got)
	}
	if got := featureLine(repack); strings.Contains(got, "no REPACK") || !strings.Contains(got, "AVX2 REPACK") {
		t.Errorf("featureLine with REPACK: %q", got)
	}
	if got := featureLine(cuda); strings.Contains(got, "REPACK") {
		t.Errorf("a GPU's features do not speak of REPACK: %q", got)
	}
	var b bytes.Buffer
	printEngineBuild(&b, &engineBuild{Flags: llamacpp.CompileFlags{Chosen: "SATTVA_CPU=native; CGO_CFLAGS=CGO_CXXFLAGS=-O3 -march=native"},
		Devices: []llamacpp.BackendInfo{repack, noRepack}})
	out := b.String()
	for _, want := range []string{"cgo build of llama.cpp/ggml: SATTVA_CPU=native", "device CPU [EPYC, plugin]: AVX2 REPACK", "device CPU [EPYC, built-in (cgo)]: LLAMAFILE (no REPACK"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	b.Reset()
	printEngineBuild(&b, &engineBuild{})
	if !strings.Contains(b.String(), "cgo's default flags") {
		t.Errorf("unrecorded flags: %s", b.String())
	}
}
