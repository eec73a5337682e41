package doctor

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

const goodProbe = `{"python": {"version": "3.10.11", "executable": "EXE", "prefix": "PREFIX", "venv": true},
 "modules": {
  "torch": {"ok": true, "version": "2.5.1+cu124", "cuda_build": "12.4", "cuda_available": true, "device_count": 1,
            "device_name": "NVIDIA GeForce RTX 4060 Ti", "bf16": true, "free_bytes": 16106127360, "total_bytes": 17175674880},
  "transformers": {"ok": true, "version": "4.46.1"},
  "peft": {"ok": true, "version": "0.13.2"},
  "accelerate": {"ok": true, "version": "1.1.0"},
  "datasets": {"ok": true, "version": "3.1.0"},
  "bitsandbytes": {"ok": true, "version": "0.44.1", "cuda_ok": true},
  "llamafactory": {"ok": true, "version": "0.9.1"}}}`

const bareProbe = `{"python": {"version": "3.10.11", "executable": "EXE", "prefix": "PREFIX", "venv": false},
 "modules": {
  "torch": {"ok": false, "error": "ModuleNotFoundError: No module named 'torch'"},
  "transformers": {"ok": false, "error": "ModuleNotFoundError: No module named 'transformers'"},
  "peft": {"ok": false, "error": "ModuleNotFoundError: No module named 'peft'"},
  "accelerate": {"ok": false, "error": "ModuleNotFoundError: No module named 'accelerate'"},
  "datasets": {"ok": false, "error": "ModuleNotFoundError: No module named 'datasets'"},
  "bitsandbytes": {"ok": false, "error": "ModuleNotFoundError: No module named 'bitsandbytes'"},
  "llamafactory": {"ok": false, "error": "ModuleNotFoundError: No module named 'llamafactory'"}}}`

const bnbBrokenProbe = `{"python": {"version": "3.10.11", "executable": "EXE", "prefix": "PREFIX", "venv": true},
 "modules": {
  "torch": {"ok": true, "version": "2.5.1+cu121", "cuda_build": "12.1", "cuda_available": true, "device_name": "NVIDIA GeForce RTX 3060", "bf16": true, "free_bytes": 12000000000, "total_bytes": 12884901888},
  "transformers": {"ok": true, "version": "4.46.1"}, "peft": {"ok": true, "version": "0.13.2"},
  "accelerate": {"ok": true, "version": "1.1.0"},
  "bitsandbytes": {"ok": true, "version": "0.41.1", "cuda_ok": false, "cuda_error": "RuntimeError: CUDA Setup failed despite GPU being available. Please run python -m bitsandbytes"},
  "llamafactory": {"ok": true, "version": "0.9.1"}}}`

const cpuTorchProbe = `{"python": {"version": "3.8.10", "executable": "EXE", "prefix": "PREFIX", "venv": true},
 "modules": {"torch": {"ok": true, "version": "2.4.0+cpu", "cuda_build": "", "cuda_available": false},
  "transformers": {"ok": true, "version": "4.46.1"}, "peft": {"ok": true, "version": "0.13.2"},
  "accelerate": {"ok": false, "error": "ModuleNotFoundError: No module named 'accelerate'"},
  "bitsandbytes": {"ok": true, "version": "0.44.1", "cuda_ok": false, "cuda_error": "no CUDA device visible to torch"},
  "llamafactory": {"ok": true, "version": "0.9.1"}}}`

// fakeBin makes a folder with executable shell scripts and returns it.
func fakeBin(t *testing.T, scripts map[string]string) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("fake interpreters are shell scripts")
	}
	dir := t.TempDir()
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// printing returns a shell body that prints the JSON after some noise, the
// way packages print on import.
func printing(js string) string {
	return "echo 'probing torch' >&2\necho 'Welcome to bitsandbytes'\ncat <<'JSON'\n" + js + "\nJSON\n"
}

// lookIn is a LookPath limited to one folder.
func lookIn(dir string) func(string) (string, error) {
	return func(name string) (string, error) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p, nil
		}
		return "", exec.ErrNotFound
	}
}

func noEnv(string) string { return "" }

func pythonOnly(t *testing.T, bin string, timeout time.Duration) *Report {
	t.Helper()
	o := Options{LookPath: lookIn(bin), Getenv: noEnv, GOOS: "linux", ProbeTimeout: timeout}
	o.defaults()
	r := &Report{Version: 1}
	checkPython(context.Background(), r, &o)
	return r
}

func status(t *testing.T, r *Report, id string) Check {
	t.Helper()
	c, ok := r.Check(id)
	if !ok {
		t.Fatalf("no check %s in %+v", id, r.Checks)
	}
	return c
}

func TestFakePythons(t *testing.T) {
	cases := []struct {
		name  string
		bin   map[string]string
		want  map[string]Status
		facts map[string]string // check id + "/" + fact → value
		text  map[string]string // check id → substring of summary or fix
	}{
		{
			name: "everything",
			bin:  map[string]string{"python3": printing(goodProbe), "llamafactory-cli": "exit 0\n"},
			want: map[string]Status{"python": OK, "python.torch": OK, "python.transformers": OK, "python.peft": OK,
				"python.accelerate": OK, "python.bitsandbytes": OK, "python.llamafactory": OK},
			facts: map[string]string{"python.torch/cuda": "12.4", "python/version": "3.10.11"},
			text:  map[string]string{"python.torch": "RTX 4060 Ti", "python.llamafactory": "llamafactory-cli at"},
		},
		{
			name: "missing modules",
			bin:  map[string]string{"python3": printing(bareProbe)},
			want: map[string]Status{"python": OK, "python.torch": Fail, "python.transformers": Fail, "python.peft": Fail,
				"python.accelerate": Warn, "python.bitsandbytes": Warn, "python.llamafactory": Warn},
			text: map[string]string{"python.torch": "download.pytorch.org", "python.llamafactory": "pip install llamafactory", "python": "-m venv ~/venvs/sattva"},
		},
		{
			name: "bitsandbytes raises",
			bin:  map[string]string{"python3": printing(bnbBrokenProbe)},
			want: map[string]Status{"python.torch": OK, "python.bitsandbytes": Warn, "python.llamafactory": Warn},
			text: map[string]string{"python.bitsandbytes": "CUDA Setup failed", "python.llamafactory": "not on PATH"},
		},
		{
			name: "cpu torch, old python",
			bin:  map[string]string{"python3": printing(cpuTorchProbe)},
			want: map[string]Status{"python": Fail, "python.torch": Fail, "python.accelerate": Warn, "python.bitsandbytes": Warn},
			text: map[string]string{"python.torch": "CPU-only build", "python.bitsandbytes": "fix torch's CUDA first", "python": "3.9 or newer"},
		},
		{
			name: "garbage",
			bin:  map[string]string{"python3": "echo 'Traceback: SyntaxError' >&2\nexit 1\n"},
			want: map[string]Status{"python": Fail, "python.torch": Skip},
			text: map[string]string{"python": "SyntaxError"},
		},
		{
			name: "python only as python",
			bin:  map[string]string{"python": printing(goodProbe)},
			want: map[string]Status{"python": OK, "python.torch": OK},
		},
		{
			name: "no python",
			bin:  map[string]string{},
			want: map[string]Status{"python": Fail, "python.torch": Skip, "python.llamafactory": Skip},
			text: map[string]string{"python": "tried python3, python"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := pythonOnly(t, fakeBin(t, c.bin), 10*time.Second)
			for id, want := range c.want {
				if got := status(t, r, id); got.Status != want {
					t.Errorf("%s: %s (%s), want %s", id, got.Status, got.Summary, want)
				}
			}
			for k, want := range c.facts {
				id, fact, _ := strings.Cut(k, "/")
				if got := status(t, r, id).Facts[fact]; got != want {
					t.Errorf("%s fact %s = %q, want %q", id, fact, got, want)
				}
			}
			for id, sub := range c.text {
				ch := status(t, r, id)
				if !strings.Contains(ch.Summary+" "+ch.Fix, sub) {
					t.Errorf("%s: %q / %q lacks %q", id, ch.Summary, ch.Fix, sub)
				}
			}
			for _, ch := range r.Checks {
				if (ch.Status == Fail || ch.Status == Warn) && ch.Fix == "" {
					t.Errorf("%s is %s without a fix", ch.ID, ch.Status)
				}
			}
		})
	}
}

func TestHangingProbe(t *testing.T) {
	// The probe starts importing bitsandbytes and hangs; a child it started hangs too.
	bin := fakeBin(t, map[string]string{"python3": "echo 'probing torch' >&2\necho 'probing bitsandbytes' >&2\nsleep 60 &\nsleep 60\n"})
	start := time.Now()
	r := pythonOnly(t, bin, 500*time.Millisecond)
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("timeout took %s", el)
	}
	c := status(t, r, "python")
	if c.Status != Fail || !strings.Contains(c.Summary, "timed out after 500ms while importing bitsandbytes") {
		t.Fatalf("%+v", c)
	}
	if status(t, r, "python.torch").Status != Skip {
		t.Fatal("torch not skipped after a timeout")
	}
}

func TestConfiguredPython(t *testing.T) {
	bin := fakeBin(t, map[string]string{"mypython": printing(goodProbe), "python3": printing(bareProbe)})
	o := Options{LookPath: lookIn(bin), Getenv: func(k string) string {
		if k == "SATTVA_PYTHON" {
			return "mypython"
		}
		return ""
	}, GOOS: "linux"}
	o.defaults()
	r := &Report{}
	checkPython(context.Background(), r, &o)
	if c := status(t, r, "python"); c.Facts["found_by"] != "$SATTVA_PYTHON" || status(t, r, "python.torch").Status != OK {
		t.Fatalf("%+v", r.Checks)
	}
	o.Python = "missing-python"
	r = &Report{}
	checkPython(context.Background(), r, &o)
	if c := status(t, r, "python"); c.Status != Fail || !strings.Contains(c.Summary, "missing-python") {
		t.Fatalf("%+v", c)
	}
}

func TestRealPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 on this machine")
	}
	o := Options{Python: py, GOOS: runtime.GOOS}
	o.defaults()
	r := &Report{}
	checkPython(context.Background(), r, &o)
	c := status(t, r, "python")
	if c.Status == Fail || c.Facts["version"] == "" {
		t.Fatalf("%+v", c)
	}
	tc := status(t, r, "python.torch")
	t.Logf("real: %s; %s: %s", c.Summary, tc.ID, tc.Summary)
	if tc.Status == Skip {
		t.Fatal("torch not probed")
	}
	// Whatever is installed, every module has a definite status.
	for _, id := range []string{"python.transformers", "python.peft", "python.accelerate", "python.bitsandbytes", "python.llamafactory"} {
		if s := status(t, r, id).Status; s == Skip || s == "" {
			t.Errorf("%s: %s", id, s)
		}
	}
}

func TestOllama(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/version" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"version":"0.24.0"}`))
	}))
	defer ok.Close()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>hi</html>")) }))
	defer other.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	bin := fakeBin(t, map[string]string{"ollama": "exit 0\n"})
	cases := []struct {
		name, host string
		look       func(string) (string, error)
		want       Status
		text       string
	}{
		{"answers", ok.URL, lookIn(t.TempDir()), OK, "Ollama 0.24.0"},
		{"not ollama", other.URL, lookIn(t.TempDir()), Warn, "not like Ollama"},
		{"down, installed", closedURL, lookIn(bin), Warn, "ollama serve"},
		{"down, absent", closedURL, lookIn(t.TempDir()), Warn, "ollama.com"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := Options{OllamaHost: c.host, LookPath: c.look, Getenv: noEnv}
			o.defaults()
			r := &Report{}
			checkOllama(context.Background(), r, &o)
			ch := status(t, r, "ollama")
			if ch.Status != c.want || !strings.Contains(ch.Summary+" "+ch.Fix, c.text) {
				t.Fatalf("%+v", ch)
			}
		})
	}
	// OLLAMA_HOST is read when no host is given.
	o := Options{Getenv: func(k string) string {
		if k == "OLLAMA_HOST" {
			return ok.URL
		}
		return ""
	}, LookPath: lookIn(t.TempDir())}
	o.defaults()
	r := &Report{}
	checkOllama(context.Background(), r, &o)
	if status(t, r, "ollama").Status != OK {
		t.Fatalf("%+v", r.Checks)
	}
}

func TestEngineChecks(t *testing.T) {
	gpu := func() ([]Device, error) {
		return []Device{{Name: "CUDA0", Description: "NVIDIA GeForce RTX 4060 Ti", Kind: "GPU", FreeBytes: 15 << 30, TotalBytes: 16 << 30},
			{Name: "CPU", Kind: "CPU", Description: "AMD Ryzen"}}, nil
	}
	builtin := func() ([]Device, error) {
		return []Device{{Name: "CPU", Kind: "CPU", Builtin: true, Features: []string{"LLAMAFILE"}}}, nil
	}
	builtinSIMD := func() ([]Device, error) {
		return []Device{{Name: "CPU", Kind: "CPU", Builtin: true, Features: []string{"SSE3", "AVX2", "AVX512", "LLAMAFILE", "REPACK"}}}, nil
	}
	pluginRepack := func() ([]Device, error) {
		return []Device{{Name: "CPU", Kind: "CPU", Features: []string{"AVX2", "REPACK"}}, {Name: "CPU", Kind: "CPU", Builtin: true}}, nil
	}
	pluginNoRepack := func() ([]Device, error) {
		return []Device{{Name: "CPU", Kind: "CPU", Features: []string{"AVX2", "LLAMAFILE"}}, {Name: "CPU", Kind: "CPU", Builtin: true, Features: []string{"REPACK"}}}, nil
	}
	cases := []struct {
		name   string
		o      Options
		engine Status
		gpu    Status
		cpu    bool // a cpu-backend warning
		repack bool // a cpu-repack warning
	}{
		{"no cgo", Options{Engine: "none", HasEngine: false}, Warn, Skip, false, false},
		{"gpu", Options{Engine: "llama.cpp (cgo)", HasEngine: true, Devices: gpu}, OK, OK, false, true},
		{"builtin cpu", Options{Engine: "llama.cpp (cgo)", HasEngine: true, Devices: builtin, BackendDir: "/opt/sattva/lib"}, OK, Warn, true, true},
		{"builtin cpu with SIMD and REPACK", Options{Engine: "llama.cpp (cgo)", HasEngine: true, Devices: builtinSIMD}, OK, Warn, false, false},
		{"plugin with REPACK before built-in without", Options{Engine: "llama.cpp (cgo)", HasEngine: true, Devices: pluginRepack}, OK, Warn, false, false},
		{"plugin without REPACK", Options{Engine: "llama.cpp (cgo)", HasEngine: true, Devices: pluginNoRepack}, OK, Warn, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.o.defaults()
			r := &Report{}
			checkEngine(r, &c.o)
			if e := status(t, r, "engine"); e.Status != c.engine {
				t.Fatalf("engine %+v", e)
			}
			g := status(t, r, "gpu")
			if g.Status != c.gpu {
				t.Fatalf("gpu %+v", g)
			}
			_, cpu := r.Check("cpu-backend")
			if cpu != c.cpu {
				t.Fatalf("cpu-backend warning %v", cpu)
			}
			rc, repack := r.Check("cpu-repack")
			if repack != c.repack {
				t.Fatalf("cpu-repack warning %v: %+v", repack, rc)
			}
			if c.gpu == OK && (g.Facts["vram_total_bytes"] != "17179869184" || !strings.Contains(g.Summary, "15.0 GiB free of 16.0 GiB")) {
				t.Fatalf("%+v", g)
			}
		})
	}
}

func TestDisks(t *testing.T) {
	dir := t.TempDir()
	o := Options{Disks: []string{filepath.Join(dir, "models", "not-yet"), filepath.Join(dir, "out")}}
	o.defaults()
	r := &Report{}
	checkDisks(r, &o)
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" && runtime.GOOS != "windows" {
		t.Skip()
	}
	// Both folders are on the same file system: one line.
	if len(r.Checks) != 1 {
		t.Fatalf("%+v", r.Checks)
	}
	c := r.Checks[0]
	if c.Facts["path"] != dir || c.Facts["free_bytes"] == "" || c.Facts["free_bytes"] == "0" || c.Status == Skip {
		t.Fatalf("%+v", c)
	}
}

// TestReportJSONStable pins the JSON layout scripts read.
func TestReportJSONStable(t *testing.T) {
	bin := fakeBin(t, map[string]string{"python3": printing(goodProbe), "llamafactory-cli": "exit 0\n"})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"version":"0.24.0"}`)) }))
	defer srv.Close()
	r := Run(context.Background(), Options{
		Engine: "llama.cpp (cgo)", HasEngine: true,
		Devices: func() ([]Device, error) {
			return []Device{{Name: "CUDA0", Description: "NVIDIA GeForce RTX 4060 Ti", Kind: "GPU", FreeBytes: 15 << 30, TotalBytes: 16 << 30}, {Name: "CPU", Kind: "CPU", Features: []string{"AVX2", "REPACK"}}}, nil
		},
		LookPath: lookIn(bin), Getenv: noEnv, GOOS: "linux", OllamaHost: srv.URL,
	})
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	// Replace what depends on this machine and run.
	b = bytes.ReplaceAll(b, []byte(bin), []byte("BIN"))
	b = bytes.ReplaceAll(b, []byte(srv.URL), []byte("OLLAMA"))
	b = bytes.ReplaceAll(b, []byte(runtime.Version()), []byte("GO"))
	b = bytes.ReplaceAll(b, []byte("linux/"+runtime.GOARCH), []byte("linux/ARCH"))
	golden := filepath.Join("testdata", "report.golden.json")
	if *update {
		if err := os.WriteFile(golden, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(b), bytes.TrimSpace(want)) {
		t.Fatalf("report JSON changed (run go test -update if intended):\n%s", b)
	}
	if r.Worst() != OK || r.Counts.OK != len(r.Checks) {
		t.Fatalf("worst %s, counts %+v", r.Worst(), r.Counts)
	}
}

func TestBaseModel(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "full")
	os.MkdirAll(full, 0o755)
	cfg := `{"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_size":64,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"intermediate_size":128,"vocab_size":1000}`
	os.WriteFile(filepath.Join(full, "config.json"), []byte(cfg), 0o644)
	os.WriteFile(filepath.Join(full, "model.safetensors"), []byte("x"), 0o644)
	partial := filepath.Join(dir, "partial")
	os.MkdirAll(partial, 0o755)
	os.WriteFile(filepath.Join(partial, "config.json"), []byte(cfg), 0o644)
	cases := []struct {
		ref  string
		want Status
		text string
	}{
		{full, OK, "2 layers, hidden 64"},
		{partial, Fail, "download is incomplete"},
		{dir, Fail, "config.json"},
		{"meta-llama/Llama-3.1-8B", Fail, "huggingface-cli download"},
	}
	for _, c := range cases {
		o := Options{BaseModel: c.ref, Getenv: func(k string) string {
			if k == "HF_HUB_CACHE" {
				return dir
			}
			return ""
		}}
		o.defaults()
		r := &Report{}
		checkBase(r, &o)
		ch := status(t, r, "base")
		if ch.Status != c.want || !strings.Contains(ch.Summary+" "+ch.Fix, c.text) {
			t.Errorf("%s: %+v", c.ref, ch)
		}
	}
}

func TestFindPythonWindows(t *testing.T) {
	paths := map[string]string{
		"python":  `C:\Users\me\AppData\Local\Microsoft\WindowsApps\python.exe`,
		"python3": `C:\Users\me\AppData\Local\Microsoft\WindowsApps\python3.exe`,
		"py":      `C:\Windows\py.exe`,
	}
	o := Options{GOOS: "windows", Getenv: noEnv, LookPath: func(n string) (string, error) {
		if p, ok := paths[n]; ok {
			return p, nil
		}
		return "", exec.ErrNotFound
	}}
	cmd, how, _ := findPython(&o)
	if len(cmd) != 2 || cmd[0] != paths["py"] || cmd[1] != "-3" || how != "py launcher" {
		t.Fatalf("%v %s: the Store alias was taken for Python", cmd, how)
	}
	delete(paths, "py")
	if cmd, _, tried := findPython(&o); cmd != nil {
		t.Fatalf("%v (tried %v)", cmd, tried)
	}
	paths["python"] = `D:\venvs\llama31-qlora\Scripts\python.exe`
	if cmd, _, _ := findPython(&o); len(cmd) != 1 || cmd[0] != paths["python"] {
		t.Fatalf("%v", cmd)
	}
}
