// Command mkllama writes a Llama-architecture GGUF with random weights of a
// chosen shape, for benchmarks: the vocabulary and tokenizer metadata are
// copied from another GGUF (stories260K's by default), 2-D weights are
// quantized with the pure-Go quantize package, norms stay F32.
//
//	go run ./bench/cpu/mkllama -out /tmp/llama100m.gguf
//
// The default shape (768 wide, 16 layers, FFN 2048, 12 heads, 4 KV heads,
// vocabulary 512) has about 100M parameters.
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/quantize"
)

func main() {
	out := flag.String("out", "", "output GGUF")
	vocabFrom := flag.String("vocab-from", "", "GGUF whose tokenizer.* metadata is copied (default: $SATTVA_TESTDATA/stories260K/ref/stories260K-f32.ref.gguf, $SATTVA_TESTDATA defaulting to ../shared/testdata)")
	embd := flag.Int("embd", 768, "hidden size")
	layers := flag.Int("layers", 16, "transformer blocks")
	ffn := flag.Int("ffn", 2048, "feed-forward size")
	heads := flag.Int("heads", 12, "attention heads")
	kvHeads := flag.Int("kv-heads", 4, "key/value heads")
	typ := flag.String("type", "Q4_0", "type of the 2-D weights")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "mkllama: -out is required")
		os.Exit(2)
	}
	if *vocabFrom == "" {
		// The shared outside truths, as the tests find them.
		root := os.Getenv("SATTVA_TESTDATA")
		if root == "" {
			root = "../shared/testdata"
		}
		*vocabFrom = filepath.Join(root, "stories260K", "ref", "stories260K-f32.ref.gguf")
	}
	if err := run(*out, *vocabFrom, *embd, *layers, *ffn, *heads, *kvHeads, *typ, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "mkllama:", err)
		os.Exit(1)
	}
}

func run(out, vocabFrom string, embd, layers, ffn, heads, kvHeads int, typ string, seed uint64) error {
	wt, err := gguf.ParseType(typ)
	if err != nil {
		return err
	}
	src, err := gguf.Open(vocabFrom)
	if err != nil {
		return err
	}
	defer src.Close()
	toks, err := src.Strings("tokenizer.ggml.tokens")
	if err != nil {
		return err
	}
	nvocab := len(toks)
	headDim := embd / heads
	kvs := []gguf.KV{
		{Key: "general.architecture", Value: gguf.String("llama")},
		{Key: "general.name", Value: gguf.String(fmt.Sprintf("random llama %dx%d", layers, embd))},
		{Key: "llama.context_length", Value: gguf.Uint32(4096)},
		{Key: "llama.embedding_length", Value: gguf.Uint32(uint32(embd))},
		{Key: "llama.block_count", Value: gguf.Uint32(uint32(layers))},
		{Key: "llama.feed_forward_length", Value: gguf.Uint32(uint32(ffn))},
		{Key: "llama.attention.head_count", Value: gguf.Uint32(uint32(heads))},
		{Key: "llama.attention.head_count_kv", Value: gguf.Uint32(uint32(kvHeads))},
		{Key: "llama.rope.dimension_count", Value: gguf.Uint32(uint32(headDim))},
		{Key: "llama.rope.freq_base", Value: gguf.Float32(10000)},
		{Key: "llama.attention.layer_norm_rms_epsilon", Value: gguf.Float32(1e-5)},
		{Key: "llama.vocab_size", Value: gguf.Uint32(uint32(nvocab))},
		{Key: "general.file_type", Value: gguf.Uint32(2)},
	}
	for _, kv := range src.KVs {
		if strings.HasPrefix(kv.Key, "tokenizer.") {
			kvs = append(kvs, kv)
		}
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	spec := &gguf.Spec{KVs: kvs}
	add := func(name string, t gguf.Type, dims ...uint64) error {
		n := 1
		for _, d := range dims {
			n *= int(d)
		}
		f := make([]float32, n)
		if len(dims) == 1 {
			for i := range f {
				f[i] = 1
			}
		} else {
			for i := range f {
				f[i] = float32(rng.NormFloat64() * 0.02)
			}
		}
		var data []byte
		if t == gguf.TypeF32 {
			data = make([]byte, 4*n)
			for i, v := range f {
				u := math.Float32bits(v)
				data[4*i], data[4*i+1], data[4*i+2], data[4*i+3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
			}
		} else {
			rs, err := t.RowSize(int64(dims[0]))
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			data = make([]byte, int(rs)*(n/int(dims[0])))
			if err := quantize.QuantizeRowsParallel(context.Background(), t, data, f, int(dims[0]), nil, runtime.NumCPU()); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
		spec.Tensors = append(spec.Tensors, gguf.WriteTensor{Name: name, Dims: dims, Type: t, Data: gguf.BytesData(data)})
		return nil
	}
	e, v, fnn, kvd := uint64(embd), uint64(nvocab), uint64(ffn), uint64(kvHeads*headDim)
	steps := []func() error{
		func() error { return add("token_embd.weight", wt, e, v) },
		func() error { return add("output_norm.weight", gguf.TypeF32, e) },
		func() error { return add("output.weight", wt, e, v) },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	for l := 0; l < layers; l++ {
		p := fmt.Sprintf("blk.%d.", l)
		for _, t := range []struct {
			name string
			typ  gguf.Type
			dims []uint64
		}{
			{"attn_norm.weight", gguf.TypeF32, []uint64{e}},
			{"attn_q.weight", wt, []uint64{e, e}},
			{"attn_k.weight", wt, []uint64{e, kvd}},
			{"attn_v.weight", wt, []uint64{e, kvd}},
			{"attn_output.weight", wt, []uint64{e, e}},
			{"ffn_norm.weight", gguf.TypeF32, []uint64{e}},
			{"ffn_gate.weight", wt, []uint64{e, fnn}},
			{"ffn_up.weight", wt, []uint64{e, fnn}},
			{"ffn_down.weight", wt, []uint64{fnn, e}},
		} {
			if err := add(p+t.name, t.typ, t.dims...); err != nil {
				return err
			}
		}
	}
	return gguf.WriteFile(context.Background(), out, spec, gguf.WriteOptions{})
}
