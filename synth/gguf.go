package synth

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/half"
)

// GGUFShape is a small Llama-architecture model written straight to GGUF.
type GGUFShape struct {
	Hidden, FFN, Layers, Heads, KVHeads, Vocab int
	Tied                                       bool
	Type                                       gguf.Type // F16, BF16 or F32 for 2-D weights
}

// WriteGGUF writes a Llama GGUF with random weights (normal, sd 0.02; norms
// around 1) to path, laid out as llama.cpp's converter does (token_embd,
// blocks, output_norm, output). The same seed gives the same bytes. It has
// no tokenizer: it is for the quantizer and file-level tests.
func WriteGGUF(ctx context.Context, path string, sh GGUFShape, seed uint64) error {
	switch sh.Type {
	case gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16:
	default:
		return fmt.Errorf("synth: WriteGGUF writes F32, F16 or BF16 weights, not %s", sh.Type)
	}
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
				binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
			}
		case gguf.TypeF16:
			b = make([]byte, 2*n)
			for i, v := range x {
				binary.LittleEndian.PutUint16(b[2*i:], half.FromFloat32GGML(v))
			}
		default:
			b = make([]byte, 2*n)
			for i, v := range x {
				binary.LittleEndian.PutUint16(b[2*i:], half.BF16FromFloat32(v))
			}
		}
		return gguf.WriteTensor{Name: name, Dims: dims, Type: typ, Data: gguf.BytesData(b)}
	}
	h, f, kv := uint64(sh.Hidden), uint64(sh.FFN), uint64(sh.Hidden/sh.Heads*sh.KVHeads)
	ts := []gguf.WriteTensor{tensor("token_embd.weight", sh.Type, h, uint64(sh.Vocab))}
	for l := 0; l < sh.Layers; l++ {
		p := "blk." + strconv.Itoa(l) + "."
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
	return gguf.WriteFile(ctx, path, &gguf.Spec{KVs: kvs, Tensors: ts}, gguf.WriteOptions{})
}
