package hostile

import (
	"encoding/binary"
	"math"
	"strconv"
	"strings"

	"github.com/sattva/sattva/gguf"
)

// GGUFKind says how a hostile GGUF is meant to be loaded.
type GGUFKind int

const (
	AsModel   GGUFKind = iota // a model (llamacpp.Load, quantize)
	AsAdapter                 // a LoRA adapter for TinyLlama
)

// GGUFCase is one hostile GGUF file.
type GGUFCase struct {
	Name string
	Kind GGUFKind
	// Rule is the modelcheck rule that must refuse it, or "" when sattva's
	// GGUF reader itself refuses it (a *gguf.FormatError without Rule).
	Rule string
	Data []byte
}

func model(name, rule string, edit func(r *Raw)) GGUFCase {
	r := TinyLlama()
	edit(r)
	return GGUFCase{Name: name, Kind: AsModel, Rule: rule, Data: r.Bytes()}
}

func adapter(name, rule string, edit func(r *Raw)) GGUFCase {
	r := TinyLoRA()
	edit(r)
	return GGUFCase{Name: name, Kind: AsAdapter, Rule: rule, Data: r.Bytes()}
}

func setTokens(r *Raw, toks []string) {
	n := len(toks)
	r.Set("tokenizer.ggml.tokens", gguf.Strings(toks))
	r.Set("tokenizer.ggml.scores", gguf.Float32s(make([]float32, n)))
	tt := make([]int32, n)
	for i := range tt {
		tt[i] = 1
	}
	r.Set("tokenizer.ggml.token_type", gguf.Int32s(tt))
}

func gpt2(r *Raw) {
	r.Set("tokenizer.ggml.model", gguf.String("gpt2"))
	r.Set("tokenizer.ggml.merges", gguf.Strings([]string{"a b", "▁ a"}))
}

// GGUFCases returns the catalogue of hostile GGUF files, the reproductions
// of the robustness review first. Each breaks one rule of TinyLlama or
// TinyLoRA.
func GGUFCases() []GGUFCase {
	var cs []GGUFCase
	for _, group := range []func() []GGUFCase{reviewCases, fileCases, keyTypeCases, hparamCases, vocabCases, tensorCases, adapterCases} {
		cs = append(cs, group()...)
	}
	return cs
}

func u32v(x uint32) gguf.Value  { return gguf.Uint32(x) }
func f32v(x float32) gguf.Value { return gguf.Float32(x) }

// reviewCases break the robustness review's reproductions.
func reviewCases() []GGUFCase {
	return []GGUFCase{
		model("tokens-int32", "key.type", func(r *Raw) { r.Set("tokenizer.ggml.tokens", gguf.Int32s(make([]int32, len(TinyTokens())))) }),
		model("tokens-all-duplicates", "vocab.unique-tokens", func(r *Raw) {
			t := make([]string, len(TinyTokens()))
			for i := range t {
				t[i] = "a"
			}
			r.Set("tokenizer.ggml.tokens", gguf.Strings(t))
		}),
		model("merges-int32", "vocab.merges", func(r *Raw) { gpt2(r); r.Set("tokenizer.ggml.merges", gguf.Int32s([]int32{1, 2})) }),
		model("rms-eps-nan", "hparam.range", func(r *Raw) { r.Set("llama.attention.layer_norm_rms_epsilon", f32v(float32(math.NaN()))) }),
		model("rms-eps-negative", "hparam.range", func(r *Raw) { r.Set("llama.attention.layer_norm_rms_epsilon", f32v(-1)) }),
		model("block-count-0", "hparam.range", func(r *Raw) { r.Set("llama.block_count", u32v(0)) }),
		model("alignment-1", "file.alignment", func(r *Raw) { r.Set("general.alignment", u32v(1)); r.Alignment = 1 }),
		model("empty-key", "file.empty-key", func(r *Raw) { r.Set("", gguf.String("x")) }),
		{Name: "string-length-2^63", Kind: AsModel, Data: hugeString()},
		adapter("lora-alpha-string", "adapter.keys", func(r *Raw) { r.Set("adapter.lora.alpha", gguf.String("16")) }),
		model("scores-short", "vocab.length", func(r *Raw) { r.Set("tokenizer.ggml.scores", gguf.Float32s(make([]float32, 3))) }),
		model("token-type-short", "vocab.length", func(r *Raw) { r.Set("tokenizer.ggml.token_type", gguf.Int32s([]int32{1, 1})) }),
	}
}

// fileCases break the file's structure: dimensions, alignment, names, layout, versions.
func fileCases() []GGUFCase {
	return []GGUFCase{
		model("zero-dim", "tensor.zero-dim", func(r *Raw) { r.Tensor("output_norm.weight").Dims = []uint64{16, 0} }),
		model("zero-dim-first", "tensor.zero-dim", func(r *Raw) {
			r.Tensor("output_norm.weight").Dims = []uint64{0}
			r.Tensor("output_norm.weight").Data = nil
		}),
		model("nested-array", "file.nested-array", func(r *Raw) {
			r.Set("general.tags", gguf.Arrays([]gguf.Value{gguf.Uint32s([]uint32{1})}))
		}),
		model("alignment-string", "", func(r *Raw) { r.Set("general.alignment", gguf.String("32")) }),
		model("alignment-3", "", func(r *Raw) { r.Set("general.alignment", u32v(3)) }),
		model("alignment-16", "file.alignment", func(r *Raw) { r.Set("general.alignment", u32v(16)); r.Alignment = 16 }),
		model("tensor-name-64", "tensor.name-length", func(r *Raw) { r.Tensor("output.weight").Name = strings.Repeat("n", 64) }),
		model("tensor-layout-swapped", "tensor.layout", func(r *Raw) {
			a, b := r.Tensors[0], r.Tensors[1]
			r.Tensors[0], r.Tensors[1] = b, a
			o0 := uint64(0)
			o1 := uint64((len(a.Data) + 31) / 32 * 32)
			r.Tensors[0].Offset, r.Tensors[1].Offset = &o1, &o0
		}),
		model("tensor-type-i32", "tensor.type", func(r *Raw) { r.Tensor("output_norm.weight").Type = gguf.TypeI32 }),
		model("tensor-past-eof", "", func(r *Raw) { o := uint64(1 << 40); r.Tensors[len(r.Tensors)-1].Offset = &o }),
		model("version-1", "", func(r *Raw) { r.Version = 1 }),
		model("version-big-endian", "", func(r *Raw) { r.Version = 3 << 24 }),
		model("bool-2", "", func(r *Raw) {
			r.Delete("tokenizer.ggml.add_bos_token")
			r.KVs = append(r.KVs, gguf.KV{Key: "tokenizer.ggml.add_bos_token", Value: gguf.Value{Type: gguf.ValueBool, V: uint8(2)}})
		}),
		model("duplicate-key", "", func(r *Raw) { r.KVs = append(r.KVs, r.KVs[1]) }),
	}
}

// keyTypeCases break keys of the wrong type, or missing.
func keyTypeCases() []GGUFCase {
	return []GGUFCase{
		model("arch-uint32", "key.type", func(r *Raw) { r.Set("general.architecture", u32v(1)) }),
		model("arch-missing", "key.type", func(r *Raw) { r.Delete("general.architecture") }),
		model("arch-gemma3", "arch.supported", func(r *Raw) { r.Set("general.architecture", gguf.String("gemma3")) }),
		model("arch-unknown", "arch.supported", func(r *Raw) { r.Set("general.architecture", gguf.String("nonesuch")) }),
		model("head-count-f32-array", "key.type", func(r *Raw) { r.Set("llama.attention.head_count", gguf.Float32s([]float32{2})) }),
		model("head-count-array-long", "key.type", func(r *Raw) { r.Set("llama.attention.head_count", gguf.Uint32s([]uint32{2, 2, 2})) }),
		model("ffn-string", "key.type", func(r *Raw) { r.Set("llama.feed_forward_length", gguf.String("32")) }),
		model("ctx-int64", "key.type", func(r *Raw) { r.Set("llama.context_length", gguf.Int64(64)) }),
		model("eps-f64", "key.type", func(r *Raw) { r.Set("llama.attention.layer_norm_rms_epsilon", gguf.Float64(1e-5)) }),
		model("add-bos-uint8", "key.type", func(r *Raw) { r.Set("tokenizer.ggml.add_bos_token", gguf.Uint8(1)) }),
		model("bos-id-int32", "key.type", func(r *Raw) { r.Set("tokenizer.ggml.bos_token_id", gguf.Int32(1)) }),
		model("scores-int32", "key.type", func(r *Raw) { r.Set("tokenizer.ggml.scores", gguf.Int32s(make([]int32, len(TinyTokens())))) }),
		model("token-type-f32", "key.type", func(r *Raw) { r.Set("tokenizer.ggml.token_type", gguf.Float32s(make([]float32, len(TinyTokens())))) }),
		model("chat-template-uint32", "key.type", func(r *Raw) { r.Set("tokenizer.chat_template", u32v(1)) }),
		model("general-name-array", "key.type", func(r *Raw) { r.Set("general.name", gguf.Strings([]string{"x"})) }),
		model("pre-uint32", "key.type", func(r *Raw) { r.Set("tokenizer.ggml.pre", u32v(7)) }),
	}
}

// hparamCases break hyperparameters out of range or inconsistent.
func hparamCases() []GGUFCase {
	return []GGUFCase{
		model("block-count-513", "hparam.range", func(r *Raw) { r.Set("llama.block_count", u32v(513)) }),
		model("block-count-2", "tensor.missing", func(r *Raw) { r.Set("llama.block_count", u32v(2)) }),
		model("ctx-0", "hparam.range", func(r *Raw) { r.Set("llama.context_length", u32v(0)) }),
		model("embd-0", "hparam.range", func(r *Raw) { r.Set("llama.embedding_length", u32v(0)) }),
		model("heads-0", "hparam.range", func(r *Raw) { r.Set("llama.attention.head_count", u32v(0)) }),
		model("heads-3", "hparam.divisible", func(r *Raw) { r.Set("llama.attention.head_count", u32v(3)) }),
		model("kv-heads-0", "hparam.range", func(r *Raw) { r.Set("llama.attention.head_count_kv", u32v(0)) }),
		model("kv-heads-3", "hparam.divisible", func(r *Raw) { r.Set("llama.attention.head_count_kv", u32v(3)) }),
		model("ffn-0", "hparam.range", func(r *Raw) { r.Set("llama.feed_forward_length", u32v(0)) }),
		model("eps-inf", "hparam.range", func(r *Raw) { r.Set("llama.attention.layer_norm_rms_epsilon", f32v(float32(math.Inf(1)))) }),
		model("eps-0", "hparam.range", func(r *Raw) { r.Set("llama.attention.layer_norm_rms_epsilon", f32v(0)) }),
		model("eps-missing", "key.type", func(r *Raw) { r.Delete("llama.attention.layer_norm_rms_epsilon") }),
		model("rope-base-0", "hparam.range", func(r *Raw) { r.Set("llama.rope.freq_base", f32v(0)) }),
		model("rope-base-nan", "hparam.range", func(r *Raw) { r.Set("llama.rope.freq_base", f32v(float32(math.NaN()))) }),
		model("rope-dims-6", "hparam.divisible", func(r *Raw) { r.Set("llama.rope.dimension_count", u32v(6)) }),
		model("rope-scaling-bogus", "hparam.rope-scaling", func(r *Raw) { r.Set("llama.rope.scaling.type", gguf.String("bogus")) }),
		model("rope-factor-negative", "hparam.range", func(r *Raw) { r.Set("llama.rope.scaling.factor", f32v(-2)) }),
		model("key-length-0", "hparam.range", func(r *Raw) { r.Set("llama.attention.key_length", u32v(0)) }),
		model("value-length-4", "hparam.divisible", func(r *Raw) { r.Set("llama.attention.value_length", u32v(4)) }),
		model("experts-used-no-experts", "hparam.experts", func(r *Raw) { r.Set("llama.expert_used_count", u32v(1)) }),
		model("experts-1000", "hparam.experts", func(r *Raw) { r.Set("llama.expert_count", u32v(1000)) }),
		model("experts-used-0", "hparam.experts", func(r *Raw) { r.Set("llama.expert_count", u32v(8)) }),
		model("experts-moe", "arch.supported", func(r *Raw) { r.Set("llama.expert_count", u32v(8)); r.Set("llama.expert_used_count", u32v(2)) }),
		model("vocab-size-mismatch", "tensor.shape", func(r *Raw) { r.Set("llama.vocab_size", u32v(17)) }),
		model("token-embd-cut-vocab", "tensor.shape", func(r *Raw) {
			r.Tensor("token_embd.weight").Dims[1] = 16
			r.Tensor("token_embd.weight").Data = r.Tensor("token_embd.weight").Data[:16*16*4]
		}),
	}
}

// vocabCases break the vocabulary.
func vocabCases() []GGUFCase {
	return []GGUFCase{
		model("tokenizer-t5", "vocab.model", func(r *Raw) { r.Set("tokenizer.ggml.model", gguf.String("t5")) }),
		model("tokenizer-missing", "key.type", func(r *Raw) { r.Delete("tokenizer.ggml.model") }),
		model("tokens-missing", "key.type", func(r *Raw) { r.Delete("tokenizer.ggml.tokens") }),
		model("tokens-empty", "vocab.length", func(r *Raw) { setTokens(r, nil) }),
		model("tokens-duplicate-pair", "vocab.unique-tokens", func(r *Raw) {
			t := TinyTokens()
			t[len(t)-1] = t[len(t)-2]
			r.Set("tokenizer.ggml.tokens", gguf.Strings(t))
		}),
		model("tokens-empty-collides", "vocab.unique-tokens", func(r *Raw) {
			t := TinyTokens()
			n := len(t)
			t[n-2], t[n-1] = "", "[EMPTY_"+strconv.Itoa(n-2)+"]"
			r.Set("tokenizer.ggml.tokens", gguf.Strings(t))
		}),
		model("scores-long", "vocab.length", func(r *Raw) { r.Set("tokenizer.ggml.scores", gguf.Float32s(make([]float32, 40))) }),
		model("scores-nan", "vocab.length", func(r *Raw) {
			s := make([]float32, len(TinyTokens()))
			s[3] = float32(math.NaN())
			r.Set("tokenizer.ggml.scores", gguf.Float32s(s))
		}),
		model("byte-token-misspelled", "vocab.byte-token", func(r *Raw) {
			t := TinyTokens()
			t[3+10] = "<0"
			r.Set("tokenizer.ggml.tokens", gguf.Strings(t))
		}),
		model("bos-id-999", "vocab.special-id", func(r *Raw) { r.Set("tokenizer.ggml.bos_token_id", u32v(999)) }),
		model("eot-id-past-end", "vocab.special-id", func(r *Raw) { r.Set("tokenizer.ggml.eot_token_id", u32v(uint32(len(TinyTokens())))) }),
		model("spm-no-byte-tokens", "vocab.byte-tokens", func(r *Raw) {
			t := TinyTokens()
			t[3+0x41] = "<byte-A>"
			r.Set("tokenizer.ggml.tokens", gguf.Strings(t))
			tt := make([]int32, len(t))
			for i := range tt {
				tt[i] = 1
			}
			r.Set("tokenizer.ggml.token_type", gguf.Int32s(tt))
		}),
		model("tiny-vocab-default-eos", "vocab.special-id", func(r *Raw) {
			setTokens(r, []string{"a", "b"})
			r.Delete("tokenizer.ggml.bos_token_id")
			r.Delete("tokenizer.ggml.eos_token_id")
			r.Delete("tokenizer.ggml.unknown_token_id")
		}),
		model("gpt2-no-merges", "vocab.merges", func(r *Raw) { r.Set("tokenizer.ggml.model", gguf.String("gpt2")) }),
		model("charsmap-string", "key.type", func(r *Raw) { r.Set("tokenizer.ggml.precompiled_charsmap", gguf.Strings([]string{"x"})) }),
	}
}

// tensorCases break tensors against the hyperparameters.
func tensorCases() []GGUFCase {
	return []GGUFCase{
		model("q-shape", "tensor.shape", func(r *Raw) {
			r.Tensor("blk.0.attn_q.weight").Dims = []uint64{16, 8}
			r.Tensor("blk.0.attn_q.weight").Data = r.Tensor("blk.0.attn_q.weight").Data[:16*8*4]
		}),
		model("embd-vocab-shape", "tensor.shape", func(r *Raw) {
			r.Tensor("token_embd.weight").Dims = []uint64{16, 8}
			r.Tensor("token_embd.weight").Data = r.Tensor("token_embd.weight").Data[:16*8*4]
		}),
		model("norm-2d", "tensor.shape", func(r *Raw) { r.Tensor("output_norm.weight").Dims = []uint64{8, 2} }),
		model("missing-ffn-up", "tensor.missing", func(r *Raw) { r.DropTensor("blk.0.ffn_up.weight") }),
		model("missing-embd", "tensor.missing", func(r *Raw) { r.DropTensor("token_embd.weight") }),
		model("extra-tensor", "tensor.unexpected", func(r *Raw) {
			r.Tensors = append(r.Tensors, RawTensor{Name: "blk.7.attn_q.weight", Dims: []uint64{4}, Type: gguf.TypeF32, Data: make([]byte, 16)})
		}),
	}
}

// adapterCases break LoRA adapters.
func adapterCases() []GGUFCase {
	return []GGUFCase{
		adapter("lora-alpha-nan", "adapter.keys", func(r *Raw) { r.Set("adapter.lora.alpha", f32v(float32(math.NaN()))) }),
		adapter("lora-alpha-uint32", "adapter.keys", func(r *Raw) { r.Set("adapter.lora.alpha", u32v(16)) }),
		adapter("lora-type-uint32", "key.type", func(r *Raw) { r.Set("general.type", u32v(1)) }),
		adapter("lora-adapter-type-missing", "key.type", func(r *Raw) { r.Delete("adapter.type") }),
		adapter("lora-general-type-model", "adapter.keys", func(r *Raw) { r.Set("general.type", gguf.String("model")) }),
		adapter("lora-arch-other", "arch.supported", func(r *Raw) { r.Set("general.architecture", gguf.String("qwen2")) }),
		adapter("lora-zero-dim", "tensor.zero-dim", func(r *Raw) { r.Tensors[0].Dims = []uint64{16, 0}; r.Tensors[0].Data = nil }),
		adapter("lora-alora-string", "key.type", func(r *Raw) { r.Set("adapter.alora.invocation_tokens", gguf.String("x")) }),
	}
}

// hugeString is the review's 45-byte file: one KV whose key claims 2^63 bytes.
func hugeString() []byte {
	b := []byte(gguf.Magic)
	b = binary.LittleEndian.AppendUint32(b, 3)
	b = binary.LittleEndian.AppendUint64(b, 0)
	b = binary.LittleEndian.AppendUint64(b, 1)
	b = binary.LittleEndian.AppendUint64(b, 1<<63)
	for len(b) < 45 {
		b = append(b, 'x')
	}
	return b
}

// Truncations returns prefixes of data at every step bytes (a file cut short
// anywhere in its metadata).
func Truncations(name string, data []byte, step int) []GGUFCase {
	var out []GGUFCase
	for n := 0; n < len(data); n += step {
		out = append(out, GGUFCase{Name: name + "-cut-" + strconv.Itoa(n), Data: append([]byte(nil), data[:n]...)})
	}
	return out
}
