package synth_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/sattva/sattva/convert"
	"github.com/sattva/sattva/convert/safetensors"
	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/synth"
)

// TestSynthTinyConverts writes the tiny shape sharded (tiny shard limit) and
// converts it: the checkpoint must be complete, deterministic and convertible.
func TestSynthTinyConverts(t *testing.T) {
	dir := t.TempDir()
	hf := filepath.Join(dir, "hf")
	if err := synth.WriteShape(context.Background(), synth.Tiny(), hf, synth.Options{Seed: 7, MaxShardBytes: 3 << 20}); err != nil {
		t.Fatal(err)
	}
	m, err := safetensors.OpenDir(os.DirFS(hf))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Files) < 2 {
		t.Errorf("%d shards, want several", len(m.Files))
	}
	if len(m.Tensors) != 1+2*9+1+1 {
		t.Errorf("%d tensors", len(m.Tensors))
	}
	m.Close()
	out := filepath.Join(dir, "tiny.gguf")
	if _, err := convert.Convert(context.Background(), hf, out, convert.Options{OutType: gguf.TypeF16}); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, ok := f.Tensor("rope_freqs.weight"); !ok {
		t.Error("no rope_freqs.weight")
	}
	if pre, _ := f.String("tokenizer.ggml.pre"); pre != "llama-bpe" {
		t.Errorf("pre = %q", pre)
	}
	// Same seed, same bytes.
	hf2 := filepath.Join(dir, "hf2")
	if err := synth.WriteShape(context.Background(), synth.Tiny(), hf2, synth.Options{Seed: 7, MaxShardBytes: 3 << 20}); err != nil {
		t.Fatal(err)
	}
	shards, _ := filepath.Glob(filepath.Join(hf, "model-*.safetensors"))
	if len(shards) < 2 {
		t.Fatalf("shards: %v", shards)
	}
	for _, p := range shards {
		a, _ := os.ReadFile(p)
		b, _ := os.ReadFile(filepath.Join(hf2, filepath.Base(p)))
		if len(a) == 0 || string(a) != string(b) {
			t.Errorf("same seed gave different %s", filepath.Base(p))
		}
	}
}
