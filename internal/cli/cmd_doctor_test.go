package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/sattva/sattva/internal/fixture"
)

func TestDoctorCommand(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("fake interpreters are shell scripts")
	}
	bin := t.TempDir()
	good := `{"python": {"version": "3.10.11", "executable": "/venv/bin/python", "prefix": "/venv", "venv": true}, "modules": {` +
		`"torch": {"ok": true, "version": "2.5.1", "cuda_build": "12.4", "cuda_available": true, "device_name": "RTX", "bf16": true},` +
		`"transformers": {"ok": true, "version": "4.46.1"}, "peft": {"ok": true, "version": "0.13.2"}, "accelerate": {"ok": true, "version": "1.1.0"},` +
		`"bitsandbytes": {"ok": true, "version": "0.44.1", "cuda_ok": true}, "llamafactory": {"ok": false, "error": "ModuleNotFoundError: No module named 'llamafactory'"}}}`
	for name, body := range map[string]string{
		"goodpy": "cat <<'EOF'\n" + good + "\nEOF\n",
		"barepy": `echo '{"python": {"version": "3.10.11", "executable": "/usr/bin/python3"}, "modules": {}}'` + "\n",
	} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	disk := t.TempDir()
	args := func(py string) []string {
		return []string{"doctor", "--json", "--python", filepath.Join(bin, py), "--ollama-host", "127.0.0.1:1", "--disk", disk}
	}
	code, out, errs := runSattva(t, args("goodpy")...)
	if code != 0 {
		t.Fatalf("good: exit %d %s\n%s", code, errs, out)
	}
	var r struct {
		Version int `json:"version"`
		Checks  []struct {
			ID, Status, Summary, Fix string
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Version != 1 {
		t.Fatalf("%v %s", err, out)
	}
	st := map[string]string{}
	for _, c := range r.Checks {
		st[c.ID] = c.Status
	}
	if st["python.torch"] != "ok" || st["python.bitsandbytes"] != "ok" || st["python.llamafactory"] != "warn" || st["ollama"] != "warn" || st["disk:"+disk] == "" {
		t.Fatalf("%v", st)
	}
	code, out, _ = runSattva(t, args("barepy")...)
	if code != ExitFailure || !strings.Contains(out, `"python.torch"`) {
		t.Fatalf("bare: exit %d\n%s", code, out)
	}
	// Text form, and a broken project file reported as a failed check.
	dir := t.TempDir()
	proj := filepath.Join(dir, "sattva.yaml")
	os.WriteFile(proj, []byte("name: [unclosed\n"), 0o644)
	code, out, _ = runSattva(t, "doctor", proj, "--python", filepath.Join(bin, "goodpy"), "--ollama-host", "127.0.0.1:1", "--disk", disk)
	if code != ExitFailure || !strings.Contains(out, "FAIL") || !strings.Contains(out, "sattva.yaml") || !strings.Contains(out, "fix: ") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

func TestDoctorTrainFit(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("fake interpreters are shell scripts")
	}
	base := fixture.Path(t, "llama31-tiny/hf")
	proj := t.TempDir()
	if code, _, _ := runSattva(t, "init", proj, "--base", base, "--examples", "0"); code != 0 {
		t.Fatal("init failed")
	}
	bin := t.TempDir()
	py := func(free string) string {
		p := filepath.Join(bin, "py"+free)
		js := `{"python": {"version": "3.10.11", "executable": "/venv/bin/python", "prefix": "/venv", "venv": true}, "modules": {` +
			`"torch": {"ok": true, "version": "2.5.1", "cuda_build": "12.4", "cuda_available": true, "device_name": "RTX", "bf16": true, "free_bytes": ` + free + `, "total_bytes": 17179869184}}}`
		os.WriteFile(p, []byte("#!/bin/sh\ncat <<'EOF'\n"+js+"\nEOF\n"), 0o755)
		return p
	}
	check := func(free string) map[string]string {
		_, out, errs := runSattva(t, "doctor", filepath.Join(proj, "sattva.yaml"), "--json", "--python", py(free), "--ollama-host", "127.0.0.1:1", "--disk", proj)
		var r struct {
			Checks []struct{ ID, Status, Summary, Fix string } `json:"checks"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%v %s %s", err, out, errs)
		}
		for _, c := range r.Checks {
			if c.ID == "plan.train" {
				return map[string]string{"status": c.Status, "summary": c.Summary, "fix": c.Fix}
			}
		}
		t.Fatalf("no plan.train check:\n%s", out)
		return nil
	}
	// The tiny model's training run at cutoff 2048 needs about 4 GiB, nearly all of it Llama 3's logits.
	if c := check("12884901888"); c["status"] != "ok" || !strings.Contains(c["summary"], "cutoff 2048") {
		t.Fatalf("12 GiB free: %v", c)
	}
	if c := check("1073741824"); c["status"] != "fail" || !strings.Contains(c["fix"], "cutoff_len to") {
		t.Fatalf("1 GiB free: %v", c)
	}
}
