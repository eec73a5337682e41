package modelcheck

import (
	"math"

	"github.com/sattva/sattva/gguf"
)

// hparams are the hyperparameters llama-model.cpp's load_hparams reads for
// the architectures of Architectures().
type hparams struct {
	nLayer     int
	nEmbd      int
	nHead      []int // per layer
	nHeadKV    []int
	nFF        []int
	headK      int // n_embd_head_k
	headV      int
	nRot       int
	nExpert    int
	ropeLongRS bool // rope scaling type longrope (per-layer rope factor tensors)
}

// ropeScalingTypes are llama.cpp's LLAMA_ROPE_SCALING_TYPES names.
var ropeScalingTypes = map[string]bool{"none": true, "linear": true, "yarn": true, "longrope": true}

// hparams reads and checks the hyperparameters of arch that load_hparams
// reads, in this order: sizes, experts, heads, then norms and rope; the
// first fault found is returned.
func (c *checker) hparams(arch string) (*hparams, error) {
	hp := &hparams{}
	key := func(s string) string { return arch + "." + s }
	for _, step := range []func(func(string) string, *hparams) error{c.sizes, c.experts, c.heads, c.normAndRope} {
		if err := step(key, hp); err != nil {
			return nil, err
		}
	}
	return hp, nil
}

// sizes reads the context, embedding and block counts.
func (c *checker) sizes(key func(string) string, hp *hparams) error {
	ctxLen, _, err := c.u32(key("context_length"), true)
	if err != nil {
		return err
	}
	if ctxLen == 0 {
		return c.kvErr(key("context_length"), "hparam.range", "is 0")
	}
	embd, _, err := c.u32(key("embedding_length"), true)
	if err != nil {
		return err
	}
	if embd == 0 {
		return c.kvErr(key("embedding_length"), "hparam.range", "is 0")
	}
	hp.nEmbd = int(embd)
	nl, _, err := c.u32(key("block_count"), true)
	if err != nil {
		return err
	}
	if nl == 0 || nl > maxLayers {
		return c.kvErr(key("block_count"), "hparam.range", "is %d, must be in 1..%d", nl, maxLayers)
	}
	hp.nLayer = int(nl)
	return nil
}

// experts checks the relations llama-model.cpp asserts between the expert
// counts, and refuses mixture-of-experts files.
func (c *checker) experts(key func(string) string, hp *hparams) error {
	ne, _, err := c.u32(key("expert_count"), false)
	if err != nil {
		return err
	}
	nu, _, err := c.u32(key("expert_used_count"), false)
	if err != nil {
		return err
	}
	ng, _, err := c.u32(key("expert_group_count"), false)
	if err != nil {
		return err
	}
	ngu, _, err := c.u32(key("expert_group_used_count"), false)
	if err != nil {
		return err
	}
	switch {
	case ne > maxExperts:
		return c.kvErr(key("expert_count"), "hparam.experts", "%d experts exceed %d", ne, maxExperts)
	case nu > ne:
		return c.kvErr(key("expert_used_count"), "hparam.experts", "%d experts used of %d", nu, ne)
	case ne > 0 && (nu == 0 || ng >= ne):
		return c.kvErr(key("expert_count"), "hparam.experts", "%d experts need 1..%d used and fewer than %d groups (used %d, groups %d)", ne, ne, ne, nu, ng)
	case ne > 0 && ng > 1 && (ne%ng != 0 || ngu == 0 || ngu >= ng):
		return c.kvErr(key("expert_group_count"), "hparam.experts", "%d groups of %d experts with %d used groups", ng, ne, ngu)
	case ne == 0 && (nu != 0 || ng != 0):
		return c.kvErr(key("expert_used_count"), "hparam.experts", "no experts but %d used and %d groups", nu, ng)
	case ne > 0:
		// llama.cpp can run mixture-of-experts llama files, but sattva checks
		// only the dense tensor layout.
		return c.kvErr(key("expert_count"), "arch.supported", "mixture-of-experts models (%d experts) are not checked by sattva", ne)
	}
	return nil
}

// heads reads the per-layer head and FFN counts, which must be the same
// on every layer, and the head and rope dimensions.
func (c *checker) heads(key func(string) string, hp *hparams) error {
	var err error
	if hp.nFF, err = c.perLayer(key("feed_forward_length"), hp.nLayer, true); err != nil {
		return err
	}
	if hp.nHead, err = c.perLayer(key("attention.head_count"), hp.nLayer, true); err != nil {
		return err
	}
	if _, ok := c.f.Get(key("attention.head_count_kv")); ok {
		if hp.nHeadKV, err = c.perLayer(key("attention.head_count_kv"), hp.nLayer, true); err != nil {
			return err
		}
	} else {
		hp.nHeadKV = hp.nHead
	}
	// llama's load_tensors sizes every layer from layer 0's head and FFN
	// counts, so they must be the same on all layers.
	for i := range hp.nLayer {
		for _, p := range []struct {
			k string
			v []int
		}{{"attention.head_count", hp.nHead}, {"attention.head_count_kv", hp.nHeadKV}, {"feed_forward_length", hp.nFF}} {
			if p.v[i] != p.v[0] {
				return c.kvErr(key(p.k), "hparam.range", "layer %d has %d, layer 0 %d: llama sizes every layer from layer 0", i, p.v[i], p.v[0])
			}
		}
		if hp.nHeadKV[i] == 0 || hp.nHead[i]%hp.nHeadKV[i] != 0 {
			return c.kvErr(key("attention.head_count_kv"), "hparam.divisible", "layer %d: %d heads are not a multiple of %d KV heads", i, hp.nHead[i], hp.nHeadKV[i])
		}
	}
	nHead := hp.nHead[0]
	if hp.nEmbd%nHead != 0 {
		return c.kvErr(key("attention.head_count"), "hparam.divisible", "embedding length %d is not a multiple of %d heads", hp.nEmbd, nHead)
	}
	hp.headK = hp.nEmbd / nHead
	hp.headV = hp.headK
	if v, ok, err := c.u32(key("attention.key_length"), false); err != nil {
		return err
	} else if ok {
		if v == 0 {
			return c.kvErr(key("attention.key_length"), "hparam.range", "is 0")
		}
		hp.headK = int(v)
	}
	if v, ok, err := c.u32(key("attention.value_length"), false); err != nil {
		return err
	} else if ok {
		if v == 0 {
			return c.kvErr(key("attention.value_length"), "hparam.range", "is 0")
		}
		hp.headV = int(v)
	}
	if hp.headK != hp.headV {
		return c.kvErr(key("attention.value_length"), "hparam.divisible", "value length %d differs from key length %d (llama's output projection assumes them equal)", hp.headV, hp.headK)
	}
	hp.nRot = hp.headK
	if v, ok, err := c.u32(key("rope.dimension_count"), false); err != nil {
		return err
	} else if ok {
		hp.nRot = int(v)
	}
	if hp.nRot != hp.headK {
		return c.kvErr(key("rope.dimension_count"), "hparam.divisible", "rope dimensions %d differ from the head dimension %d", hp.nRot, hp.headK)
	}
	if hp.nRot%2 != 0 {
		return c.kvErr(key("rope.dimension_count"), "hparam.divisible", "rope dimensions %d are odd", hp.nRot)
	}
	return nil
}

// normAndRope checks the norm epsilon and the rope parameters.
func (c *checker) normAndRope(key func(string) string, hp *hparams) error {
	eps, _, err := c.f32(key("attention.layer_norm_rms_epsilon"), true)
	if err != nil {
		return err
	}
	if !(eps > 0 && eps < 1) {
		return c.kvErr(key("attention.layer_norm_rms_epsilon"), "hparam.range", "is %v, must be in (0, 1)", eps)
	}
	if v, ok, err := c.f32(key("rope.freq_base"), false); err != nil {
		return err
	} else if ok && !(v > 0) {
		return c.kvErr(key("rope.freq_base"), "hparam.range", "is %v, must be positive", v)
	}
	for _, k := range []string{key("rope.scaling.factor"), key("rope.scale_linear")} {
		if v, ok, err := c.f32(k, false); err != nil {
			return err
		} else if ok && v < 0 {
			return c.kvErr(k, "hparam.range", "is %v, must not be negative", v)
		}
	}
	if v, ok, err := c.f32(key("rope.scaling.attn_factor"), false); err != nil {
		return err
	} else if ok && !(v > 0) {
		return c.kvErr(key("rope.scaling.attn_factor"), "hparam.range", "is %v, must be positive", v)
	}
	if _, _, err := c.u32(key("rope.scaling.original_context_length"), false); err != nil {
		return err
	}
	if err := c.boolean(key("rope.scaling.finetuned")); err != nil {
		return err
	}
	rs, err := c.str(key("rope.scaling.type"), false)
	if err != nil {
		return err
	}
	if _, ok := c.f.Get(key("rope.scaling.type")); ok && !ropeScalingTypes[rs] {
		return c.kvErr(key("rope.scaling.type"), "hparam.rope-scaling", "rope scaling type %q is none of none, linear, yarn, longrope", rs)
	}
	hp.ropeLongRS = rs == "longrope"
	return nil
}

// perLayer reads a key that llama.cpp's get_key_or_arr reads: a UINT32 for
// every layer, or an array of n INT32/UINT32 (any other element type is a
// GGML_ASSERT in get_arr). Values must be positive when positive is set.
func (c *checker) perLayer(key string, n int, positive bool) ([]int, error) {
	v, ok := c.f.Get(key)
	if !ok {
		return nil, c.kvErr(key, "key.type", "required key is missing")
	}
	out := make([]int, n)
	switch {
	case v.Type == gguf.ValueUint32:
		x := v.V.(uint32)
		for i := range out {
			out[i] = int(x)
		}
	case v.Type == gguf.ValueArray && (v.Elem == gguf.ValueUint32 || v.Elem == gguf.ValueInt32):
		if v.Len() != n {
			return nil, c.kvErr(key, "key.type", "array of %d values for %d layers", v.Len(), n)
		}
		switch s := v.V.(type) {
		case []uint32:
			for i, x := range s {
				out[i] = int(x)
			}
		case []int32:
			for i, x := range s {
				out[i] = int(x)
			}
		}
	default:
		return nil, c.kvErr(key, "key.type", "is %s, must be UINT32 or ARRAY[INT32] of one value per layer", v.TypeName())
	}
	for i, x := range out {
		if positive && (x <= 0 || x > math.MaxInt32) {
			return nil, c.kvErr(key, "hparam.range", "layer %d: %d, must be positive", i, x)
		}
	}
	return out, nil
}
