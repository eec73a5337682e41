//go:build cgo

package llamacpp

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/fixture"
)

// TestCPURepack: every CPU backend must offer weight repacking (the REPACK
// feature, GGML_USE_CPU_REPACK): the built-in one when the build went through
// scripts/llamacpp/cgoflags.sh (make build/test; required under CI=true),
// every loaded plugin always (make backends passes -DGGML_CPU_REPACK=ON; run
// with SATTVA_BACKEND_DIR=bin/lib/ollama to check them). And a Q4_K model
// must load with a CPU_REPACK buffer where the CPU can run the repacked
// kernels (AVX2, or NEON with dot products).
func TestCPURepack(t *testing.T) {
	devs, err := InitBackends("", testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	flagged := builtWithRepack()
	t.Logf("build flags: %+v; this build defines GGML_USE_CPU_REPACK: %v", BuildFlags(), flagged)
	var first *BackendInfo
	for i, d := range devs {
		if d.Kind != "CPU" {
			continue
		}
		if first == nil {
			first = &devs[i]
		}
		t.Logf("CPU backend %s (builtin %v): %v", d.Description, d.Builtin, d.Features)
		switch {
		case d.Has("REPACK"):
		case !d.Builtin:
			t.Errorf("the CPU plugin in %s has no REPACK feature (%v): build it with make backends (-DGGML_CPU_REPACK=ON)", DefaultBackendDir(), d.Features)
		case flagged || os.Getenv("CI") == "true":
			t.Errorf("the built-in CPU backend has no REPACK feature (%v; GGML_USE_CPU_REPACK defined here: %v): build through make (scripts/llamacpp/cgoflags.sh)", d.Features, flagged)
		default:
			t.Logf("built-in CPU backend without REPACK: this test binary was built without scripts/llamacpp/cgoflags.sh's flags (plain go test; make test sets them, CI requires them)")
		}
	}
	if first == nil {
		t.Fatal("no CPU device")
	}
	if !first.Has("REPACK") {
		t.Skipf("the CPU backend in use has no REPACK: no model check (see above)")
	}
	if !first.Has("AVX2") && !(first.Has("NEON") && (first.Has("DOTPROD") || first.Has("MATMUL_INT8"))) {
		t.Skipf("the CPU backend in use (%v) has no kernels for repacked Q4_K (AVX2, or NEON with dot products)", first.Features)
	}
	path := filepath.Join(t.TempDir(), "q4k.gguf")
	writeQ4KModel(t, path)
	m, err := Load(path, ModelOptions{CPUOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	bufs := m.Buffers()
	t.Logf("buffers: %+v", bufs)
	var repack float64
	for _, b := range bufs {
		if b.Name == "CPU_REPACK" {
			repack = b.MiB
		}
	}
	if repack <= 0 {
		t.Fatalf("a Q4_K model loaded without a CPU_REPACK buffer: %+v", bufs)
	}
	// The repacked weights compute: greedy tokens come out.
	c, err := m.NewContext(ContextOptions{ContextSize: 64, Threads: min(2, runtime.NumCPU())})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	lg, err := c.Logits([]int32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	if err != nil {
		t.Fatal(err)
	}
	if len(lg) == 0 {
		t.Fatal("no logits")
	}
}

// writeQ4KModel writes a one-layer Llama of width 256 (Q4_K rows need 256
// columns) with random Q4_K weights and stories260K's vocabulary: every 2-D
// weight but the token embedding can be repacked (q4_K_8x8).
func writeQ4KModel(t *testing.T, path string) {
	t.Helper()
	src, err := gguf.Open(fixture.Path(t, storiesGGUF))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	toks, err := src.Strings("tokenizer.ggml.tokens")
	if err != nil {
		t.Fatal(err)
	}
	const embd, ffn, heads = 256, 512, 4
	nv := uint64(len(toks))
	kvs := []gguf.KV{
		{Key: "general.architecture", Value: gguf.String("llama")},
		{Key: "general.name", Value: gguf.String("repack test")},
		{Key: "llama.context_length", Value: gguf.Uint32(256)},
		{Key: "llama.embedding_length", Value: gguf.Uint32(embd)},
		{Key: "llama.block_count", Value: gguf.Uint32(1)},
		{Key: "llama.feed_forward_length", Value: gguf.Uint32(ffn)},
		{Key: "llama.attention.head_count", Value: gguf.Uint32(heads)},
		{Key: "llama.attention.head_count_kv", Value: gguf.Uint32(heads)},
		{Key: "llama.rope.dimension_count", Value: gguf.Uint32(embd / heads)},
		{Key: "llama.attention.layer_norm_rms_epsilon", Value: gguf.Float32(1e-5)},
		{Key: "general.file_type", Value: gguf.Uint32(15)}, // Q4_K_M
	}
	for _, kv := range src.KVs {
		if len(kv.Key) > 10 && kv.Key[:10] == "tokenizer." {
			kvs = append(kvs, kv)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	spec := &gguf.Spec{KVs: kvs}
	add := func(name string, dims ...uint64) {
		if len(dims) == 1 {
			f := make([]byte, 4*dims[0])
			for i := range dims[0] {
				copy(f[4*i:], []byte{0, 0, 0x80, 0x3f}) // 1.0f
			}
			spec.Tensors = append(spec.Tensors, gguf.WriteTensor{Name: name, Dims: dims, Type: gguf.TypeF32, Data: gguf.BytesData(f)})
			return
		}
		w := make([]float32, dims[0]*dims[1])
		for i := range w {
			w[i] = float32(rng.NormFloat64() * 0.02)
		}
		q, err := QuantizeRows(gguf.TypeQ4_K, w, int(dims[1]), int(dims[0]), nil)
		if err != nil {
			t.Fatal(err)
		}
		spec.Tensors = append(spec.Tensors, gguf.WriteTensor{Name: name, Dims: dims, Type: gguf.TypeQ4_K, Data: gguf.BytesData(q)})
	}
	add("token_embd.weight", embd, nv)
	add("output_norm.weight", embd)
	add("output.weight", embd, nv)
	add("blk.0.attn_norm.weight", embd)
	add("blk.0.attn_q.weight", embd, embd)
	add("blk.0.attn_k.weight", embd, embd)
	add("blk.0.attn_v.weight", embd, embd)
	add("blk.0.attn_output.weight", embd, embd)
	add("blk.0.ffn_norm.weight", embd)
	add("blk.0.ffn_gate.weight", embd, ffn)
	add("blk.0.ffn_up.weight", embd, ffn)
	add("blk.0.ffn_down.weight", ffn, embd)
	if err := gguf.WriteFile(context.Background(), path, spec, gguf.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
}
