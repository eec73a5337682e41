package doctor

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

//go:embed probe.py
var probeScript string

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
