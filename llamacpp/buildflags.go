package llamacpp

import (
	"runtime/debug"
	"slices"
	"strings"
)

// cgoFlags is the line scripts/llamacpp/cgoflags.sh writes for
// `-ldflags -X github.com/sattva/sattva/llamacpp.cgoFlags=…`: which C/C++
// flags the Makefile and the bench scripts chose for the cgo build of
// llama.cpp and ggml. Empty in a binary built without them (plain go build).
var cgoFlags string

// CompileFlags says how this binary's llama.cpp and ggml were compiled.
type CompileFlags struct {
	// Chosen is scripts/llamacpp/cgoflags.sh's summary recorded at link
	// time ("" when the build did not go through it).
	Chosen string `json:"chosen,omitempty"`
	// CFLAGS, CXXFLAGS and CPPFLAGS are the CGO_* values the Go toolchain
	// recorded in the binary's build information (absent in test binaries).
	CFLAGS   string `json:"cgo_cflags,omitempty"`
	CXXFLAGS string `json:"cgo_cxxflags,omitempty"`
	CPPFLAGS string `json:"cgo_cppflags,omitempty"`
}

// BuildFlags returns how llama.cpp and ggml were compiled into this binary.
func BuildFlags() CompileFlags {
	f := CompileFlags{Chosen: cgoFlags}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "CGO_CFLAGS":
				f.CFLAGS = s.Value
			case "CGO_CXXFLAGS":
				f.CXXFLAGS = s.Value
			case "CGO_CPPFLAGS":
				f.CPPFLAGS = s.Value
			}
		}
	}
	return f
}

// Has reports whether the backend lists feature (e.g. "REPACK", "AVX2").
func (b BackendInfo) Has(feature string) bool {
	for _, f := range b.Features {
		if f == feature || strings.HasPrefix(f, feature+"=") {
			return true
		}
	}
	return false
}

// SIMD reports whether a CPU backend was compiled with vector instructions
// beyond the compiler's baseline (ggml's AVX*, NEON, SVE, … features).
func (b BackendInfo) SIMD() bool {
	return slices.ContainsFunc(b.Features, func(f string) bool {
		for _, p := range []string{"AVX", "F16C", "FMA", "NEON", "SVE", "DOTPROD", "VSX", "RVV", "WASM_SIMD", "LASX", "VXE"} {
			if strings.HasPrefix(f, p) {
				return true
			}
		}
		return false
	})
}

// Buffer is one of the buffers llama.cpp put a model's weights in, as its
// load log names them: "CPU_Mapped", "CPU_REPACK" (weights repacked for the
// CPU's fast kernels), "CUDA0", "CUDA_Host", …
type Buffer struct {
	Name string  `json:"name"`
	MiB  float64 `json:"mib"`
}
