package quantize_test

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/quantize"
)

// synthShape is a small Llama-architecture model.
type synthShape struct {
	Hidden, FFN, Layers, Heads, KVHeads, Vocab int
	Tied                                       bool
	Type                                       gguf.Type // F16, BF16 or F32 for 2-D weights
}

// writeSynthLlama writes a Llama GGUF with random weights, laid out as
// llama.cpp's converter does (token_embd, blocks, output_norm, output).
func writeSynthLlama(t testing.TB, path string, sh synthShape, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	kvs := []gguf.KV{
		{Key: "general.architecture", Value: gguf.String("llama")},
		{Key: "general.name", Value: gguf.String("synth")},
		{Key: "llama.block_count", Value: gguf.Uint32(uint32(sh.Layers))},
		{Key: "llama.context_length", Value: gguf.Uint32(2048)},
		{Key: "llama.embedding_length", Value: gguf.Uint32(uint32(sh.Hidden))},
		{Key: "llama.feed_forward_length", Value: gguf.Uint32(uint32(sh.FFN))},
		{Key: "llama.attention.head_count", Value: gguf.Uint32(uint32(sh.Heads))},
		{Key: "llama.attention.head_count_kv", Value: gguf.Uint32(uint32(sh.KVHeads))},
		{Key: "llama.rope.freq_base", Value: gguf.Float32(500000)},
		{Key: "llama.attention.layer_norm_rms_epsilon", Value: gguf.Float32(1e-5)},
		{Key: "llama.vocab_size", Value: gguf.Uint32(uint32(sh.Vocab))},
		{Key: "llama.rope.dimension_count", Value: gguf.Uint32(uint32(sh.Hidden / sh.Heads))},
		{Key: "general.file_type", Value: gguf.Uint32(1)},
	}
	tensor := func(name string, typ gguf.Type, dims ...uint64) gguf.WriteTensor {
		n := 1
		for _, d := range dims {
			n *= int(d)
		}
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.NormFloat64() * 0.02)
		}
		if len(dims) == 1 {
			for i := range x {
				x[i] += 1
			}
		}
		var b []byte
		switch typ {
		case gguf.TypeF32:
			b = make([]byte, 4*n)
			for i, v := range x {
				binary.LittleEndian.PutUint32(b[4*i:], mathFloat32bits(v))
			}
		default:
			b = make([]byte, 2*n)
			if err := quantize.QuantizeRows(typ, b, x, n, nil); err != nil {
				t.Fatal(err)
			}
		}
		return gguf.WriteTensor{Name: name, Dims: dims, Type: typ, Data: gguf.BytesData(b)}
	}
	h, f, kv := uint64(sh.Hidden), uint64(sh.FFN), uint64(sh.Hidden/sh.Heads*sh.KVHeads)
	ts := []gguf.WriteTensor{tensor("token_embd.weight", sh.Type, h, uint64(sh.Vocab))}
	for l := 0; l < sh.Layers; l++ {
		p := "blk." + itoa(l) + "."
		ts = append(ts,
			tensor(p+"attn_norm.weight", gguf.TypeF32, h),
			tensor(p+"attn_q.weight", sh.Type, h, h),
			tensor(p+"attn_k.weight", sh.Type, h, kv),
			tensor(p+"attn_v.weight", sh.Type, h, kv),
			tensor(p+"attn_output.weight", sh.Type, h, h),
			tensor(p+"ffn_norm.weight", gguf.TypeF32, h),
			tensor(p+"ffn_gate.weight", sh.Type, h, f),
			tensor(p+"ffn_up.weight", sh.Type, h, f),
			tensor(p+"ffn_down.weight", sh.Type, f, h),
		)
	}
	ts = append(ts, tensor("output_norm.weight", gguf.TypeF32, h))
	if !sh.Tied {
		ts = append(ts, tensor("output.weight", sh.Type, h, uint64(sh.Vocab)))
	}
	if err := gguf.WriteFile(t.Context(), path, &gguf.Spec{KVs: kvs, Tensors: ts}, gguf.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
