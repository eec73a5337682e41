package pipeline

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const samplerYAML = `name: m
base: hf
data:
  train: [d.jsonl]
`

func TestSamplerDefaultsWrittenWhole(t *testing.T) {
	p, err := ParseProject("/x/sattva.yaml", []byte(samplerYAML+"sampler:\n  temperature: 0\n  stop: [\"</answer>\"]\nollama:\n  parameters:\n    num_predict: 300\n"))
	if err != nil {
		t.Fatal(err)
	}
	mf, err := Modelfile(ModelfileSpec{From: "./m.gguf", Template: "llama3", Parameters: p.ModelfileParameters(), Stops: p.Sampler.Stop})
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ParseModelfile(mf)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"temperature": "0", "top_k": "40", "top_p": "0.9", "min_p": "0", "repeat_penalty": "1",
		"repeat_last_n": "64", "seed": "-1", "num_ctx": "4096", "num_predict": "300"}
	for k, v := range want {
		if parsed.Params[k] != v {
			t.Errorf("PARAMETER %s = %q, want %q\n%s", k, parsed.Params[k], v, mf)
		}
	}
	if got := strings.Join(parsed.Stops, "|"); got != "<|start_header_id|>|<|end_header_id|>|<|eot_id|>|</answer>" {
		t.Errorf("stops %q", got)
	}
	if !parsed.HasTemplate || parsed.Template != Llama3Template {
		t.Errorf("TEMPLATE not read back:\n%q", parsed.Template)
	}
	if sp := p.EvalSampling(); sp.Temperature != 0 || sp.RepeatPenalty != 1 || sp.RepeatLastN != 64 || sp.Seed != 0 {
		t.Errorf("eval sampling %+v", sp)
	}
}

func TestSamplerConflictsWithOllamaParameters(t *testing.T) {
	_, err := ParseProject("/x/sattva.yaml", []byte(samplerYAML+"sampler:\n  temperature: 0.2\nollama:\n  parameters:\n    temperature: 0.7\n"))
	if err == nil || !strings.Contains(err.Error(), "ollama.parameters.temperature") || !strings.Contains(err.Error(), "set it once, under sampler") {
		t.Fatalf("err = %v", err)
	}
	p, err := ParseProject("/x/sattva.yaml", []byte(samplerYAML+"ollama:\n  parameters:\n    repeat_penalty: 1.1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := p.Sampler.Get("repeat_penalty"); v != 1.1 {
		t.Errorf("ollama.parameters did not reach the sampler: %g", v)
	}
	if _, err := ParseProject("/x/sattva.yaml", []byte(samplerYAML+"sampler:\n  top_p: 2\n")); err == nil || !strings.Contains(err.Error(), "sampler.top_p") {
		t.Errorf("top_p 2: err = %v", err)
	}
}

func TestAdapterSupport(t *testing.T) {
	for v, ok := range map[string]bool{"0.6.5": true, "0.24.0": true, "0.34.0": true, "0.34.1": false, "0.35.2-rc1": false, "1.0.0": false, "0.0.0": true, "dev": true} {
		if err := AdapterSupport(v); (err == nil) != ok {
			t.Errorf("AdapterSupport(%q) = %v, want ok=%v", v, err, ok)
		} else if err != nil && !strings.Contains(err.Error(), "LoRA adapters are no longer supported") {
			t.Errorf("reason missing: %v", err)
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/version" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"version":"0.34.1"}`))
	}))
	defer srv.Close()
	v, err := OllamaVersion(context.Background(), srv.URL)
	if err != nil || v != "0.34.1" {
		t.Fatalf("OllamaVersion = %q, %v", v, err)
	}
}
