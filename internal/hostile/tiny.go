package hostile

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"

	"github.com/sattva/sattva/gguf"
)

// The shape of TinyLlama: small enough that a fuzzer's inputs stay a few
// kilobytes, complete enough that llama.cpp loads it and generates.
const (
	TinyEmbd   = 16
	TinyHeads  = 2
	TinyKV     = 1
	TinyFF     = 32
	TinyLayers = 1
)

// tinyFirstWord is the index of the first token after the byte tokens.
const tinyFirstWord = 3 + 256

// TinyTokens returns TinyLlama's SentencePiece vocabulary: three specials,
// the 256 byte tokens llama.cpp's byte fallback needs, and a few words.
// Each call builds it anew.
func TinyTokens() []string {
	t := []string{"<unk>", "<s>", "</s>"}
	for b := range 256 {
		t = append(t, fmt.Sprintf("<0x%02X>", b))
	}
	return append(t, "▁", "▁a", "▁b", "a", "b", "c", "d", "e", "▁the", "x", "y", "z")
}

// TinyLlama returns a valid llama model in GGUF: SentencePiece vocabulary of
// 16 tokens, 1 layer, embedding 16, 2 heads, 1 KV head, F32 weights from a
// fixed seed. Every llama.cpp load of it succeeds; every hostile GGUF case is
// this file with one thing broken.
func TinyLlama() *Raw {
	n := len(TinyTokens())
	scores := make([]float32, n)
	types := make([]int32, n)
	for i := range n {
		scores[i] = -float32(i)
		types[i] = 1
	}
	types[0], types[1], types[2] = 2, 3, 3
	for i := 3; i < tinyFirstWord; i++ {
		types[i] = 6
	}
	r := &Raw{KVs: []gguf.KV{
		{Key: "general.architecture", Value: gguf.String("llama")},
		{Key: "general.name", Value: gguf.String("tiny")},
		{Key: "llama.context_length", Value: gguf.Uint32(64)},
		{Key: "llama.embedding_length", Value: gguf.Uint32(TinyEmbd)},
		{Key: "llama.block_count", Value: gguf.Uint32(TinyLayers)},
		{Key: "llama.feed_forward_length", Value: gguf.Uint32(TinyFF)},
		{Key: "llama.attention.head_count", Value: gguf.Uint32(TinyHeads)},
		{Key: "llama.attention.head_count_kv", Value: gguf.Uint32(TinyKV)},
		{Key: "llama.attention.layer_norm_rms_epsilon", Value: gguf.Float32(1e-5)},
		{Key: "llama.rope.freq_base", Value: gguf.Float32(10000)},
		{Key: "llama.rope.dimension_count", Value: gguf.Uint32(TinyEmbd / TinyHeads)},
		{Key: "general.file_type", Value: gguf.Uint32(0)},
		{Key: "tokenizer.ggml.model", Value: gguf.String("llama")},
		{Key: "tokenizer.ggml.pre", Value: gguf.String("default")},
		{Key: "tokenizer.ggml.tokens", Value: gguf.Strings(TinyTokens())},
		{Key: "tokenizer.ggml.scores", Value: gguf.Float32s(scores)},
		{Key: "tokenizer.ggml.token_type", Value: gguf.Int32s(types)},
		{Key: "tokenizer.ggml.bos_token_id", Value: gguf.Uint32(1)},
		{Key: "tokenizer.ggml.eos_token_id", Value: gguf.Uint32(2)},
		{Key: "tokenizer.ggml.unknown_token_id", Value: gguf.Uint32(0)},
		{Key: "tokenizer.ggml.add_bos_token", Value: gguf.Bool(true)},
		{Key: "tokenizer.ggml.add_eos_token", Value: gguf.Bool(false)},
	}}
	seed := uint64(0x5a77a)
	t := func(name string, dims ...uint64) {
		r.Tensors = append(r.Tensors, RawTensor{Name: name, Dims: dims, Type: gguf.TypeF32, Data: f32Data(dims, &seed, len(dims) == 1)})
	}
	e, q, kv := uint64(TinyEmbd), uint64(TinyEmbd), uint64(TinyEmbd/TinyHeads*TinyKV)
	t("token_embd.weight", e, uint64(n))
	t("output_norm.weight", e)
	t("output.weight", e, uint64(n))
	for i := range TinyLayers {
		b := "blk." + strconv.Itoa(i) + "."
		t(b+"attn_norm.weight", e)
		t(b+"attn_q.weight", e, q)
		t(b+"attn_k.weight", e, kv)
		t(b+"attn_v.weight", e, kv)
		t(b+"attn_output.weight", q, e)
		t(b+"ffn_norm.weight", e)
		t(b+"ffn_gate.weight", e, TinyFF)
		t(b+"ffn_down.weight", TinyFF, e)
		t(b+"ffn_up.weight", e, TinyFF)
	}
	return r
}

// f32Data returns little-endian float32s for dims: ones for a norm, small
// values from a splitmix64 stream otherwise.
func f32Data(dims []uint64, seed *uint64, norm bool) []byte {
	n := uint64(1)
	for _, d := range dims {
		n *= d
	}
	b := make([]byte, 4*n)
	for i := range n {
		v := float32(1)
		if !norm {
			*seed += 0x9e3779b97f4a7c15
			z := *seed
			z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
			z = (z ^ (z >> 27)) * 0x94d049bb133111eb
			z ^= z >> 31
			v = (float32(z>>40)/float32(1<<24) - 0.5) * 0.2
		}
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

// TinyLoRA returns a valid LoRA adapter for TinyLlama (rank 2 on attn_q of
// every layer).
func TinyLoRA() *Raw {
	r := &Raw{KVs: []gguf.KV{
		{Key: "general.architecture", Value: gguf.String("llama")},
		{Key: "general.type", Value: gguf.String("adapter")},
		{Key: "adapter.type", Value: gguf.String("lora")},
		{Key: "adapter.lora.alpha", Value: gguf.Float32(4)},
	}}
	seed := uint64(7)
	for i := range TinyLayers {
		b := "blk." + strconv.Itoa(i) + ".attn_q.weight"
		a := []uint64{TinyEmbd, 2}
		bb := []uint64{2, TinyEmbd}
		r.Tensors = append(r.Tensors,
			RawTensor{Name: b + ".lora_a", Dims: a, Type: gguf.TypeF32, Data: f32Data(a, &seed, false)},
			RawTensor{Name: b + ".lora_b", Dims: bb, Type: gguf.TypeF32, Data: f32Data(bb, &seed, false)})
	}
	return r
}
