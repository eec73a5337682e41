//go:build cgo

package llamacpp

/*
#cgo CPPFLAGS: -I${SRCDIR}/../third_party/llama.cpp/include
#cgo CFLAGS: -O3
#cgo LDFLAGS: -ldl
#cgo linux windows LDFLAGS: -Wl,--wrap=ggml_backend_free
#include "helpers.h"
*/
import "C"

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/cgo"
	"strings"
	"sync"
	"unsafe"

	// llama.cpp and ggml's C/C++ sources, as vendored by the pinned module.
	_ "github.com/ollama/ollama/llama/llama.cpp/src"
	_ "github.com/ollama/ollama/ml/backend/ggml/ggml/src"
)

// BackendDirEnv names the environment variable that points at ggml's
// backend plugins.
const BackendDirEnv = "SATTVA_BACKEND_DIR"

// engine is the process-wide llama.cpp state, made once by InitBackends.
type engine struct {
	sink    *logSink
	handle  cgo.Handle // of sink, passed to llama_log_set; lives as long as the process
	dir     string     // plugin folder searched
	devices []BackendInfo
	loadMu  sync.Mutex // serialises model loads so a failure's log line is its own
}

var engineOnce struct {
	once sync.Once
	e    *engine
}

// DefaultBackendDir returns the folder InitBackends("") searches:
// $SATTVA_BACKEND_DIR, else lib/ollama beside the executable.
func DefaultBackendDir() string {
	if d := os.Getenv(BackendDirEnv); d != "" {
		return d
	}
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	return filepath.Join(filepath.Dir(exe), "lib", "ollama")
}

// InitBackends initialises llama.cpp once per process: it routes llama.cpp's
// log to log (nil discards), loads ggml's backend plugins (libggml-cpu-*.so,
// libggml-cuda.so, …) from dir ("" means DefaultBackendDir) and returns the
// devices found, best first. Later calls return the same devices; a non-nil
// log replaces the logger. Plugins load once per process: a later call that
// names another folder than the one loaded (Load initialises with the
// default folder when nothing did before) returns the devices with an error
// that errors.Is(ErrBackendDir) instead of being ignored. The log is process-wide: it must stay usable for as
// long as llama.cpp runs (not a testing.T's, which dies with its test). When the folder holds no plugin, or none loads,
// it warns and the built-in (cgo-compiled) CPU code runs.
func InitBackends(dir string, log *slog.Logger) ([]BackendInfo, error) {
	e := initEngine(dir, log)
	if log != nil {
		e.sink.setLogger(log)
	}
	devs := append([]BackendInfo(nil), e.devices...)
	if dir != "" && filepath.Clean(dir) != filepath.Clean(e.dir) {
		return devs, fmt.Errorf("%w: loaded from %s, not %s", ErrBackendDir, e.dir, dir)
	}
	return devs, nil
}

func initEngine(dir string, log *slog.Logger) *engine {
	engineOnce.once.Do(func() {
		if log == nil {
			log = discard
		}
		e := &engine{sink: newLogSink(log)}
		e.handle = cgo.NewHandle(e.sink)
		C.sattva_log_set(C.uintptr_t(e.handle))
		if dir == "" {
			dir = DefaultBackendDir()
		}
		e.dir = dir
		plugins, _ := filepath.Glob(filepath.Join(dir, "libggml-*"+soExt))
		if dir != "" && len(plugins) > 0 {
			if base := filepath.Join(dir, "libggml-base"+soExt); fileExists(base) {
				cbase := C.CString(base)
				C.sattva_route_plugin_log(cbase, C.uintptr_t(e.handle))
				C.free(unsafe.Pointer(cbase))
			}
			cdir := C.CString(dir)
			C.ggml_backend_load_all_from_path(cdir)
			C.free(unsafe.Pointer(cdir))
		}
		C.llama_backend_init()
		e.devices = listDevices()
		var loaded bool
		for _, d := range e.devices {
			if !d.Builtin {
				loaded = true
			}
		}
		// The built-in CPU code has SIMD when the build chose an instruction
		// set (scripts/llamacpp/cgoflags.sh: make build); a plain go build
		// compiles it for the baseline.
		builtin := "the built-in CPU code without SIMD (slow)"
		for _, d := range e.devices {
			if d.Builtin && d.SIMD() {
				builtin = "the built-in CPU code (" + strings.Join(d.Features, " ") + ")"
			}
		}
		switch {
		case len(plugins) == 0:
			log.Warn("llamacpp: no ggml backend plugins found; using "+builtin+". Build them with `make backends` or set "+BackendDirEnv, "dir", dir)
		case !loaded:
			log.Warn("llamacpp: ggml backend plugins found but none loaded (wrong glibc or CPU?); using "+builtin, "dir", dir, "files", len(plugins))
		default:
			for _, d := range e.devices {
				if !d.Builtin {
					log.Info("llamacpp: backend", "device", d.Name, "description", d.Description, "kind", d.Kind, "dir", dir)
				}
			}
		}
		engineOnce.e = e
	})
	return engineOnce.e
}

const soExt = ".so"

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func listDevices() []BackendInfo {
	builtin := C.ggml_backend_cpu_reg()
	n := int(C.ggml_backend_dev_count())
	out := make([]BackendInfo, 0, n)
	var names, values [64]*C.char
	for i := 0; i < n; i++ {
		dev := C.ggml_backend_dev_get(C.size_t(i))
		var free, total C.size_t
		C.ggml_backend_dev_memory(dev, &free, &total)
		bi := BackendInfo{
			Name:        C.GoString(C.ggml_backend_dev_name(dev)),
			Description: C.GoString(C.ggml_backend_dev_description(dev)),
			Kind:        devKind(C.ggml_backend_dev_type(dev)),
			FreeBytes:   uint64(free),
			TotalBytes:  uint64(total),
			Builtin:     C.ggml_backend_dev_backend_reg(dev) == builtin,
		}
		nf := int(C.sattva_dev_features(dev, &names[0], &values[0], C.int(len(names))))
		for j := 0; j < nf; j++ {
			name, val := C.GoString(names[j]), C.GoString(values[j])
			if val == "1" {
				bi.Features = append(bi.Features, name)
			} else {
				bi.Features = append(bi.Features, name+"="+val)
			}
		}
		out = append(out, bi)
	}
	return out
}

func devKind(t C.enum_ggml_backend_dev_type) string {
	switch t {
	case C.GGML_BACKEND_DEVICE_TYPE_CPU:
		return "CPU"
	case C.GGML_BACKEND_DEVICE_TYPE_GPU:
		return "GPU"
	case C.GGML_BACKEND_DEVICE_TYPE_IGPU:
		return "IGPU"
	default:
		return "ACCEL"
	}
}

// SystemInfo returns llama.cpp's llama_print_system_info line: every loaded
// backend and its features.
func SystemInfo() string {
	initEngine("", nil)
	return strings.TrimSpace(C.GoString(C.llama_print_system_info()))
}

func cBool(b bool) C.bool { return C.bool(b) }

func errorf(format string, args ...any) error { return fmt.Errorf("llamacpp: "+format, args...) }

// wrapActive reports whether ggml_backend_free goes through freeorder.c's wrapper.
func wrapActive() bool { return C.sattva_wrap_active() == 1 }
