package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sattva/sattva/internal/fixture"
	"github.com/sattva/sattva/llamacpp"
)

func TestRunChatBench(t *testing.T) {
	if _, err := llamacpp.InitBackends("", nil); err != nil {
		// Without cgo the commands exist and explain that there is no engine.
		code, _, stderr := runSattvaIn(t, "", "run", "x.gguf", "-p", "hi")
		if code != ExitFailure || !strings.Contains(stderr, "without cgo") {
			t.Errorf("run without cgo: code %d, stderr %q", code, stderr)
		}
		return
	}
	model := fixture.Path(t, "stories260K/ref/stories260K-f32.ref.gguf")
	code, out, stderr := runSattvaIn(t, "", "run", model, "--raw", "-p", "Once upon a time", "-n", "12", "-t", "1")
	if code != 0 || !strings.HasPrefix(out, ", there was a little girl named Lily.") {
		t.Errorf("run: code %d, stdout %q, stderr %q", code, out, stderr)
	}
	// Without --raw the model (no chat template) falls back to the plain prompt.
	code, out, stderr = runSattvaIn(t, "", "run", model, "-p", "Once upon a time", "-n", "5", "-t", "1", "--stop", "little")
	if code != 0 || !strings.Contains(stderr, "no chat template") || out != ", there was a \n" {
		t.Errorf("run without template: code %d, stdout %q, stderr %q", code, out, stderr)
	}
	code, out, _ = runSattvaIn(t, "Once upon a time\n", "run", model, "--raw", "-p", "-", "-n", "3", "-t", "1")
	if code != 0 || out != ", there was\n" {
		t.Errorf("run -p - (stdin): code %d, stdout %q", code, out)
	}
	code, _, _ = runSattvaIn(t, "", "run", model)
	if code != ExitUsage {
		t.Errorf("run without -p: code %d, want %d", code, ExitUsage)
	}
	code, _, stderr = runSattvaIn(t, "", "run", "/nonexistent.gguf", "-p", "x")
	if code != ExitInvalidInput || !strings.Contains(stderr, "nonexistent") {
		t.Errorf("run missing model: code %d, %q", code, stderr)
	}
	code, _, stderr = runSattvaIn(t, "hi\n", "chat", model, "-t", "1")
	if code != ExitFailure || !strings.Contains(stderr, "chat template") {
		t.Errorf("chat without template: code %d, %q", code, stderr)
	}
	code, out, stderr = runSattvaIn(t, "", "bench", model, "-p", "32", "-n", "8", "-r", "2", "-t", "1", "--parallel", "2", "--json")
	if code != 0 {
		t.Fatalf("bench: code %d, %q", code, stderr)
	}
	var rep benchReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Tests) != 3 || rep.Tests[0].Name != "pp32" || rep.Tests[1].Name != "tg8" || rep.Tests[0].AvgTS <= 0 || len(rep.Tests[1].SamplesNS) != 2 || rep.Backend.Kind != "CPU" {
		t.Errorf("bench report: %+v", rep)
	}
}
