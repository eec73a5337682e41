//go:build cgo

package llamacpp

/*
// sattva_built_with_repack reports whether this package was compiled with
// GGML_USE_CPU_REPACK: cgo takes CGO_CPPFLAGS from the environment for every
// cgo package of a build, so it says whether ggml-cpu was too
// (scripts/llamacpp/cgoflags.sh puts it there; a plain go build does not).
static int sattva_built_with_repack(void) {
#ifdef GGML_USE_CPU_REPACK
	return 1;
#else
	return 0;
#endif
}
*/
import "C"

// builtWithRepack reports whether the build defined GGML_USE_CPU_REPACK.
func builtWithRepack() bool { return C.sattva_built_with_repack() == 1 }

// Buffers lists the buffers llama.cpp put the model's weights in, as its load
// log named them: a CPU_REPACK buffer means that weights were repacked for the
// CPU's fast kernels (GGML_USE_CPU_REPACK, see docs/llamacpp.md).
func (m *Model) Buffers() []Buffer { return append([]Buffer(nil), m.buffers...) }

// CPUBackends lists the CPU devices llama.cpp found: the plugins' (if any
// loaded), then the built-in, cgo-compiled one. Their Features say which
// instruction sets and options (REPACK, LLAMAFILE, OPENMP) each was built with.
func CPUBackends() []BackendInfo {
	e := initEngine("", nil)
	var out []BackendInfo
	for _, d := range e.devices {
		if d.Kind == "CPU" {
			out = append(out, d)
		}
	}
	return out
}
