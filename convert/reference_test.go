package convert

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/fixture"
	"github.com/sattva/sattva/internal/refjson"
)

// TestReferenceConversions converts the shared checkpoints at every output
// type llama.cpp's converter was run with and compares every KV and the
// sha256 of every tensor with its output (the differences are printed, one
// line each, gguf-diff style). general.name and general.size_label name the
// reference's folders; tokenizer.ggml.pre of llama31-tiny is a known
// mislabel in the reference and must be llama-bpe here.
func TestReferenceConversions(t *testing.T) {
	cases := []struct {
		model, ref string
		out        gguf.Type
	}{
		{"stories260K", "f32", gguf.TypeF32},
		{"stories260K", "f16", gguf.TypeF16},
		{"stories260K", "q8_0", gguf.TypeQ8_0},
		{"llama31-tiny", "f32", gguf.TypeF32},
		{"llama31-tiny", "f16", gguf.TypeF16},
		{"llama31-tiny", "bf16", gguf.TypeBF16},
		{"llama31-tiny", "q8_0", gguf.TypeQ8_0},
	}
	for _, c := range cases {
		t.Run(c.model+"/"+c.ref, func(t *testing.T) {
			hf := fixture.Path(t, c.model+"/hf")
			ref, err := refjson.Load(fixture.Path(t, c.model+"/ref/convert_hf_to_gguf."+c.ref+".json"))
			if err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "out.gguf")
			if _, err := Convert(context.Background(), hf, out, Options{OutType: c.out, Threads: 2}); err != nil {
				t.Fatal(err)
			}
			f, err := gguf.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ignore := []string{"general.name", "general.size_label"}
			if c.model == "llama31-tiny" {
				ignore = append(ignore, "tokenizer.ggml.pre")
				if pre, err := f.String("tokenizer.ggml.pre"); err != nil || pre != "llama-bpe" {
					t.Errorf("tokenizer.ggml.pre = %q, %v; want llama-bpe", pre, err)
				}
			}
			diffs, err := refjson.Compare(f, ref, refjson.Options{IgnoreKeys: ignore})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range diffs {
				t.Error(d)
			}
			if len(f.Tensors) != len(ref.Tensors) {
				t.Errorf("%d tensors, reference %d", len(f.Tensors), len(ref.Tensors))
			}
		})
	}
}

// TestReferenceLoRA compares our adapter GGUF with convert_lora_to_gguf.py's.
func TestReferenceLoRA(t *testing.T) {
	ref, err := refjson.Load(fixture.Path(t, "llama31-tiny/ref/convert_lora_to_gguf.f32.json"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "lora.gguf")
	if _, err := ConvertLoRA(context.Background(), fixture.Path(t, "llama31-tiny/lora"), fixture.Path(t, "llama31-tiny/hf"), out, LoRAOptions{}); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ignore := []string{"general.name", "general.base_model.count", "general.base_model.0.name", "general.base_model.0.repo_url", "general.tags"}
	diffs, err := refjson.Compare(f, ref, refjson.Options{IgnoreKeys: ignore})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Error(d)
	}
	if len(f.Tensors) != 28 {
		t.Errorf("%d tensors, want 28", len(f.Tensors))
	}
}

// TestReferenceDetectsDifference guards the comparison itself: an F16
// conversion must not pass as the F32 reference.
func TestReferenceDetectsDifference(t *testing.T) {
	ref, err := refjson.Load(fixture.Path(t, "stories260K/ref/convert_hf_to_gguf.f32.json"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.gguf")
	if _, err := Convert(context.Background(), fixture.Path(t, "stories260K/hf"), out, Options{OutType: gguf.TypeF16}); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	diffs, err := refjson.Compare(f, ref, refjson.Options{IgnoreKeys: []string{"general.name", "general.size_label"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) < 10 {
		t.Errorf("F16 output compared with the F32 reference gave only %d differences: %v", len(diffs), diffs)
	}
}
