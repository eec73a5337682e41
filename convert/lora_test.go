package convert

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sattva/sattva/convert/safetensors"
	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/fixture"
)

// copyAdapter copies the shared LoRA adapter so a test can edit its config.
func copyAdapter(t *testing.T) string {
	t.Helper()
	src := fixture.Path(t, "llama31-tiny/lora")
	dst := filepath.Join(t.TempDir(), "lora")
	os.MkdirAll(dst, 0o755)
	for _, n := range []string{"adapter_config.json", "adapter_model.safetensors"} {
		b, err := os.ReadFile(filepath.Join(src, n))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dst, n), b, 0o644)
	}
	return dst
}

func TestLoRARefusals(t *testing.T) {
	base := fixture.Path(t, "llama31-tiny/hf")
	cases := []struct {
		name, field string
		edit        func(m map[string]any)
	}{
		{"dora", "use_dora", func(m map[string]any) { m["use_dora"] = true }},
		{"rank pattern", "rank_pattern", func(m map[string]any) { m["rank_pattern"] = map[string]any{"q_proj": 4} }},
		{"alpha pattern", "alpha_pattern", func(m map[string]any) { m["alpha_pattern"] = map[string]any{"q_proj": 4} }},
		{"modules to save", "modules_to_save", func(m map[string]any) { m["modules_to_save"] = []string{"embed_tokens", "lm_head"} }},
		{"trained bias", "bias", func(m map[string]any) { m["bias"] = "all" }},
		{"not lora", "peft_type", func(m map[string]any) { m["peft_type"] = "IA3" }},
		{"wrong rank", "rank 8", func(m map[string]any) { m["r"] = 4 }},
		{"alora", "alora_invocation_tokens", func(m map[string]any) { m["alora_invocation_tokens"] = []int{1, 2} }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyAdapter(t)
			editJSON(t, filepath.Join(dir, "adapter_config.json"), c.edit)
			outDir := t.TempDir()
			_, err := ConvertLoRA(context.Background(), dir, base, filepath.Join(outDir, "a.gguf"), LoRAOptions{})
			if err == nil || !strings.Contains(err.Error(), c.field) {
				t.Fatalf("err = %v, want one naming %s", err, c.field)
			}
			// The same adapter is refused for merging too.
			_, err2 := Convert(context.Background(), base, filepath.Join(outDir, "m.gguf"), Options{OutType: gguf.TypeF32, MergeLoRA: []LoRASpec{{Dir: dir}}})
			if err2 == nil {
				t.Fatal("merge accepted it")
			}
			if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
				t.Errorf("%d files left", len(ents))
			}
			if c.field != "rank 8" && !errors.Is(err, ErrUnsupported) {
				t.Errorf("err %v is not ErrUnsupported", err)
			}
		})
	}
}

// TestRSLoRAAlpha: llama.cpp scales by alpha/r, rsLoRA by alpha/sqrt(r); the
// adapter GGUF carries alpha·sqrt(r) so that they agree.
func TestRSLoRAAlpha(t *testing.T) {
	dir := copyAdapter(t)
	editJSON(t, filepath.Join(dir, "adapter_config.json"), func(m map[string]any) { m["use_rslora"] = true })
	out := filepath.Join(t.TempDir(), "a.gguf")
	if _, err := ConvertLoRA(context.Background(), dir, fixture.Path(t, "llama31-tiny/hf"), out, LoRAOptions{}); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	alpha, err := f.Float32("adapter.lora.alpha")
	if err != nil {
		t.Fatal(err)
	}
	if want := float32(16 * math.Sqrt(8)); alpha != want {
		t.Errorf("alpha = %v, want %v", alpha, want)
	}
}

// TestMergeScaleZeroIsBase: a LoRA merged at scale s changes weights by
// s·(alpha/r)·B·A; merging at a tiny scale must approach the base weights
// and at scale 1 differ from them.
func TestMergeChangesWeights(t *testing.T) {
	base := fixture.Path(t, "llama31-tiny/hf")
	lora := fixture.Path(t, "llama31-tiny/lora")
	read := func(o Options) []byte {
		out := filepath.Join(t.TempDir(), "m.gguf")
		if _, err := Convert(context.Background(), base, out, o); err != nil {
			t.Fatal(err)
		}
		f, err := gguf.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		ti, _ := f.Tensor("blk.0.attn_q.weight")
		b := make([]byte, ti.Size())
		f.TensorData(ti).ReadAt(b, 0)
		return b
	}
	b0 := read(Options{OutType: gguf.TypeF32})
	b1 := read(Options{OutType: gguf.TypeF32, MergeLoRA: []LoRASpec{{Dir: lora, Scale: 1}}})
	b2 := read(Options{OutType: gguf.TypeF32, MergeLoRA: []LoRASpec{{Dir: lora, Scale: 1e-30}}})
	if string(b0) == string(b1) {
		t.Error("merging at scale 1 left attn_q unchanged")
	}
	if string(b0) != string(b2) {
		t.Error("merging at scale 1e-30 changed attn_q")
	}
}

// writeAdapter writes an adapter folder holding zero tensors of these names.
func writeAdapter(t *testing.T, names map[string][]int64) string {
	t.Helper()
	dir := t.TempDir()
	var specs []safetensors.TensorSpec
	for n, s := range names {
		specs = append(specs, safetensors.TensorSpec{Name: n, DType: "F32", Shape: s})
	}
	hdr, _, size, err := safetensors.Layout(specs, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, size)
	copy(b, hdr)
	os.WriteFile(filepath.Join(dir, "adapter_model.safetensors"), b, 0o644)
	os.WriteFile(filepath.Join(dir, "adapter_config.json"), []byte(`{"peft_type":"LORA","r":8,"lora_alpha":16}`), 0o644)
	return dir
}

func TestLoRAEmbeddingsAndNormsRefused(t *testing.T) {
	base := fixture.Path(t, "llama31-tiny/hf")
	for name, tensors := range map[string]map[string][]int64{
		"embedding": {"base_model.model.model.embed_tokens.lora_embedding_A": {8, 128256}, "base_model.model.model.embed_tokens.lora_embedding_B": {16, 8}},
		"norm":      {"base_model.model.model.layers.0.input_layernorm.weight": {16}},
		"half pair": {"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": {8, 16}},
	} {
		_, err := ConvertLoRA(context.Background(), writeAdapter(t, tensors), base, filepath.Join(t.TempDir(), "a.gguf"), LoRAOptions{})
		var ii interface{ InvalidInput() bool }
		if err == nil || !errors.As(err, &ii) || !strings.Contains(err.Error(), "adapter_model.safetensors") {
			t.Errorf("%s: err = %v", name, err)
		}
		t.Logf("%s: %v", name, err)
	}
}
