package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sattva/sattva/internal/fixture"
)

func TestPlanTrainJSON(t *testing.T) {
	code, out, errs := runSattva(t, "plan", "train", "--model", "llama3.1-8b", "--vram", "12GB", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var r struct {
		Estimate struct {
			Peak       int64  `json:"peak_allocated_bytes"`
			Device     int64  `json:"device_bytes"`
			LoRAParams int64  `json:"lora_params"`
			Phase      string `json:"peak_phase"`
			Measured   bool   `json:"measured"`
		} `json:"estimate"`
		Fit *struct {
			Fits     bool `json:"fits"`
			MaxBatch int  `json:"max_batch"`
		} `json:"fit"`
		Config struct {
			Method string `json:"method"`
			Cutoff int    `json:"cutoff"`
		} `json:"config"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err, out)
	}
	if r.Config.Method != "qlora" || r.Config.Cutoff != 2048 || r.Estimate.LoRAParams != 41943040 || r.Estimate.Measured ||
		r.Estimate.Device <= r.Estimate.Peak || r.Fit == nil || !r.Fit.Fits {
		t.Fatalf("%+v", r)
	}
}

func TestPlanTrainText(t *testing.T) {
	code, out, errs := runSattva(t, "plan", "train", "--model", "llama3.2-1b", "--method", "lora", "--cutoff", "8192", "--vram", "8GB", "--explain")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"LoRA (bf16 base)", "fits 8.00 GiB: NO", "to fit:", "12 bytes × vocab 128256", "Peak GPU memory of a LoRA/QLoRA step"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestPlanTrainErrors(t *testing.T) {
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"plan", "train", "--model", "llama3.1-8b", "--vram", "lots"}, ExitUsage, "not a memory size"},
		{[]string{"plan", "train", "--model", "llama3.1-8b", "--trainer", "unsloth"}, ExitUsage, "want llamafactory or fallback"},
		{[]string{"plan", "train", "--model", "nobody/nothing"}, ExitInvalidInput, "looked in"},
		{[]string{"plan", "train", "--model", "llama3.1-8b", "--targets", "qkv"}, ExitFailure, "unknown LoRA target"},
	}
	for _, c := range cases {
		code, _, errs := runSattva(t, c.args...)
		if code != c.code || !strings.Contains(errs, c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, errs, c.code, c.msg)
		}
	}
}

func TestPlanTrainModelFolder(t *testing.T) {
	dir := fixture.Path(t, "llama31-tiny/hf")
	code, out, errs := runSattva(t, "plan", "train", "--model", dir, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, `"hidden": 16`) || !strings.Contains(out, `"vocab": 128256`) {
		t.Fatalf("shape not read from config.json:\n%s", out)
	}
}

func TestPlanRun(t *testing.T) {
	g := fixture.Path(t, "stories260K/ref/stories260K-f32.ref.gguf")
	// stories260K's head size is 8: llama.cpp cannot hold it in q8_0 blocks of 32.
	code, _, errs := runSattva(t, "plan", "run", g, "--cache-type", "q8_0")
	if code != ExitFailure || !strings.Contains(errs, "multiple of 32") {
		t.Fatalf("q8_0 cache with head size 8: exit %d %s", code, errs)
	}
	code, out, errs := runSattva(t, "plan", "run", g, "--ctx", "1000", "--parallel", "2", "--cache-type", "f32", "--vram", "1GB", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var r struct {
		Estimate struct {
			NCtx    int    `json:"n_ctx"`
			NCtxSeq int    `json:"n_ctx_seq"`
			CacheK  string `json:"cache_k"`
			KV      int64  `json:"kv_gpu_bytes"`
		} `json:"estimate"`
		MaxCtx *int `json:"max_ctx"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	// 2 × 1000 → pad256 2048, per sequence 1024; f32: 4 bytes × 32 (4 heads × 8) for K and V.
	if r.Estimate.NCtx != 2048 || r.Estimate.NCtxSeq != 1024 || r.Estimate.CacheK != "f32" || r.Estimate.KV != 2048*5*2*32*4 {
		t.Fatalf("%+v", r.Estimate)
	}
	if r.MaxCtx == nil || *r.MaxCtx != 512 { // capped at the model's training context
		t.Fatalf("max ctx %v", r.MaxCtx)
	}
	code, _, errs = runSattva(t, "plan", "run", g, "--cache-type", "q4_0", "--flash-attn", "off")
	if code != ExitFailure || !strings.Contains(errs, "flash attention") {
		t.Fatalf("exit %d %s", code, errs)
	}
	code, _, _ = runSattva(t, "plan", "run", g, "--ctx", "0")
	if code != ExitUsage {
		t.Fatalf("ctx 0: exit %d", code)
	}
	code, _, _ = runSattva(t, "plan", "run", fixture.Path(t, "stories260K/ref/greedy.json"))
	if code == 0 {
		t.Fatal("a JSON file accepted as a model")
	}
}

func TestPlanTrainFromProject(t *testing.T) {
	base := fixture.Path(t, "llama31-tiny/hf")
	dir := t.TempDir()
	if code, _, _ := runSattva(t, "init", dir, "--base", base, "--examples", "20"); code != 0 {
		t.Fatal("init failed")
	}
	code, out, errs := runSattva(t, "plan", "train", dir+"/sattva.yaml", "--json")
	if code != 0 {
		t.Fatalf("exit %d %s", code, errs)
	}
	var r struct {
		Model  string `json:"model"`
		Config struct {
			Method    string   `json:"method"`
			Rank      int      `json:"rank"`
			Cutoff    int      `json:"cutoff"`
			GradAccum int      `json:"grad_accum"`
			Targets   []string `json:"targets"`
			Examples  int64    `json:"examples"`
			AvgTokens int      `json:"avg_tokens"`
			Epochs    float64  `json:"epochs"`
		} `json:"config"`
		Estimate struct {
			EpochSeconds float64 `json:"epoch_seconds"`
		} `json:"estimate"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	c := r.Config
	// The example project: QLoRA r 16 on all, cutoff 2048, accumulation 8, 2 epochs; 20 examples.
	if r.Model != base || c.Method != "qlora" || c.Rank != 16 || c.Cutoff != 2048 || c.GradAccum != 8 || c.Epochs != 2 ||
		len(c.Targets) != 1 || c.Targets[0] != "all" || c.Examples != 20 || c.AvgTokens <= 0 || r.Estimate.EpochSeconds <= 0 {
		t.Fatalf("%s", out)
	}
	// A flag beats the file.
	_, out, _ = runSattva(t, "plan", "train", dir+"/sattva.yaml", "--rank", "4", "--method", "lora", "--json")
	if !strings.Contains(out, `"rank": 4`) || !strings.Contains(out, `"method": "lora"`) {
		t.Fatalf("flags did not override:\n%s", out)
	}
}
