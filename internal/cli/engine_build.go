package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/sattva/sattva/llamacpp"
)

// engineBuild is what `sattva version` and `sattva bench` say about the
// engine's build: the C flags of the cgo build of llama.cpp/ggml and, for
// every device llama.cpp found, its backend's features (instruction sets,
// REPACK, LLAMAFILE, OPENMP, CUDA options).
type engineBuild struct {
	Flags      llamacpp.CompileFlags  `json:"flags"`
	Devices    []llamacpp.BackendInfo `json:"devices,omitempty"`
	BackendDir string                 `json:"backend_dir,omitempty"`
	SystemInfo string                 `json:"system_info,omitempty"`
}

// engineBuildInfo loads the backends (plugins from the default folder) and
// describes them; nil when the binary has no engine.
func engineBuildInfo() *engineBuild {
	devs, err := llamacpp.InitBackends("", nil)
	if err != nil {
		return nil
	}
	return &engineBuild{Flags: llamacpp.BuildFlags(), Devices: devs, BackendDir: llamacpp.DefaultBackendDir(), SystemInfo: llamacpp.SystemInfo()}
}

// deviceOrigin names where a device's code comes from.
func deviceOrigin(d llamacpp.BackendInfo) string {
	if d.Builtin {
		return "built-in (cgo)"
	}
	return "plugin"
}

func printEngineBuild(w io.Writer, eb *engineBuild) {
	if eb == nil {
		return
	}
	switch {
	case eb.Flags.Chosen != "":
		fmt.Fprintf(w, "cgo build of llama.cpp/ggml: %s\n", eb.Flags.Chosen)
	case eb.Flags.CFLAGS != "" || eb.Flags.CPPFLAGS != "":
		fmt.Fprintf(w, "cgo build of llama.cpp/ggml: CGO_CFLAGS=%q CGO_CXXFLAGS=%q CGO_CPPFLAGS=%q (not chosen by scripts/llamacpp/cgoflags.sh)\n",
			eb.Flags.CFLAGS, eb.Flags.CXXFLAGS, eb.Flags.CPPFLAGS)
	default:
		fmt.Fprintln(w, "cgo build of llama.cpp/ggml: cgo's default flags (-g -O2, no -march, no REPACK): `make build` chooses faster ones")
	}
	for _, d := range eb.Devices {
		fmt.Fprintf(w, "device %s [%s, %s]: %s\n", d.Name, d.Description, deviceOrigin(d), featureLine(d))
	}
	if eb.SystemInfo != "" {
		fmt.Fprintf(w, "llama_print_system_info: %s\n", eb.SystemInfo)
	}
}

// featureLine is a backend's features, with REPACK's absence spelled out
// for CPU backends (it is what makes Q4_0/Q4_K prompts fast).
func featureLine(d llamacpp.BackendInfo) string {
	f := strings.Join(d.Features, " ")
	if f == "" {
		f = "(no features)"
	}
	if d.Kind == "CPU" && !d.Has("REPACK") {
		f += " (no REPACK: Q4_0/Q4_K weights are not repacked)"
	}
	return f
}

// printBenchBuild prints bench's build lines: flags, the other CPU
// backends' features, the weight buffers.
func printBenchBuild(w io.Writer, rep *benchReport) {
	chosen := rep.BuildFlags.Chosen
	if chosen == "" {
		chosen = "cgo's defaults or CGO_* from the environment (not recorded)"
	}
	fmt.Fprintf(w, "engine build: %s\n", chosen)
	for _, d := range rep.CPUBackends {
		if d.Name == rep.Backend.Name && d.Builtin == rep.Backend.Builtin && d.Description == rep.Backend.Description {
			continue
		}
		fmt.Fprintf(w, "also loaded: %s %s (%s; %s)\n", d.Name, d.Description, deviceOrigin(d), featureLine(d))
	}
	var bufs []string
	for _, b := range rep.Buffers {
		bufs = append(bufs, fmt.Sprintf("%s %.1f MiB", b.Name, b.MiB))
	}
	if len(bufs) > 0 {
		fmt.Fprintf(w, "weights: %s\n", strings.Join(bufs, ", "))
	}
}
