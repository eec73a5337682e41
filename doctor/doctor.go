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
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/sattva/sattva/evalrun"
	"github.com/sattva/sattva/hfcache"
	"github.com/sattva/sattva/plan"
)

//go:embed probe.py
var probeScript string

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

// ---- Python ----

// probeResult is probe.py's JSON.
type probeResult struct {
	Python struct {
		Version    string `json:"version"`
		Executable string `json:"executable"`
		Prefix     string `json:"prefix"`
		Venv       bool   `json:"venv"`
	} `json:"python"`
	Modules map[string]probeModule `json:"modules"`
}

type probeModule struct {
	OK            bool   `json:"ok"`
	Version       string `json:"version"`
	Error         string `json:"error"`
	CUDABuild     string `json:"cuda_build"`
	CUDAAvailable bool   `json:"cuda_available"`
	CUDAError     string `json:"cuda_error"`
	DeviceName    string `json:"device_name"`
	DeviceCount   int    `json:"device_count"`
	BF16          bool   `json:"bf16"`
	FreeBytes     int64  `json:"free_bytes"`
	TotalBytes    int64  `json:"total_bytes"`
	CUDAOk        *bool  `json:"cuda_ok"`
}

// findPython returns the interpreter to probe and how it was chosen.
func findPython(o *Options) (cmd []string, how string, tried []string) {
	try := func(name string, args ...string) []string {
		tried = append(tried, name)
		if p, err := o.LookPath(name); err == nil {
			return append([]string{p}, args...)
		}
		return nil
	}
	if o.Python != "" {
		if c := try(o.Python); c != nil {
			return c, "configured", tried
		}
		return nil, "configured", tried
	}
	if p := o.Getenv("SATTVA_PYTHON"); p != "" {
		if c := try(p); c != nil {
			return c, "$SATTVA_PYTHON", tried
		}
		return nil, "$SATTVA_PYTHON", tried
	}
	if o.GOOS == "windows" {
		// python.exe of an activated venv first; the py launcher picks the newest
		// install. The Microsoft Store's python.exe alias (…\WindowsApps\) is not
		// Python: it only opens the Store.
		if c := try("python"); c != nil && !isStoreAlias(c[0]) {
			return c, "PATH", tried
		}
		if c := try("py", "-3"); c != nil {
			return c, "py launcher", tried
		}
		if c := try("python3"); c != nil && !isStoreAlias(c[0]) {
			return c, "PATH", tried
		}
		return nil, "PATH", tried
	}
	if c := try("python3"); c != nil {
		return c, "PATH", tried
	}
	if c := try("python"); c != nil {
		return c, "PATH", tried
	}
	return nil, "PATH", tried
}

// isStoreAlias reports the Microsoft Store's python.exe stub.
func isStoreAlias(path string) bool {
	return strings.Contains(strings.ToLower(strings.ReplaceAll(path, "/", `\`)), `\microsoft\windowsapps\`)
}

// runProbe runs probe.py in the interpreter with a timeout. On timeout the
// error names the module the probe was importing.
func runProbe(ctx context.Context, py []string, timeout time.Duration) (*probeResult, error) {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	args := append(append([]string(nil), py[1:]...), "-c", probeScript)
	cmd := exec.CommandContext(cctx, py[0], args...)
	cmd.Env = append(os.Environ(), "PYTHONIOENCODING=utf-8", "PYTHONDONTWRITEBYTECODE=1")
	cmd.WaitDelay = 2 * time.Second
	setProcessGroup(cmd)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	if cctx.Err() == context.DeadlineExceeded {
		last := "starting"
		sc := bufio.NewScanner(bytes.NewReader(stderr.Bytes()))
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "probing ") {
				last = "importing " + strings.TrimPrefix(l, "probing ")
			}
		}
		return nil, fmt.Errorf("the Python probe timed out after %s while %s", timeout, last)
	}
	// The JSON object starts on the last line that begins with '{' and
	// decodes from there (packages may print before it).
	out := stdout.Bytes()
	var pr probeResult
	found, decodeErr := false, error(nil)
	for end := len(out); end >= 0 && !found; {
		i := bytes.LastIndex(out[:end], []byte("\n{"))
		start := i + 1
		if i < 0 {
			if !bytes.HasPrefix(out, []byte("{")) {
				break
			}
			start = 0
		}
		var cand probeResult
		if e := json.NewDecoder(bytes.NewReader(out[start:])).Decode(&cand); e == nil {
			pr, found = cand, true
		} else if decodeErr == nil {
			decodeErr = e
		}
		if i < 0 {
			break
		}
		end = i
	}
	if !found {
		msg := lastLine(stderr.String())
		switch {
		case decodeErr != nil:
			return nil, fmt.Errorf("the Python probe printed something that is not its JSON: %v", decodeErr)
		case err != nil:
			return nil, fmt.Errorf("the Python probe failed (%v): %s", err, msg)
		}
		return nil, fmt.Errorf("the Python probe printed no result: %s", msg)
	}
	if pr.Modules == nil {
		pr.Modules = map[string]probeModule{}
	}
	return &pr, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	if s == "" {
		s = "(no output)"
	}
	return s
}

func checkPython(ctx context.Context, r *Report, o *Options) {
	py, how, tried := findPython(o)
	c := Check{ID: "python", Stage: StageTrain, Facts: map[string]string{"found_by": how}}
	if py == nil {
		c.Status = Fail
		c.Summary = fmt.Sprintf("no Python interpreter (tried %s)", strings.Join(tried, ", "))
		c.Fix = "install Python 3.10 or 3.11 and create a venv for training (python -m venv); point sattva at it with --python or SATTVA_PYTHON"
		if o.GOOS == "windows" {
			c.Fix = "install Python 3.10 or 3.11 from python.org (the Microsoft Store's python.exe alias is not Python), create a venv (py -3.10 -m venv D:\\venvs\\sattva) and pass --python D:\\venvs\\sattva\\Scripts\\python.exe or set SATTVA_PYTHON"
		}
		r.add(c)
		for _, id := range []string{"torch", "transformers", "peft", "accelerate", "bitsandbytes", "llamafactory"} {
			r.add(Check{ID: "python." + id, Stage: StageTrain, Status: Skip, Summary: "no Python"})
		}
		return
	}
	c.Facts["interpreter"] = strings.Join(py, " ")
	pr, err := runProbe(ctx, py, o.ProbeTimeout)
	if err != nil {
		c.Status, c.Summary = Fail, fmt.Sprintf("%s: %v", strings.Join(py, " "), err)
		c.Fix = "run the interpreter by hand (" + strings.Join(py, " ") + " -c \"import torch\") to see what hangs or fails; a broken package can be reinstalled with pip install --force-reinstall"
		r.add(c)
		for _, id := range []string{"torch", "transformers", "peft", "accelerate", "bitsandbytes", "llamafactory"} {
			r.add(Check{ID: "python." + id, Stage: StageTrain, Status: Skip, Summary: "the probe did not finish"})
		}
		return
	}
	c.Facts["version"] = pr.Python.Version
	c.Facts["executable"] = pr.Python.Executable
	c.Facts["venv"] = fmt.Sprint(pr.Python.Venv)
	c.Status = OK
	c.Summary = fmt.Sprintf("Python %s at %s", pr.Python.Version, pr.Python.Executable)
	if pr.Python.Venv {
		c.Summary += " (venv)"
	}
	if !versionAtLeast(pr.Python.Version, 3, 9) {
		c.Status, c.Fix = Fail, "torch, transformers and LLaMA-Factory need Python 3.9 or newer (3.10 or 3.11 recommended)"
	} else if !pr.Python.Venv {
		c.Fix = forOS(o.GOOS, "a venv keeps training packages apart from the system: py -3.11 -m venv %USERPROFILE%\\venvs\\sattva",
			"a venv keeps training packages apart from the system: python3 -m venv ~/venvs/sattva && . ~/venvs/sattva/bin/activate")
	}
	r.add(c)

	m := pr.Modules
	// torch
	t := m["torch"]
	tc := Check{ID: "python.torch", Stage: StageTrain, Facts: map[string]string{}}
	cudaOK := false
	switch {
	case !t.OK:
		tc.Status, tc.Summary = Fail, "torch not importable: "+orMissing(t.Error)
		tc.Fix = "install the CUDA build: pip install torch --index-url https://download.pytorch.org/whl/cu124 (pick the cuXXX your driver supports)"
	case t.CUDABuild == "":
		tc.Status, tc.Summary = Fail, fmt.Sprintf("torch %s is a CPU-only build", t.Version)
		tc.Fix = "reinstall the CUDA build: pip uninstall torch; pip install torch --index-url https://download.pytorch.org/whl/cu124"
	case !t.CUDAAvailable:
		tc.Status, tc.Summary = Fail, fmt.Sprintf("torch %s (CUDA %s) sees no GPU", t.Version, t.CUDABuild)
		if t.CUDAError != "" {
			tc.Summary += ": " + t.CUDAError
		}
		tc.Fix = "update the NVIDIA driver to one that supports CUDA " + t.CUDABuild + " (nvidia-smi shows the driver's CUDA version), or install a torch build for an older CUDA"
	default:
		cudaOK = true
		tc.Status = OK
		tc.Summary = fmt.Sprintf("torch %s, CUDA %s, %s (%s free of %s)", t.Version, t.CUDABuild, t.DeviceName, gib(uint64(max(t.FreeBytes, 0))), gib(uint64(max(t.TotalBytes, 0))))
		if !t.BF16 {
			tc.Status = Warn
			tc.Summary += ", no bf16"
			tc.Fix = "this GPU has no bf16: set bf16: false (fp16 training) in sattva.yaml"
		}
		tc.Facts["device"] = t.DeviceName
		tc.Facts["vram_free_bytes"] = fmt.Sprint(t.FreeBytes)
		tc.Facts["vram_total_bytes"] = fmt.Sprint(t.TotalBytes)
	}
	if t.OK {
		tc.Facts["version"] = t.Version
		tc.Facts["cuda"] = t.CUDABuild
	}
	r.add(tc)

	for _, p := range []struct {
		name   string
		status Status
		why    string
	}{
		{"transformers", Fail, "both trainers need it"},
		{"peft", Fail, "LoRA adapters need it"},
		{"accelerate", Warn, "LLaMA-Factory needs it; the fallback trainer does not"},
	} {
		x := m[p.name]
		ch := Check{ID: "python." + p.name, Stage: StageTrain}
		if x.OK {
			ch.Status, ch.Summary = OK, p.name+" "+x.Version
			ch.Facts = map[string]string{"version": x.Version}
		} else {
			ch.Status, ch.Summary = p.status, fmt.Sprintf("%s not importable (%s): %s", p.name, p.why, orMissing(x.Error))
			ch.Fix = "pip install " + p.name
		}
		r.add(ch)
	}

	b := m["bitsandbytes"]
	bc := Check{ID: "python.bitsandbytes", Stage: StageTrain, Facts: map[string]string{}}
	switch {
	case !b.OK:
		bc.Status, bc.Summary = Warn, "bitsandbytes not importable: no QLoRA (quantization_bit: 4), plain LoRA only: "+orMissing(b.Error)
		bc.Fix = forOS(o.GOOS, "pip install -U bitsandbytes (Windows wheels ship since 0.43; a CUDA build of torch must be installed first)",
			"pip install -U bitsandbytes (a CUDA build of torch must be installed first)")
	case b.CUDAOk != nil && *b.CUDAOk:
		bc.Status, bc.Summary = OK, fmt.Sprintf("bitsandbytes %s, its CUDA library quantizes NF4", b.Version)
	default:
		bc.Status = Warn
		bc.Summary = fmt.Sprintf("bitsandbytes %s imports but its CUDA library does not work: %s", b.Version, orMissing(b.CUDAError))
		bc.Fix = forOS(o.GOOS, "pip install -U bitsandbytes (0.43 or newer, built for your CUDA)", "pip install -U bitsandbytes (a version built for your CUDA)") +
			"; until then use quantization_bit: 0 (LoRA), which needs about 2× the VRAM for the base"
		if !cudaOK {
			bc.Fix = "fix torch's CUDA first (see python.torch)"
		}
	}
	if b.OK {
		bc.Facts["version"] = b.Version
	}
	r.add(bc)

	lf := m["llamafactory"]
	lc := Check{ID: "python.llamafactory", Stage: StageTrain, Facts: map[string]string{}}
	cli, cliErr := o.LookPath("llamafactory-cli")
	beside := besideInterpreter(pr.Python.Executable, "llamafactory-cli", o.GOOS)
	switch {
	case !lf.OK:
		lc.Status = Warn
		lc.Summary = "LLaMA-Factory not installed: sattva train uses its fallback trainer (scripts/train/sft_lora.py): " + orMissing(lf.Error)
		lc.Fix = "pip install llamafactory (the package is llamafactory, not llama-factory)"
	case cliErr == nil:
		lc.Status, lc.Summary = OK, fmt.Sprintf("LLaMA-Factory %s, llamafactory-cli at %s", lf.Version, cli)
		lc.Facts["cli"] = cli
	case beside != "":
		lc.Status = Warn
		lc.Summary = fmt.Sprintf("LLaMA-Factory %s is installed but llamafactory-cli is not on PATH (it is at %s)", lf.Version, beside)
		lc.Fix = "activate the venv first (" + activateHint(pr.Python.Prefix, o.GOOS) + ") or add " + filepath.Dir(beside) + " to PATH"
	default:
		lc.Status = Warn
		lc.Summary = fmt.Sprintf("LLaMA-Factory %s is installed but llamafactory-cli is not on PATH", lf.Version)
		lc.Fix = "pip install --force-reinstall llamafactory, then activate the venv"
	}
	if lf.OK {
		lc.Facts["version"] = lf.Version
	}
	r.add(lc)
}

func orMissing(s string) string {
	if s == "" {
		return "not installed"
	}
	return s
}

// besideInterpreter returns the path of a console script installed next to
// the interpreter (bin/ or Scripts\), or "".
func besideInterpreter(exe, name, goos string) string {
	if exe == "" {
		return ""
	}
	dir := filepath.Dir(exe)
	cands := []string{filepath.Join(dir, name)}
	if goos == "windows" {
		cands = []string{filepath.Join(dir, name+".exe"), filepath.Join(dir, "Scripts", name+".exe")}
	}
	for _, c := range cands {
		if fi, err := os.Stat(c); err == nil && !fi.IsDir() {
			return c
		}
	}
	return ""
}

func activateHint(prefix, goos string) string {
	if goos == "windows" {
		return prefix + `\Scripts\Activate.ps1`
	}
	return "source " + prefix + "/bin/activate"
}

// versionAtLeast compares a "3.11.7" version with major.minor.
func versionAtLeast(v string, major, minor int) bool {
	var a, b int
	if n, _ := fmt.Sscanf(v, "%d.%d", &a, &b); n < 2 {
		return false
	}
	return a > major || a == major && b >= minor
}

// ---- Ollama ----

func checkOllama(ctx context.Context, r *Report, o *Options) {
	c := Check{ID: "ollama", Stage: StageServe, Facts: map[string]string{}}
	host := o.OllamaHost
	if host == "" {
		host = o.Getenv("OLLAMA_HOST")
	}
	u, err := evalrun.OllamaURL(host)
	if err != nil {
		c.Status, c.Summary, c.Fix = Warn, err.Error(), "set OLLAMA_HOST to host:port, e.g. 127.0.0.1:11434"
		r.add(c)
		return
	}
	c.Facts["url"] = u.String()
	bin, binErr := o.LookPath("ollama")
	if binErr == nil {
		c.Facts["binary"] = bin
	}
	v, err := ollamaVersion(ctx, o.HTTPClient, u)
	switch {
	case err == nil:
		c.Status, c.Summary = OK, fmt.Sprintf("Ollama %s at %s", v, u)
		c.Facts["version"] = v
	case binErr == nil:
		c.Status, c.Summary = Warn, fmt.Sprintf("Ollama is installed (%s) but not answering at %s: %v", bin, u, err)
		c.Fix = forOS(o.GOOS, "start the Ollama app (or: ollama serve); if it listens elsewhere, set OLLAMA_HOST",
			"start it: ollama serve (or systemctl start ollama where it is a service); if it listens elsewhere, set OLLAMA_HOST")
	default:
		c.Status, c.Summary = Warn, fmt.Sprintf("Ollama not found on PATH and not answering at %s (%v); sattva export still writes the GGUF and Modelfile", u, err)
		c.Fix = forOS(o.GOOS, "install Ollama with its Windows installer from ollama.com, then: ollama create NAME -f Modelfile",
			"install Ollama (ollama.com/download: the install script on Linux, the app on macOS), then: ollama create NAME -f Modelfile")
	}
	r.add(c)
}

// ollamaVersion asks GET /api/version.
func ollamaVersion(ctx context.Context, hc *http.Client, base *url.URL) (string, error) {
	u := *base
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/version"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP %d from %s", resp.StatusCode, u.String())
	}
	var v struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.Version == "" {
		return "", fmt.Errorf("%s answered, but not like Ollama (%q)", u.String(), lastLine(string(body)))
	}
	return v.Version, nil
}

// ---- base model ----

const StageModel = "model"

func checkBase(r *Report, o *Options) {
	if o.BaseModel == "" {
		return
	}
	c := Check{ID: "base", Stage: StageModel, Facts: map[string]string{"ref": o.BaseModel}}
	m, err := hfcache.Resolve(o.BaseModel, hfcache.Options{Getenv: o.Getenv, GOOS: o.GOOS})
	switch {
	case errors.Is(err, hfcache.ErrNotFound):
		c.Status, c.Summary = Fail, "base model "+o.BaseModel+" is not downloaded yet"
		c.Fix = "download it once (accept the licence on huggingface.co first): "
		if o.BaseDownload != "" {
			c.Fix += o.BaseDownload
		} else {
			c.Fix += "huggingface-cli download meta-llama/Llama-3.1-8B --local-dir models/llama-3.1-8b"
		}
		c.Fix += ", or set base: in sattva.yaml to the folder"
	case err != nil:
		c.Status, c.Summary = Fail, "base model: "+err.Error()
	case m.Kind == hfcache.KindGGUF:
		c.Status, c.Summary = Fail, "base model "+m.Path+" is a GGUF file; training and merging need the Hugging Face folder"
		c.Fix = "point base: at the Hugging Face folder (config.json, *.safetensors, tokenizer files)"
	default:
		c.Facts["path"] = m.Path
		shape, err := plan.ShapeFromDir(m.Path)
		if err != nil {
			c.Status, c.Summary = Fail, fmt.Sprintf("base model at %s: %v", m.Path, err)
			c.Fix = "the folder must hold the model's config.json, *.safetensors and tokenizer files"
			break
		}
		weights, _ := filepath.Glob(filepath.Join(m.Path, "*.safetensors"))
		c.Status = OK
		c.Summary = fmt.Sprintf("base model %s: %d layers, hidden %d, %.2fB params", m.Path, shape.Layers, shape.Hidden, float64(shape.Params())/1e9)
		if len(weights) == 0 {
			c.Status, c.Fix = Fail, "no *.safetensors beside config.json: the download is incomplete"
		}
	}
	r.add(c)
}

// ---- disks ----

// Disk thresholds: an 8B export keeps the merged HF model (16 GB), the F16
// GGUF (16 GB), q4_K_M (4.9 GB) and q8_0 (8.5 GB) beside the 16 GB base.
const (
	diskWarn = 50 << 30
	diskFail = 10 << 30
)

func checkDisks(r *Report, o *Options) {
	seen := map[string]bool{}
	for _, d := range o.Disks {
		p := nearestExisting(d)
		c := Check{ID: "disk:" + d, Stage: StageDisk, Facts: map[string]string{"path": p}}
		free, total, err := diskFree(p)
		if err != nil {
			c.Status, c.Summary = Warn, fmt.Sprintf("free space at %s unknown: %v", d, err)
			r.add(c)
			continue
		}
		if key := volumeID(p); key != "" {
			if seen[key] {
				continue // same file system as a folder already reported
			}
			seen[key] = true
		}
		c.Facts["free_bytes"] = fmt.Sprint(free)
		c.Facts["total_bytes"] = fmt.Sprint(total)
		c.Summary = fmt.Sprintf("%s free at %s (of %s)", gib(free), d, gib(total))
		switch {
		case free < diskFail:
			c.Status = Fail
			c.Fix = "free space: an 8B model needs about 16 GB for the base and 50 GB more for merge and export (merged, F16 GGUF, q4_K_M, q8_0)"
		case free < diskWarn:
			c.Status = Warn
			c.Fix = "an 8B export needs about 50 GB (merged model 16 GB, F16 GGUF 16 GB, q4_K_M 4.9 GB, q8_0 8.5 GB); delete old exports or use export.types: [q4_K_M]"
		default:
			c.Status = OK
		}
		r.add(c)
	}
}

// nearestExisting returns p or its nearest existing parent.
func nearestExisting(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	for {
		if _, err := os.Stat(abs); err == nil {
			return abs
		}
		parent := filepath.Dir(abs)
		if parent == abs {
			return abs
		}
		abs = parent
	}
}

// forOS picks the hint for the platform the checks run for.
func forOS(goos, windows, other string) string {
	if goos == "windows" {
		return windows
	}
	return other
}
