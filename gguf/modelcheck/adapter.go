package modelcheck

import (
	"math"

	"github.com/sattva/sattva/gguf"
)

// adapter checks the keys llama-adapter.cpp reads with asserting getters
// (gguf_get_val_str, gguf_get_val_f32) and the tensor names it accepts.
func (c *checker) adapter() error {
	for _, k := range []string{"general.type", "general.architecture", "adapter.type"} {
		s, err := c.str(k, true)
		if err != nil {
			return err
		}
		switch {
		case k == "general.type" && s != "adapter":
			return c.kvErr(k, "adapter.keys", "is %q, a LoRA adapter says \"adapter\"", s)
		case k == "adapter.type" && s != "lora":
			return c.kvErr(k, "adapter.keys", "is %q, a LoRA adapter says \"lora\"", s)
		case k == "general.architecture" && !isSupported(s):
			return c.kvErr(k, "arch.supported", "architecture %q is not one sattva checks", s)
		}
	}
	if v, ok := c.f.Get("adapter.lora.alpha"); ok {
		a, isF := v.V.(float32)
		if v.Type != gguf.ValueFloat32 || !isF {
			return c.kvErr("adapter.lora.alpha", "adapter.keys", "is %s, must be FLOAT32 (llama.cpp asserts the type)", v.TypeName())
		}
		if math.IsNaN(float64(a)) || math.IsInf(float64(a), 0) || a < 0 {
			return c.kvErr("adapter.lora.alpha", "adapter.keys", "is %v, must be finite and not negative", a)
		}
	}
	if v, ok := c.f.Get("adapter.alora.invocation_tokens"); ok && (v.Type != gguf.ValueArray || v.Elem != gguf.ValueUint32) {
		return c.kvErr("adapter.alora.invocation_tokens", "key.type", "is %s, must be ARRAY[UINT32]", v.TypeName())
	}
	for _, ti := range c.f.Tensors {
		if unusable[ti.Type] {
			return c.tensorErr(ti.Name, "tensor.type", "type %v cannot hold adapter weights", ti.Type)
		}
	}
	return nil
}
