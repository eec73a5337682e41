package modelcheck

import (
	"fmt"
	"strconv"

	"github.com/sattva/sattva/gguf"
)

// unusable are ggml types that no weight of a model may have: they have no
// matrix-vector kernels (Q8_1 and Q8_K are only activation formats).
var unusable = map[gguf.Type]bool{
	gguf.TypeQ8_1: true, gguf.TypeQ8_K: true,
	gguf.TypeI8: true, gguf.TypeI16: true, gguf.TypeI32: true, gguf.TypeI64: true, gguf.TypeF64: true,
}

type want struct {
	shape    []int
	required bool
}

// llamaTensors checks the tensors against llama-model.cpp's load_tensors
// for LLM_ARCH_LLAMA (dense): every required tensor present, no other tensor,
// every shape as the hyperparameters make it.
func (c *checker) llamaTensors(hp *hparams, nVocab int) error {
	if v, ok, err := c.u32("llama.vocab_size", false); err != nil {
		return err
	} else if ok && int(v) != nVocab {
		return c.kvErr("llama.vocab_size", "tensor.shape", "vocab_size %d but %d tokens", v, nVocab)
	}
	e, ff := hp.nEmbd, hp.nFF[0]
	q := hp.headK * hp.nHead[0]
	kv := hp.headK * hp.nHeadKV[0]
	ws := map[string]want{
		"token_embd.weight":  {[]int{e, nVocab}, true},
		"output_norm.weight": {[]int{e}, true},
		"output.weight":      {[]int{e, nVocab}, false},
	}
	if hp.ropeLongRS {
		ws["rope_factors_long.weight"] = want{[]int{hp.nRot / 2}, false}
		ws["rope_factors_short.weight"] = want{[]int{hp.nRot / 2}, false}
	} else {
		ws["rope_freqs.weight"] = want{[]int{hp.nRot / 2}, false}
	}
	for i := range hp.nLayer {
		b := "blk." + strconv.Itoa(i) + "."
		ws[b+"attn_norm.weight"] = want{[]int{e}, true}
		ws[b+"attn_q.weight"] = want{[]int{e, q}, true}
		ws[b+"attn_k.weight"] = want{[]int{e, kv}, true}
		ws[b+"attn_v.weight"] = want{[]int{e, kv}, true}
		ws[b+"attn_output.weight"] = want{[]int{q, e}, true}
		ws[b+"attn_q.bias"] = want{[]int{e}, false}
		ws[b+"attn_k.bias"] = want{[]int{kv}, false}
		ws[b+"attn_v.bias"] = want{[]int{kv}, false}
		ws[b+"attn_output.bias"] = want{[]int{e}, false}
		ws[b+"ffn_norm.weight"] = want{[]int{e}, true}
		ws[b+"ffn_gate.weight"] = want{[]int{e, ff}, true}
		ws[b+"ffn_down.weight"] = want{[]int{ff, e}, true}
		ws[b+"ffn_up.weight"] = want{[]int{e, ff}, true}
		ws[b+"ffn_gate.bias"] = want{[]int{ff}, false}
		ws[b+"ffn_down.bias"] = want{[]int{e}, false}
		ws[b+"ffn_up.bias"] = want{[]int{ff}, false}
	}
	for _, ti := range c.f.Tensors {
		w, ok := ws[ti.Name]
		if !ok {
			return c.tensorErr(ti.Name, "tensor.unexpected", "llama does not use a tensor of this name (%d layers)", hp.nLayer)
		}
		if unusable[ti.Type] {
			return c.tensorErr(ti.Name, "tensor.type", "type %v cannot hold model weights", ti.Type)
		}
		if !sameShape(ti.Dims, w.shape) {
			return c.tensorErr(ti.Name, "tensor.shape", "shape %v, the hyperparameters make it %v", ti.Dims, w.shape)
		}
	}
	// Required tensors, in a stable order for the message.
	for _, name := range []string{"token_embd.weight", "output_norm.weight"} {
		if _, ok := c.f.Tensor(name); !ok {
			return c.missing(name)
		}
	}
	for i := range hp.nLayer {
		b := "blk." + strconv.Itoa(i) + "."
		for _, s := range []string{"attn_norm.weight", "attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight",
			"ffn_norm.weight", "ffn_gate.weight", "ffn_down.weight", "ffn_up.weight"} {
			if _, ok := c.f.Tensor(b + s); !ok {
				return c.missing(b + s)
			}
		}
	}
	return nil
}

func (c *checker) missing(name string) error {
	return &gguf.FormatError{Offset: 0, Field: "tensor[" + strconv.Quote(name) + "]", Rule: "tensor.missing",
		Msg: fmt.Sprintf("llama requires tensor %s and the file has none", name)}
}

// sameShape compares GGUF dims with an expected shape, both padded with
// ones to ggml's four dimensions.
func sameShape(dims []uint64, want []int) bool {
	for i := range 4 {
		d, w := uint64(1), uint64(1)
		if i < len(dims) {
			d = dims[i]
		}
		if i < len(want) {
			if want[i] < 0 {
				return false
			}
			w = uint64(want[i])
		}
		if d != w {
			return false
		}
	}
	return true
}
