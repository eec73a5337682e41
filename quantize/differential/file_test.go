//go:build cgo

package differential_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/sattva/sattva/convert"
	"github.com/sattva/sattva/convquant"
	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/fixture"
	"github.com/sattva/sattva/llamacpp"
	"github.com/sattva/sattva/quantize"
	"github.com/sattva/sattva/synth"
)

// compareWithLlamaCpp quantizes in to each file type with the Go path and
// with llama_model_quantize and requires identical files.
func compareWithLlamaCpp(t *testing.T, in string, fts []string, o quantize.Options, lo llamacpp.QuantizeOptions) {
	t.Helper()
	dir := t.TempDir()
	for _, name := range fts {
		ft, err := gguf.ParseFileType(name)
		if err != nil {
			t.Fatal(err)
		}
		goOut := filepath.Join(dir, name+".go.gguf")
		cOut := filepath.Join(dir, name+".c.gguf")
		sum, goErr := quantize.QuantizeFile(t.Context(), in, goOut, ft, o)
		lo.FileType = name
		cErr := llamacpp.Quantize(t.Context(), in, cOut, lo)
		if goErr != nil || cErr != nil {
			if goErr == nil || cErr == nil {
				t.Errorf("%s: Go error %v, llama.cpp error %v", name, goErr, cErr)
			} else {
				t.Logf("%s: both refuse: Go %v; llama.cpp %v", name, goErr, cErr)
			}
			continue
		}
		a, _ := os.ReadFile(goOut)
		b, _ := os.ReadFile(cOut)
		if !bytes.Equal(a, b) {
			describeDiff(t, name, goOut, cOut)
			continue
		}
		if sum.FileSize != int64(len(b)) {
			t.Errorf("%s: summary FileSize %d, file has %d", name, sum.FileSize, len(b))
		}
		t.Logf("%s: identical (%d bytes, %d tensors, %.2f bpw)", name, len(a), sum.Tensors, sum.BitsPerWeight())
	}
}

// describeDiff reports where two GGUF files differ: metadata, tensor list or data.
func describeDiff(t *testing.T, name, goOut, cOut string) {
	t.Helper()
	fa, err := gguf.Open(goOut)
	if err != nil {
		t.Fatalf("%s: differs and Go output unreadable: %v", name, err)
	}
	defer fa.Close()
	fb, err := gguf.Open(cOut)
	if err != nil {
		t.Fatalf("%s: differs and C output unreadable: %v", name, err)
	}
	defer fb.Close()
	if len(fa.KVs) != len(fb.KVs) {
		t.Errorf("%s: %d KVs vs llama.cpp's %d", name, len(fa.KVs), len(fb.KVs))
	}
	for i := 0; i < min(len(fa.KVs), len(fb.KVs)); i++ {
		if fa.KVs[i].Key != fb.KVs[i].Key || fa.KVs[i].Value.String() != fb.KVs[i].Value.String() {
			t.Errorf("%s: KV %d: %s=%v vs llama.cpp %s=%v", name, i, fa.KVs[i].Key, fa.KVs[i].Value, fb.KVs[i].Key, fb.KVs[i].Value)
		}
	}
	for i := 0; i < min(len(fa.Tensors), len(fb.Tensors)); i++ {
		a, b := fa.Tensors[i], fb.Tensors[i]
		if a.Name != b.Name || a.Type != b.Type || a.Offset != b.Offset || len(a.Dims) != len(b.Dims) {
			t.Errorf("%s: tensor %d: %s %v %v @%d vs llama.cpp %s %v %v @%d", name, i, a.Name, a.Type, a.Dims, a.Offset, b.Name, b.Type, b.Dims, b.Offset)
			continue
		}
		da := make([]byte, a.Size())
		db := make([]byte, b.Size())
		fa.TensorData(a).ReadAt(da, 0)
		fb.TensorData(b).ReadAt(db, 0)
		if !bytes.Equal(da, db) {
			t.Errorf("%s: tensor %s (%v) data differs", name, a.Name, a.Type)
		}
	}
	t.Errorf("%s: files differ", name)
}

func TestQuantizeFileMatchesLlamaCppStories(t *testing.T) {
	in := fixture.Path(t, "stories260K/ref/stories260K-f32.ref.gguf")
	// Q3_K_M, Q3_K_S, Q2_K: rows of 64 fall back to IQ4_NL.
	compareWithLlamaCpp(t, in, []string{"Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "Q4_0", "F16",
		"Q3_K_M", "Q3_K_S", "Q3_K_L", "Q2_K", "IQ4_NL", "IQ4_XS"},
		quantize.Options{Threads: 2}, llamacpp.QuantizeOptions{Threads: 2})
}

// TestQuantizeFileLlama31TinyShape: llama31-tiny's shape (hidden 16, FFN 48,
// untied 128256-token output): every k-quant falls back, mostly to F16.
func TestQuantizeFileLlama31TinyShape(t *testing.T) {
	in := filepath.Join(t.TempDir(), "tiny-bf16.gguf")
	if err := synth.WriteGGUF(t.Context(), in, synth.GGUFShape{Hidden: 16, FFN: 48, Layers: 2, Heads: 2, KVHeads: 1, Vocab: 128256, Type: gguf.TypeBF16}, 3); err != nil {
		t.Fatal(err)
	}
	compareWithLlamaCpp(t, in, []string{"Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "Q3_K_M", "Q2_K", "IQ4_XS"},
		quantize.Options{Threads: 2}, llamacpp.QuantizeOptions{Threads: 2})
}

func TestQuantizeFileOptionsMatchLlamaCpp(t *testing.T) {
	in := filepath.Join(t.TempDir(), "synth-f16.gguf")
	if err := synth.WriteGGUF(t.Context(), in, synth.GGUFShape{Hidden: 256, FFN: 512, Layers: 8, Heads: 4, KVHeads: 1, Vocab: 512, Type: gguf.TypeF16}, 1); err != nil {
		t.Fatal(err)
	}
	compareWithLlamaCpp(t, in, []string{"Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "Q4_K_S", "Q3_K_L", "Q2_K", "Q5_0", "BF16",
		"Q3_K_M", "IQ4_NL", "IQ4_XS"},
		quantize.Options{Threads: 2}, llamacpp.QuantizeOptions{Threads: 2})
	q8, f16 := gguf.TypeQ8_0, gguf.TypeF16
	compareWithLlamaCpp(t, in, []string{"Q4_K_M"},
		quantize.Options{PlanOptions: quantize.PlanOptions{Pure: true}}, llamacpp.QuantizeOptions{Pure: true})
	compareWithLlamaCpp(t, in, []string{"Q5_K_M"},
		quantize.Options{PlanOptions: quantize.PlanOptions{OutputTensorType: &q8, TokenEmbeddingType: &f16}},
		llamacpp.QuantizeOptions{OutputTensorType: "Q8_0", TokenEmbeddingType: "F16"})
	compareWithLlamaCpp(t, in, []string{"Q6_K"},
		quantize.Options{PlanOptions: quantize.PlanOptions{LeaveOutputTensor: true}}, llamacpp.QuantizeOptions{LeaveOutputTensor: true})
}

// TestQuantizeFileFallbacksMatchLlamaCpp uses rows that are not a multiple
// of 256 (hidden 96, FFN 320), so k-quants fall back to Q5_0/Q5_1/Q8_0/F16.
func TestQuantizeFileFallbacksMatchLlamaCpp(t *testing.T) {
	in := filepath.Join(t.TempDir(), "synth-bf16.gguf")
	if err := synth.WriteGGUF(t.Context(), in, synth.GGUFShape{Hidden: 96, FFN: 320, Layers: 3, Heads: 4, KVHeads: 2, Vocab: 256, Tied: true, Type: gguf.TypeBF16}, 2); err != nil {
		t.Fatal(err)
	}
	compareWithLlamaCpp(t, in, []string{"Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "Q4_1", "Q3_K_M", "Q2_K", "IQ4_XS", "IQ4_NL"},
		quantize.Options{Threads: 2}, llamacpp.QuantizeOptions{Threads: 2})
}

// TestQuantizeConvertedFixtures converts both shared HF fixtures with
// sattva's converter (F16) and quantizes them with both engines; stories260K
// also through the one-pass path, which must equal llama.cpp's two steps.
func TestQuantizeConvertedFixtures(t *testing.T) {
	for _, fx := range []string{"stories260K", "llama31-tiny"} {
		hf := fixture.Path(t, fx+"/hf")
		dir := t.TempDir()
		f16 := filepath.Join(dir, "f16.gguf")
		if _, err := convert.Convert(t.Context(), hf, f16, convert.Options{OutType: gguf.TypeF16}); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s:", fx)
		compareWithLlamaCpp(t, f16, []string{"Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0"},
			quantize.Options{Threads: 2}, llamacpp.QuantizeOptions{Threads: 2})
		if fx != "stories260K" {
			continue
		}
		one := filepath.Join(dir, "one.gguf")
		c := filepath.Join(dir, "c.gguf")
		if _, err := convquant.Convert(t.Context(), hf, one, gguf.MostlyQ4_K_M, convquant.Options{}); err != nil {
			t.Fatal(err)
		}
		if err := llamacpp.Quantize(t.Context(), f16, c, llamacpp.QuantizeOptions{FileType: "Q4_K_M", Threads: 2}); err != nil {
			t.Fatal(err)
		}
		a, _ := os.ReadFile(one)
		b, _ := os.ReadFile(c)
		if !bytes.Equal(a, b) {
			t.Errorf("one-pass HF→Q4_K_M differs from convert + llama_model_quantize")
		}
	}
}
