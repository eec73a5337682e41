// Package doctor checks what this machine can do for each stage of sattva's
// pipeline — training (Python, torch with CUDA, transformers, peft,
// bitsandbytes, LLaMA-Factory), local inference (the llama.cpp engine and its
// GPU), serving (Ollama) and disk space — and says how to fix what is missing.
//
// Every probe is bounded: the Python probe runs in a child process with a
// timeout, Ollama is asked with a short HTTP timeout. A missing or broken
// piece becomes a Check with Status Warn or Fail and a Fix; Run itself never
// fails. The package prints nothing.
package doctor

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Status of a check.
type Status string

// The statuses, from best to worst.
const (
	OK   Status = "ok"
	Warn Status = "warn" // works, but a stage is limited (no QLoRA, CPU only, …)
	Fail Status = "fail" // a stage cannot run
	Skip Status = "skip" // not checked (a prerequisite failed)
)

// Stages a check belongs to.
const (
	StageBuild = "build" // this sattva binary
	StageRun   = "run"   // local inference: sattva run, chat, eval, bench
	StageTrain = "train" // the training stage
	StageServe = "serve" // Ollama
	StageDisk  = "disk"
)

// Check is one line of the report. ID is stable across versions (scripts
// match on it); Facts hold machine-readable details.
type Check struct {
	ID      string            `json:"id"`
	Stage   string            `json:"stage"`
	Status  Status            `json:"status"`
	Summary string            `json:"summary"`
	Fix     string            `json:"fix,omitempty"`
	Facts   map[string]string `json:"facts,omitempty"`
}

// Report is the result of Run.
type Report struct {
	Version int     `json:"version"` // of this JSON layout: 1
	Checks  []Check `json:"checks"`
	Counts  Counts  `json:"counts"`
}

// Counts of checks by status.
type Counts struct {
	OK   int `json:"ok"`
	Warn int `json:"warn"`
	Fail int `json:"fail"`
	Skip int `json:"skip"`
}

// Worst returns the worst status in the report (OK for an empty one).
func (r *Report) Worst() Status {
	switch {
	case r.Counts.Fail > 0:
		return Fail
	case r.Counts.Warn > 0:
		return Warn
	}
	return OK
}

// Check returns the check with id, if present.
func (r *Report) Check(id string) (Check, bool) {
	for _, c := range r.Checks {
		if c.ID == id {
			return c, true
		}
	}
	return Check{}, false
}

// Add appends a check (callers add checks of their own, such as a fit of the
// project's training run) and counts it.
func (r *Report) Add(c Check) { r.add(c) }

func (r *Report) add(c Check) {
	r.Checks = append(r.Checks, c)
	switch c.Status {
	case OK:
		r.Counts.OK++
	case Warn:
		r.Counts.Warn++
	case Fail:
		r.Counts.Fail++
	case Skip:
		r.Counts.Skip++
	}
}

// Device is a compute device the inference engine found (llamacpp.BackendInfo's fields).
type Device struct {
	Name, Description, Kind string // Kind: "CPU", "GPU", …
	FreeBytes, TotalBytes   uint64
	Builtin                 bool     // the CPU code compiled into sattva by cgo
	Features                []string // the backend's build features ("AVX2", "REPACK", …)
}

// Options configure Run. The zero value checks everything with defaults.
type Options struct {
	// Engine describes the build's inference engine ("llama.cpp (cgo)" or
	// "none (…)"); HasEngine says whether there is one.
	Engine    string
	HasEngine bool
	// Devices lists the engine's devices (the CLI passes
	// llamacpp.InitBackends); nil skips the device check.
	Devices func() ([]Device, error)
	// BackendDir is where the engine looked for ggml plugins (for messages).
	BackendDir string

	// Python is the interpreter to probe: a path or a name on PATH. ""
	// searches $SATTVA_PYTHON, then python3 and python (and py on Windows).
	Python string
	// ProbeTimeout bounds the Python probe; 0 means 90 s (importing torch on
	// Windows can take half a minute).
	ProbeTimeout time.Duration

	// OllamaHost is Ollama's address; "" means $OLLAMA_HOST or 127.0.0.1:11434.
	OllamaHost string
	// HTTPClient asks Ollama; nil means a client with a 3 s timeout.
	HTTPClient *http.Client

	// BaseModel is the project's base model (a folder or a Hugging Face id in
	// the local cache); "" skips the check.
	BaseModel string

	// Disks are folders where models and outputs go (they need not exist:
	// the nearest existing parent is measured).
	Disks []string

	// Getenv and LookPath default to os.Getenv and exec.LookPath; GOOS to runtime.GOOS.
	Getenv   func(string) string
	LookPath func(string) (string, error)
	GOOS     string
	// BaseDownload is the command that fetches BaseModel (the project's
	// huggingface-cli line), shown when it is not on this machine yet.
	BaseDownload string
}

func (o *Options) defaults() {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.LookPath == nil {
		o.LookPath = exec.LookPath
	}
	if o.GOOS == "" {
		o.GOOS = runtime.GOOS
	}
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = 90 * time.Second
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 3 * time.Second}
	}
}

// Run runs every check. It returns when all probes have finished or timed
// out, or ctx is done.
func Run(ctx context.Context, o Options) *Report {
	o.defaults()
	r := &Report{Version: 1}
	checkEngine(r, &o)
	checkPython(ctx, r, &o)
	checkOllama(ctx, r, &o)
	checkBase(r, &o)
	checkDisks(r, &o)
	return r
}

func checkEngine(r *Report, o *Options) {
	c := Check{ID: "engine", Stage: StageBuild, Facts: map[string]string{"engine": o.Engine, "go": runtime.Version(), "os": o.GOOS + "/" + runtime.GOARCH}}
	if !o.HasEngine {
		c.Status, c.Summary = Warn, "this sattva has no inference engine (built with CGO_ENABLED=0): run, chat, eval and bench are unavailable; data, plan, convert, quantize and export work"
		c.Fix = "use a release build with llama.cpp, or build with CGO_ENABLED=1 and a C compiler: go build ./cmd/sattva"
		r.add(c)
		r.add(Check{ID: "gpu", Stage: StageRun, Status: Skip, Summary: "no inference engine to ask for devices"})
		return
	}
	c.Status, c.Summary = OK, "inference engine: "+o.Engine
	r.add(c)
	if o.Devices == nil {
		r.add(Check{ID: "gpu", Stage: StageRun, Status: Skip, Summary: "devices not checked"})
		return
	}
	devs, err := o.Devices()
	g := Check{ID: "gpu", Stage: StageRun, Facts: map[string]string{}}
	if err != nil {
		g.Status, g.Summary, g.Fix = Fail, "llama.cpp backends did not initialise: "+err.Error(), "check SATTVA_BACKEND_DIR and the ggml plugins in it (make backends)"
		r.add(g)
		return
	}
	var gpu *Device
	simd := false
	for i, d := range devs {
		if (d.Kind == "GPU" || d.Kind == "IGPU") && gpu == nil {
			gpu = &devs[i]
		}
		if d.Kind == "CPU" && (!d.Builtin || hasSIMD(d.Features)) {
			simd = true
		}
	}
	cpuBackend := firstCPU(devs)
	var names []string
	for _, d := range devs {
		names = append(names, d.Name)
	}
	g.Facts["devices"] = strings.Join(names, ",")
	if o.BackendDir != "" {
		g.Facts["backend_dir"] = o.BackendDir
	}
	switch {
	case gpu != nil:
		g.Status = OK
		g.Summary = fmt.Sprintf("GPU %s (%s): %s free of %s", gpu.Name, gpu.Description, gib(gpu.FreeBytes), gib(gpu.TotalBytes))
		g.Facts["gpu"] = gpu.Description
		g.Facts["vram_free_bytes"] = fmt.Sprint(gpu.FreeBytes)
		g.Facts["vram_total_bytes"] = fmt.Sprint(gpu.TotalBytes)
	default:
		g.Status = Warn
		g.Summary = "no GPU backend loaded: llama.cpp runs on the CPU"
		g.Fix = "put ggml's CUDA plugin (libggml-cuda) beside sattva or in $SATTVA_BACKEND_DIR (`make backends` builds it where nvcc is installed)"
		if o.BackendDir != "" {
			g.Fix += "; looked in " + o.BackendDir
		}
	}
	r.add(g)
	if !simd {
		r.add(Check{ID: "cpu-backend", Stage: StageRun, Status: Warn, Summary: "only the built-in CPU code (no SIMD) is loaded: CPU inference is several times slower",
			Fix: "build with `make build` (SIMD for this machine), or put ggml's CPU plugins (libggml-cpu-*) beside sattva or in $SATTVA_BACKEND_DIR (make backends)"})
	}
	if cpuBackend != nil && !slices.Contains(cpuBackend.Features, "REPACK") {
		origin := "plugin"
		if cpuBackend.Builtin {
			origin = "built-in"
		}
		r.add(Check{ID: "cpu-repack", Stage: StageRun, Status: Warn,
			Summary: "the CPU backend llama.cpp uses (" + origin + ") was built without REPACK: Q4_0/Q4_K weights are not repacked and CPU prompts run about 1.7x slower",
			Fix:     "rebuild: `make build` (cgo flags from scripts/llamacpp/cgoflags.sh) and `make backends` (-DGGML_CPU_REPACK=ON)",
			Facts:   map[string]string{"features": strings.Join(cpuBackend.Features, " ")}})
	}
}

// firstCPU is the CPU device llama.cpp computes on: the first listed (a
// plugin's sorts before the built-in one).
func firstCPU(devs []Device) *Device {
	for i := range devs {
		if devs[i].Kind == "CPU" {
			return &devs[i]
		}
	}
	return nil
}

// hasSIMD reports whether backend features name vector instructions.
func hasSIMD(features []string) bool {
	for _, f := range features {
		for _, p := range []string{"AVX", "F16C", "FMA", "NEON", "SVE", "DOTPROD", "VSX", "RVV", "LASX", "VXE"} {
			if strings.HasPrefix(f, p) {
				return true
			}
		}
	}
	return false
}

func gib(b uint64) string { return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30)) }
