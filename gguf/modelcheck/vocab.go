package modelcheck

import (
	"math"
	"strconv"
	"strings"

	"github.com/sattva/sattva/gguf"
)

// The tokenizer keys llama-vocab.cpp reads.
const (
	keyTokModel  = "tokenizer.ggml.model"
	keyTokens    = "tokenizer.ggml.tokens"
	keyScores    = "tokenizer.ggml.scores"
	keyTokenType = "tokenizer.ggml.token_type"
	keyMerges    = "tokenizer.ggml.merges"
)

// tokenTypeByte is LLAMA_TOKEN_TYPE_BYTE.
const tokenTypeByte = 6

// vocab checks the tokenizer and returns the vocabulary size.
func (c *checker) vocab() (int, error) {
	model, err := c.str(keyTokModel, true)
	if err != nil {
		return 0, err
	}
	var defaults []uint32 // the default special ids llama.cpp uses for this tokenizer
	switch model {
	case "llama": // SentencePiece
		defaults = []uint32{1, 2, 0} // bos, eos, unk
	case "gpt2": // byte-level BPE
		defaults = []uint32{11, 11} // bos, eos
	default:
		return 0, c.kvErr(keyTokModel, "vocab.model", "tokenizer %q is not one sattva checks (llama, gpt2)", model)
	}

	tv, ok := c.f.Get(keyTokens)
	if !ok {
		return 0, c.kvErr(keyTokens, "key.type", "required key is missing")
	}
	tokens, isStrs := tv.V.([]string)
	if tv.Type != gguf.ValueArray || tv.Elem != gguf.ValueString || !isStrs {
		return 0, c.kvErr(keyTokens, "key.type", "is %s, must be ARRAY[STRING]", tv.TypeName())
	}
	n := len(tokens)
	if n == 0 {
		return 0, c.kvErr(keyTokens, "vocab.length", "the vocabulary is empty")
	}
	if n > math.MaxInt32 {
		return 0, c.kvErr(keyTokens, "vocab.length", "%d tokens exceed int32", n)
	}

	var scores []float32
	if v, ok := c.f.Get(keyScores); ok {
		s, isF := v.V.([]float32)
		if v.Type != gguf.ValueArray || v.Elem != gguf.ValueFloat32 || !isF {
			return 0, c.kvErr(keyScores, "key.type", "is %s, must be ARRAY[FLOAT32]", v.TypeName())
		}
		if len(s) != n {
			return 0, c.kvErr(keyScores, "vocab.length", "%d scores for %d tokens (llama.cpp reads one per token)", len(s), n)
		}
		for i, x := range s {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return 0, c.kvErr(keyScores, "vocab.length", "score of token %d is %v, must be finite", i, x)
			}
		}
		scores = s
	}
	_ = scores

	var types []int32
	if v, ok := c.f.Get(keyTokenType); ok {
		if v.Type != gguf.ValueArray || (v.Elem != gguf.ValueInt32 && v.Elem != gguf.ValueUint32) {
			return 0, c.kvErr(keyTokenType, "key.type", "is %s, must be ARRAY[INT32]", v.TypeName())
		}
		if l := v.Len(); l != n {
			return 0, c.kvErr(keyTokenType, "vocab.length", "%d token types for %d tokens (llama.cpp reads one per token)", l, n)
		}
		switch s := v.V.(type) {
		case []int32:
			types = s
		case []uint32:
			types = make([]int32, len(s))
			for i, x := range s {
				types[i] = int32(x)
			}
		default:
			return 0, c.kvErr(keyTokenType, "key.type", "is %s holding %T", v.TypeName(), v.V)
		}
	}

	// Token texts as llama.cpp stores them: an empty one becomes [EMPTY_i].
	seen := make(map[string]int, n)
	for i, w := range tokens {
		if w == "" {
			w = "[EMPTY_" + strconv.Itoa(i) + "]"
		}
		if j, dup := seen[w]; dup {
			return 0, c.kvErr(keyTokens, "vocab.unique-tokens", "token %d %q is the same text as token %d (llama.cpp asserts every token text is unique)", i, clip(w), j)
		}
		seen[w] = i
		if model == "llama" && types != nil && types[i] == tokenTypeByte && !isByteToken(w) {
			return 0, c.kvErr(keyTokens, "vocab.byte-token", "token %d %q has type BYTE but is not spelled <0xHH>", i, clip(w))
		}
	}

	if v, ok := c.f.Get(keyMerges); ok {
		if v.Type != gguf.ValueArray || v.Elem != gguf.ValueString {
			return 0, c.kvErr(keyMerges, "vocab.merges", "is %s, must be ARRAY[STRING]", v.TypeName())
		}
	} else if model == "gpt2" {
		return 0, c.kvErr(keyMerges, "vocab.merges", "a gpt2 (BPE) tokenizer needs merges")
	}
	if v, ok := c.f.Get("tokenizer.ggml.precompiled_charsmap"); ok {
		if v.Type != gguf.ValueArray || (v.Elem != gguf.ValueUint8 && v.Elem != gguf.ValueInt8) {
			return 0, c.kvErr("tokenizer.ggml.precompiled_charsmap", "key.type", "is %s, must be ARRAY[UINT8]", v.TypeName())
		}
	}

	// Special ids: llama.cpp reads them as UINT32 and keeps its default when
	// one is out of range, so the defaults must be inside the vocabulary too.
	given := map[string]bool{}
	for _, kv := range c.f.KVs {
		k := kv.Key
		if !strings.HasPrefix(k, "tokenizer.ggml.") || !strings.HasSuffix(k, "_token_id") {
			continue
		}
		id, _, err := c.u32(k, false)
		if err != nil {
			return 0, err
		}
		if int64(id) >= int64(n) {
			return 0, c.kvErr(k, "vocab.special-id", "token id %d is outside the vocabulary of %d", id, n)
		}
		given[k] = true
	}
	defKeys := []string{"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id"}
	for i, id := range defaults {
		if !given[defKeys[i]] && int64(id) >= int64(n) {
			return 0, c.kvErr(keyTokens, "vocab.special-id", "%s is absent and llama.cpp's default %d is outside the vocabulary of %d", defKeys[i], id, n)
		}
	}
	// SentencePiece's byte fallback looks every byte up as <0xHH> with
	// unordered_map::at: a missing one throws through the C API (terminate).
	if model == "llama" {
		for b := range 256 {
			w := byteToken(b)
			if _, ok := seen[w]; !ok {
				return 0, c.kvErr(keyTokens, "vocab.byte-tokens", "SentencePiece vocabulary lacks byte token %s (llama.cpp's byte fallback needs all 256)", w)
			}
		}
	}
	for _, k := range []string{"tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token", "tokenizer.ggml.add_sep_token",
		"tokenizer.ggml.add_space_prefix", "tokenizer.ggml.remove_extra_whitespaces"} {
		if err := c.boolean(k); err != nil {
			return 0, err
		}
	}
	return n, nil
}

func isByteToken(w string) bool {
	if len(w) != 6 || !strings.HasPrefix(w, "<0x") || w[5] != '>' {
		return false
	}
	_, err := strconv.ParseUint(w[3:5], 16, 8)
	return err == nil
}

func byteToken(b int) string {
	const hex = "0123456789ABCDEF"
	return "<0x" + string(hex[b>>4]) + string(hex[b&15]) + ">"
}

// clip shortens a token text for a message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
