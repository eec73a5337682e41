package quantize

import (
	"errors"
	"testing"

	"github.com/sattva/sattva/gguf"
)

// TestNoDimsNoPanic: a tensor with no dimensions, or with a dimension of 0,
// is refused with a *gguf.FormatError by the planner and by QuantizeSpec
// (both panicked: an index out of range in PlanTensors, a division by zero
// in QuantizeSpec).
func TestNoDimsNoPanic(t *testing.T) {
	for _, dims := range [][]uint64{nil, {0}, {32, 0}, {0, 32}} {
		infos := []gguf.TensorInfo{{Name: "blk.0.attn_q.weight", Dims: dims, Type: gguf.TypeF32}}
		_, err := PlanTensors(ModelInfo{Arch: "llama", NLayer: 1}, infos, gguf.MostlyQ8_0, PlanOptions{})
		var fe *gguf.FormatError
		if !errors.As(err, &fe) || fe.Rule != "tensor.zero-dim" {
			t.Fatalf("PlanTensors %v: %v", dims, err)
		}
		s := &gguf.Spec{KVs: []gguf.KV{{Key: "general.architecture", Value: gguf.String("llama")}},
			Tensors: []gguf.WriteTensor{{Name: "blk.0.attn_q.weight", Dims: dims, Type: gguf.TypeF32, Data: gguf.BytesData(nil)}}}
		if _, _, err := QuantizeSpec(s, gguf.MostlyQ8_0, Options{}); !errors.As(err, &fe) {
			t.Fatalf("QuantizeSpec %v: %v", dims, err)
		}
	}
}

// FuzzPlan: the type planner never panics, whatever the tensor shapes and
// names and the model's metadata; each plan keeps every tensor once.
func FuzzPlan(f *testing.F) {
	f.Add("blk.0.attn_v.weight", uint64(64), uint64(64), uint64(1), 2, uint8(15), uint8(1), uint8(0))
	f.Add("output.weight", uint64(4096), uint64(32000), uint64(0), 3, uint8(7), uint8(80), uint8(8))
	f.Add("blk.3.ffn_down_exps.weight", uint64(14336), uint64(4096), uint64(8), 3, uint8(12), uint8(32), uint8(8))
	f.Add("token_embd.weight", uint64(0), uint64(0), uint64(0), 0, uint8(2), uint8(0), uint8(0))
	f.Fuzz(func(t *testing.T, name string, d0, d1, d2 uint64, nd int, ft, nLayer, nExpert uint8) {
		dims := []uint64{d0, d1, d2}[:max(0, min(nd, 3))]
		infos := []gguf.TensorInfo{
			{Name: name, Dims: dims, Type: gguf.TypeF32},
			{Name: "output.weight", Dims: []uint64{256, 8}, Type: gguf.TypeF16},
		}
		mi := ModelInfo{Arch: "llama", NLayer: int(nLayer), NHead: 8, NHeadKV: 2, NExpert: int(nExpert)}
		plans, err := PlanTensors(mi, infos, gguf.FileType(ft), PlanOptions{})
		if err != nil {
			return
		}
		if len(plans) != len(infos) {
			t.Fatalf("%d plans for %d tensors", len(plans), len(infos))
		}
	})
}
