package convert

import (
	"fmt"
	"strconv"
	"strings"
)

// llamaTensorName maps a Hugging Face Llama tensor name to llama.cpp's GGUF
// name (gguf-py's TensorNameMap for MODEL_ARCH.LLAMA). ok is false for a
// name llama.cpp does not know; skip is true for tensors the converter drops.
func llamaTensorName(hf string) (name string, bid int, ok, skip bool) {
	bid = -1
	if strings.HasSuffix(hf, ".rotary_emb.inv_freq") || strings.HasSuffix(hf, ".attention.masked_bias") || strings.HasSuffix(hf, ".attention.bias") {
		return "", bid, true, true
	}
	base, suffix := hf, ""
	for _, s := range []string{".weight", ".bias"} {
		if strings.HasSuffix(hf, s) {
			base, suffix = strings.TrimSuffix(hf, s), s
			break
		}
	}
	if suffix == "" {
		return "", bid, false, false
	}
	switch base {
	case "model.embed_tokens":
		return "token_embd" + suffix, bid, true, false
	case "model.norm":
		return "output_norm" + suffix, bid, true, false
	case "lm_head":
		return "output" + suffix, bid, true, false
	}
	rest, found := strings.CutPrefix(base, "model.layers.")
	if !found {
		return "", bid, false, false
	}
	num, sub, found := strings.Cut(rest, ".")
	if !found {
		return "", bid, false, false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 || strconv.Itoa(n) != num {
		return "", bid, false, false
	}
	var g string
	switch sub {
	case "input_layernorm":
		g = "attn_norm"
	case "self_attn.q_proj":
		g = "attn_q"
	case "self_attn.k_proj":
		g = "attn_k"
	case "self_attn.v_proj":
		g = "attn_v"
	case "self_attn.o_proj":
		g = "attn_output"
	case "post_attention_layernorm":
		g = "ffn_norm"
	case "mlp.gate_proj":
		g = "ffn_gate"
	case "mlp.up_proj":
		g = "ffn_up"
	case "mlp.down_proj":
		g = "ffn_down"
	case "self_attn.rotary_emb":
		return "", n, true, true
	default:
		return "", n, false, false
	}
	return fmt.Sprintf("blk.%d.%s%s", n, g, suffix), n, true, false
}

// permuteHeads returns the number of heads whose rows llama.cpp's converter
// permutes for this HF tensor (LlamaModel.permute), or 0 for none: q_proj by
// num_attention_heads, k_proj by num_key_value_heads.
func permuteHeads(hf string, hp *HParams) int64 {
	switch {
	case strings.HasSuffix(hf, "q_proj.weight"), strings.HasSuffix(hf, "q_proj.bias"):
		return hp.Heads
	case strings.HasSuffix(hf, "k_proj.weight"), strings.HasSuffix(hf, "k_proj.bias"):
		return hp.KVHeads
	}
	return 0
}

// permuteRows reorders rows within each head block the way
// weights.reshape(n_head, 2, rows/n_head/2, ...).swapaxes(1, 2) does: in each
// block of hd rows, output row 2j+k is input row k*hd/2+j. src and dst hold
// whole blocks of hd rows of cols values each.
func permuteRows(dst, src []float32, hd, cols int) {
	half := hd / 2
	for b := 0; b*hd*cols < len(src); b++ {
		in := src[b*hd*cols : (b+1)*hd*cols]
		out := dst[b*hd*cols : (b+1)*hd*cols]
		for j := 0; j < half; j++ {
			for k := 0; k < 2; k++ {
				copy(out[(2*j+k)*cols:(2*j+k+1)*cols], in[(k*half+j)*cols:(k*half+j+1)*cols])
			}
		}
	}
}

// permuteRowBytes is permuteRows for rows of rowBytes raw bytes.
func permuteRowBytes(dst, src []byte, hd, rowBytes int) {
	half := hd / 2
	block := hd * rowBytes
	for b := 0; b*block < len(src); b++ {
		in := src[b*block : (b+1)*block]
		out := dst[b*block : (b+1)*block]
		for j := 0; j < half; j++ {
			for k := 0; k < 2; k++ {
				copy(out[(2*j+k)*rowBytes:(2*j+k+1)*rowBytes], in[(k*half+j)*rowBytes:(k*half+j+1)*rowBytes])
			}
		}
	}
}
