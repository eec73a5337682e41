package quantize

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sattva/sattva/gguf"
)

// ModelInfo is what llama.cpp's per-tensor type choice reads from a model's
// metadata.
type ModelInfo struct {
	Arch    string // general.architecture
	NLayer  int    // {arch}.block_count
	NHead   int    // {arch}.attention.head_count (of layer 0)
	NHeadKV int    // {arch}.attention.head_count_kv (of layer 0; NHead if absent)
	NExpert int    // {arch}.expert_count (0 if absent)
}

// ModelInfoFromKVs reads ModelInfo from GGUF metadata.
func ModelInfoFromKVs(kvs []gguf.KV) ModelInfo {
	get := func(key string) (int, bool) {
		for _, kv := range kvs {
			if kv.Key == key {
				return valueInt(kv.Value)
			}
		}
		return 0, false
	}
	var mi ModelInfo
	for _, kv := range kvs {
		if kv.Key == "general.architecture" {
			mi.Arch, _ = kv.Value.V.(string)
		}
	}
	mi.NLayer, _ = get(mi.Arch + ".block_count")
	mi.NHead, _ = get(mi.Arch + ".attention.head_count")
	var ok bool
	if mi.NHeadKV, ok = get(mi.Arch + ".attention.head_count_kv"); !ok {
		mi.NHeadKV = mi.NHead
	}
	mi.NExpert, _ = get(mi.Arch + ".expert_count")
	return mi
}

// valueInt reads an integer scalar, or the first element of an integer array
// (per-layer head counts), as llama.cpp's hparams do for layer 0.
func valueInt(v gguf.Value) (int, bool) {
	switch x := v.V.(type) {
	case uint8:
		return int(x), true
	case int8:
		return int(x), true
	case uint16:
		return int(x), true
	case int16:
		return int(x), true
	case uint32:
		return int(x), true
	case int32:
		return int(x), true
	case uint64:
		return int(x), true
	case int64:
		return int(x), true
	case []uint32:
		if len(x) > 0 {
			return int(x[0]), true
		}
	case []int32:
		if len(x) > 0 {
			return int(x[0]), true
		}
	}
	return 0, false
}

func (mi ModelInfo) nGQA() int {
	if mi.NHeadKV == 0 {
		return 0
	}
	return mi.NHead / mi.NHeadKV
}

// is70B is llama.cpp's LLM_TYPE_70B, ported for the llama architecture
// (80 layers with grouped-query attention).
func (mi ModelInfo) is70B() bool {
	return mi.Arch == "llama" && mi.NExpert != 8 && mi.NLayer == 80 && mi.NHead != mi.NHeadKV
}

// PlanOptions are llama-quantize's options that change the type plan.
type PlanOptions struct {
	// OutputTensorType and TokenEmbeddingType, when not nil, force the type
	// of output.weight and token_embd.weight.
	OutputTensorType, TokenEmbeddingType *gguf.Type
	Pure                                 bool // every quantized tensor in ft's default type
	LeaveOutputTensor                    bool // copy output.weight unchanged
	HasIMatrix                           bool // an importance matrix is given (some choices depend on it)
}

// TensorPlan is the decision for one tensor.
type TensorPlan struct {
	Index    int       // position in the input's tensor list
	Name     string    //
	Dims     []uint64  // as written: trailing dimensions of 1 dropped, as ggml_n_dims does
	From, To gguf.Type // input and output type
	Quantize bool      // To != From and the data is converted
	Fallback bool      // To is a fallback because rows are not a multiple of the block
}

// layerOf is llama.cpp's sscanf(name, "blk.%d.", &layer): -1 when the name
// has no layer number.
func layerOf(name string) int {
	l, _ := parseLayer(name)
	return l
}

// parseLayer is sscanf(name, "blk.%d.", &layer) == 1.
func parseLayer(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, "blk.")
	if !ok {
		return -1, false
	}
	i := 0
	for i < len(rest) && (rest[i] == ' ' || rest[i] == '\t' || rest[i] == '\n' || rest[i] == '\v' || rest[i] == '\f' || rest[i] == '\r') {
		i++
	}
	neg := false
	if i < len(rest) && (rest[i] == '+' || rest[i] == '-') {
		neg = rest[i] == '-'
		i++
	}
	start := i
	n := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		n = n*10 + int(rest[i]-'0')
		if n > 1<<31 {
			n = 1 << 31
		}
		i++
	}
	if i == start {
		return -1, false
	}
	if neg {
		n = -n
	}
	return n, true
}

// nDims is ggml_n_dims: the number of dimensions without trailing 1s (at least 1).
func nDims(dims []uint64) int {
	n := len(dims)
	for n > 1 && dims[n-1] == 1 {
		n--
	}
	return max(n, 1)
}

// checkShape refuses a tensor without dimensions or with a dimension of 0:
// GGUF can hold them, but there is nothing to quantize and llama.cpp divides
// by the dimensions. The error is a *gguf.FormatError (the input is invalid).
func checkShape(name string, dims []uint64) error {
	field := "tensor[" + strconv.Quote(name) + "].dims"
	if len(dims) == 0 {
		return &gguf.FormatError{Field: field, Rule: "tensor.zero-dim", Msg: "the tensor has no dimensions"}
	}
	for i, d := range dims {
		if d == 0 {
			return &gguf.FormatError{Field: field, Rule: "tensor.zero-dim", Msg: fmt.Sprintf("dimension %d is 0 (shape %v): the tensor is empty", i, dims)}
		}
	}
	return nil
}

// quantizable is llama_model_quantize_impl's test of which tensors may be
// quantized at all (2-D or more, ends with "weight", not a norm, …).
func quantizable(name string, dims []uint64, leaveOutput bool) bool {
	// name.rfind("weight") == name.size() - 6, size_t arithmetic included.
	q := strings.HasSuffix(name, "weight") || (len(name) == 5 && !strings.Contains(name, "weight"))
	q = q && nDims(dims) >= 2
	q = q && !strings.Contains(name, "_norm.weight")
	q = q && (!leaveOutput || name != "output.weight")
	for _, s := range []string{"ffn_gate_inp.weight", "altup", "laurel", "per_layer_model_proj",
		"ssm_conv1d.weight", "shortconv.conv.weight",
		"time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight",
		"time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight",
		"time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight", "time_mix_g2.weight",
		"time_mix_decay_w1.weight", "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight",
		"attn_rel_b.weight", ".position_embd."} {
		q = q && !strings.Contains(name, s)
	}
	q = q && name != "position_embd.weight" && name != "token_types.weight"
	return q
}

// SortTensors returns the indices of tensors in the order llama.cpp's model
// loader keeps them (and llama_model_quantize writes them): by layer number,
// tensors without one first, then by name.
func SortTensors(tensors []gguf.TensorInfo) []int {
	idx := make([]int, len(tensors))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		na, nb := tensors[a].Name, tensors[b].Name
		if c := cmp.Compare(layerOf(na), layerOf(nb)); c != 0 {
			return c
		}
		return strings.Compare(na, nb)
	})
	return idx
}

// planState holds llama.cpp's quantize_state_impl counters.
type planState struct {
	mi                                       ModelInfo
	o                                        PlanOptions
	nAttentionWV, nFFNDown, nFFNGate, nFFNUp int
	iAttentionWV, iFFNDown, iFFNGate, iFFNUp int
	nKQuantized, nFallback                   int
	hasOutput                                bool
}

// PlanTensors decides every tensor's output type exactly as
// llama_model_quantize does for ft, and returns the decisions in the order
// the output file lists the tensors.
func PlanTensors(mi ModelInfo, tensors []gguf.TensorInfo, ft gguf.FileType, o PlanOptions) ([]TensorPlan, error) {
	defType, err := ft.DefaultType()
	if err != nil {
		return nil, err
	}
	for _, ti := range tensors {
		if err := checkShape(ti.Name, ti.Dims); err != nil {
			return nil, err
		}
	}
	order := SortTensors(tensors)
	st := &planState{mi: mi, o: o}
	for _, i := range order {
		name := tensors[i].Name
		if strings.Contains(name, "attn_v.weight") || strings.Contains(name, "attn_qkv.weight") || strings.Contains(name, "attn_kv_b.weight") {
			st.nAttentionWV++
		} else if name == "output.weight" {
			st.hasOutput = true
		}
	}
	st.nFFNDown, st.nFFNGate, st.nFFNUp = mi.NLayer, mi.NLayer, mi.NLayer

	plans := make([]TensorPlan, 0, len(tensors))
	for _, i := range order {
		ti := tensors[i]
		p := TensorPlan{Index: i, Name: ti.Name, Dims: slices.Clone(ti.Dims[:nDims(ti.Dims)]), From: ti.Type, To: ti.Type}
		if len(ti.Dims) == 0 {
			p.Dims = []uint64{1}
		}
		if quantizable(ti.Name, ti.Dims, o.LeaveOutputTensor) {
			newType := defType
			if !o.Pure && defType.IsQuantized() {
				fb := st.nFallback
				newType, err = st.tensorType(newType, ti, ft)
				if err != nil {
					return nil, err
				}
				p.Fallback = st.nFallback != fb
			}
			if o.TokenEmbeddingType != nil && ti.Name == "token_embd.weight" {
				newType = *o.TokenEmbeddingType
			}
			if o.OutputTensorType != nil && ti.Name == "output.weight" {
				newType = *o.OutputTensorType
			}
			if ti.Type != newType {
				p.To = newType
				p.Quantize = true
			}
		}
		plans = append(plans, p)
	}
	return plans, nil
}

// PlanTensorTypes returns the output type of each of f's tensors (in f's
// order) for file type ft.
func PlanTensorTypes(f *gguf.File, ft gguf.FileType, o PlanOptions) ([]gguf.Type, error) {
	plans, err := PlanTensors(ModelInfoFromKVs(f.KVs), f.Tensors, ft, o)
	if err != nil {
		return nil, err
	}
	out := make([]gguf.Type, len(f.Tensors))
	for _, p := range plans {
		out[p.Index] = p.To
	}
	return out, nil
}

func useMoreBits(iLayer, nLayers int) bool {
	return iLayer < nLayers/8 || iLayer >= 7*nLayers/8 || (iLayer-nLayers/8)%3 == 2
}

// layerInfo is llama_tensor_get_type's layer_info.
func (st *planState) layerInfo(iLayer, nLayer int, name string) (int, int, error) {
	if max(1, st.mi.NExpert) > 1 {
		l, ok := parseLayer(name)
		if !ok {
			return 0, 0, fmt.Errorf("quantize: failed to determine layer for tensor %s", name)
		}
		if l < 0 || l >= nLayer {
			return 0, 0, fmt.Errorf("quantize: bad layer %d for tensor %s; must be in [0, %d)", l, name, nLayer)
		}
		iLayer = l
	}
	return iLayer, nLayer, nil
}

// tensorType chooses the type of one tensor under file type ft, counting
// the attn_v, ffn_down, ffn_gate and ffn_up tensors it has seen in st.
//
// Port of llama.cpp's llama_tensor_get_type (src/llama-quant.cpp): it mirrors
// that function branch for branch, so that the two read side by side, and is
// longer than the house's 150 lines for it.
func (st *planState) tensorType(newType gguf.Type, ti gguf.TensorInfo, ft gguf.FileType) (gguf.Type, error) {
	name := ti.Name
	mi := st.mi
	has := func(s string) bool { return strings.Contains(name, s) }
	isIQ12 := ft == gguf.MostlyIQ2_XXS || ft == gguf.MostlyIQ2_XS || ft == gguf.MostlyIQ1_S || ft == gguf.MostlyIQ2_S || ft == gguf.MostlyIQ2_M || ft == gguf.MostlyIQ1_M
	falcon := mi.Arch == "falcon"
	nx := int64(0)
	if len(ti.Dims) > 0 {
		nx = int64(ti.Dims[0])
	}
	ne2 := int64(1)
	if len(ti.Dims) > 2 {
		ne2 = int64(ti.Dims[2])
	}

	switch {
	case name == "output.weight" || (!st.hasOutput && name == "token_embd.weight"):
		if st.o.OutputTensorType != nil {
			newType = *st.o.OutputTensorType
		} else {
			qk := int64(newType.BlockSize())
			switch {
			case ft == gguf.MostlyMXFP4:
				newType = gguf.TypeQ8_0
			case falcon || nx%qk != 0:
				newType = gguf.TypeQ8_0
			case ft == gguf.MostlyIQ2_XXS || ft == gguf.MostlyIQ2_XS || ft == gguf.MostlyIQ3_XXS || ft == gguf.MostlyIQ1_S || ft == gguf.MostlyIQ2_S || ft == gguf.MostlyIQ2_M || ft == gguf.MostlyIQ1_M:
				newType = gguf.TypeQ5_K
			case newType != gguf.TypeQ8_0:
				newType = gguf.TypeQ6_K
			}
		}
	case ft == gguf.MostlyMXFP4:
		if ne2 > 1 {
			newType = gguf.TypeMXFP4
		} else {
			newType = gguf.TypeQ8_0
		}
	case name == "token_embd.weight" || name == "per_layer_token_embd.weight":
		if st.o.TokenEmbeddingType != nil {
			newType = *st.o.TokenEmbeddingType
		} else {
			switch ft {
			case gguf.MostlyIQ2_XXS, gguf.MostlyIQ2_XS, gguf.MostlyIQ1_S, gguf.MostlyIQ1_M:
				newType = gguf.TypeQ2_K
			case gguf.MostlyIQ2_S, gguf.MostlyIQ2_M, gguf.MostlyIQ3_XXS:
				newType = gguf.TypeIQ3_S
			case gguf.MostlyTQ1_0, gguf.MostlyTQ2_0:
				newType = gguf.TypeQ4_K
			}
		}
	case isIQ12:
		switch {
		case has("attn_v.weight"):
			if mi.nGQA() >= 4 || mi.NExpert >= 4 {
				newType = gguf.TypeQ4_K
			} else if ft == gguf.MostlyIQ2_S || ft == gguf.MostlyIQ2_M {
				newType = gguf.TypeIQ3_S
			} else {
				newType = gguf.TypeQ2_K
			}
			st.iAttentionWV++
		case mi.NExpert == 8 && has("attn_k.weight"):
			newType = gguf.TypeQ4_K
		case has("ffn_down"):
			if st.iFFNDown < st.nFFNDown/8 {
				if ft == gguf.MostlyIQ2_S || ft == gguf.MostlyIQ2_M {
					newType = gguf.TypeIQ3_S
				} else {
					newType = gguf.TypeQ2_K
				}
			}
			st.iFFNDown++
		case has("attn_output.weight"):
			if mi.NExpert == 8 {
				newType = gguf.TypeQ5_K
			} else if ft == gguf.MostlyIQ1_S || ft == gguf.MostlyIQ1_M {
				newType = gguf.TypeIQ2_XXS
			} else if ft == gguf.MostlyIQ2_S || ft == gguf.MostlyIQ2_M {
				newType = gguf.TypeIQ3_S
			}
		}
	case has("attn_v.weight"):
		switch {
		case ft == gguf.MostlyQ2_K:
			if mi.nGQA() >= 4 {
				newType = gguf.TypeQ4_K
			} else {
				newType = gguf.TypeQ3_K
			}
		case ft == gguf.MostlyQ2_K_S && mi.nGQA() >= 4:
			newType = gguf.TypeQ4_K
		case ft == gguf.MostlyIQ3_XXS:
			if mi.nGQA() >= 4 {
				newType = gguf.TypeQ4_K
			} else if !st.o.HasIMatrix {
				newType = gguf.TypeIQ3_S
			} else {
				newType = gguf.TypeIQ3_XXS
			}
		case (ft == gguf.MostlyIQ3_XS || ft == gguf.MostlyIQ3_S) && mi.nGQA() >= 4:
			newType = gguf.TypeQ4_K
		case ft == gguf.MostlyIQ3_M:
			newType = gguf.TypeQ4_K
		case ft == gguf.MostlyQ3_K_M:
			if st.iAttentionWV < 2 {
				newType = gguf.TypeQ5_K
			} else {
				newType = gguf.TypeQ4_K
			}
		case ft == gguf.MostlyQ3_K_L:
			newType = gguf.TypeQ5_K
		case (ft == gguf.MostlyIQ4_NL || ft == gguf.MostlyIQ4_XS) && mi.nGQA() >= 4:
			newType = gguf.TypeQ5_K
		case (ft == gguf.MostlyQ4_K_M || ft == gguf.MostlyQ5_K_M) && useMoreBits(st.iAttentionWV, st.nAttentionWV):
			newType = gguf.TypeQ6_K
		case ft == gguf.MostlyQ4_K_S && st.iAttentionWV < 4:
			newType = gguf.TypeQ5_K
		}
		if mi.is70B() && (newType == gguf.TypeQ3_K || newType == gguf.TypeQ4_K) {
			newType = gguf.TypeQ5_K
		}
		if mi.NExpert == 8 {
			newType = gguf.TypeQ8_0
		}
		st.iAttentionWV++
	case has("attn_k.weight"):
		switch {
		case mi.NExpert == 8:
			newType = gguf.TypeQ8_0
		case ft == gguf.MostlyIQ3_XS:
			newType = gguf.TypeIQ3_XXS
		case ft == gguf.MostlyIQ3_XXS:
			newType = gguf.TypeIQ2_S
		}
	case has("attn_q.weight"):
		switch ft {
		case gguf.MostlyIQ3_XS:
			newType = gguf.TypeIQ3_XXS
		case gguf.MostlyIQ3_XXS:
			newType = gguf.TypeIQ2_S
		}
	case has("ffn_down"):
		iLayer, nLayer, err := st.layerInfo(st.iFFNDown, st.nFFNDown, name)
		if err != nil {
			return 0, err
		}
		switch {
		case ft == gguf.MostlyQ2_K:
			newType = gguf.TypeQ3_K
		case ft == gguf.MostlyQ2_K_S:
			if iLayer < nLayer/8 {
				newType = gguf.TypeQ4_K
			}
		case ft == gguf.MostlyIQ3_XXS && !st.o.HasIMatrix:
			if iLayer < nLayer/8 {
				newType = gguf.TypeQ4_K
			} else {
				newType = gguf.TypeQ3_K
			}
		case ft == gguf.MostlyQ3_K_M:
			if iLayer < nLayer/16 {
				newType = gguf.TypeQ5_K
			} else if !falcon || useMoreBits(iLayer, nLayer) {
				newType = gguf.TypeQ4_K
			} else {
				newType = gguf.TypeQ3_K
			}
		case ft == gguf.MostlyIQ3_M && (iLayer < nLayer/8 || (mi.NExpert == 8 && useMoreBits(iLayer, nLayer))):
			newType = gguf.TypeQ4_K
		case ft == gguf.MostlyQ3_K_L:
			if falcon {
				newType = gguf.TypeQ4_K
			} else {
				newType = gguf.TypeQ5_K
			}
		case ft == gguf.MostlyQ4_K_M:
			if falcon {
				if iLayer < nLayer/16 {
					newType = gguf.TypeQ6_K
				} else if useMoreBits(iLayer, nLayer) {
					newType = gguf.TypeQ5_K
				} else {
					newType = gguf.TypeQ4_K
				}
			} else if useMoreBits(iLayer, nLayer) {
				newType = gguf.TypeQ6_K
			}
		case iLayer < nLayer/8 && (ft == gguf.MostlyIQ4_NL || ft == gguf.MostlyIQ4_XS) && !st.o.HasIMatrix:
			newType = gguf.TypeQ5_K
		case ft == gguf.MostlyQ5_K_M && useMoreBits(iLayer, nLayer):
			newType = gguf.TypeQ6_K
		case ft == gguf.MostlyQ4_K_S && !falcon && iLayer < nLayer/8:
			newType = gguf.TypeQ5_K
		case (ft == gguf.MostlyQ4_0 || ft == gguf.MostlyQ5_0) && st.o.HasIMatrix && iLayer < nLayer/8:
			if ft == gguf.MostlyQ4_0 {
				newType = gguf.TypeQ4_1
			} else {
				newType = gguf.TypeQ5_1
			}
		}
		st.iFFNDown++
	case has("attn_output.weight"):
		if !falcon {
			if mi.NExpert == 8 {
				switch ft {
				case gguf.MostlyQ2_K, gguf.MostlyIQ3_XS, gguf.MostlyIQ3_XXS, gguf.MostlyQ3_K_S, gguf.MostlyQ3_K_M, gguf.MostlyIQ4_NL,
					gguf.MostlyQ4_K_S, gguf.MostlyQ4_K_M, gguf.MostlyIQ3_S, gguf.MostlyIQ3_M, gguf.MostlyIQ4_XS:
					newType = gguf.TypeQ5_K
				}
			} else {
				switch ft {
				case gguf.MostlyQ2_K:
					newType = gguf.TypeQ3_K
				case gguf.MostlyIQ3_XXS:
					newType = gguf.TypeIQ3_S
				case gguf.MostlyQ3_K_M:
					newType = gguf.TypeQ4_K
				case gguf.MostlyQ3_K_L:
					newType = gguf.TypeQ5_K
				case gguf.MostlyIQ3_M:
					newType = gguf.TypeQ4_K
				}
			}
		} else if ft == gguf.MostlyQ3_K_L {
			newType = gguf.TypeQ4_K
		}
	case has("attn_qkv.weight"):
		switch ft {
		case gguf.MostlyQ3_K_M, gguf.MostlyQ3_K_L, gguf.MostlyIQ3_M:
			newType = gguf.TypeQ4_K
		case gguf.MostlyQ4_K_M:
			newType = gguf.TypeQ5_K
		case gguf.MostlyQ5_K_M:
			newType = gguf.TypeQ6_K
		}
	case has("ffn_gate"):
		iLayer, nLayer, err := st.layerInfo(st.iFFNGate, st.nFFNGate, name)
		if err != nil {
			return 0, err
		}
		if ft == gguf.MostlyIQ3_XS && iLayer >= nLayer/8 && iLayer < 7*nLayer/8 {
			newType = gguf.TypeIQ3_XXS
		}
		st.iFFNGate++
	case has("ffn_up"):
		iLayer, nLayer, err := st.layerInfo(st.iFFNUp, st.nFFNUp, name)
		if err != nil {
			return 0, err
		}
		if ft == gguf.MostlyIQ3_XS && iLayer >= nLayer/8 && iLayer < 7*nLayer/8 {
			newType = gguf.TypeIQ3_XXS
		}
		st.iFFNUp++
	}

	// Rows that are not a multiple of the chosen type's block fall back.
	if nx%int64(newType.BlockSize()) != 0 {
		switch newType {
		case gguf.TypeTQ1_0, gguf.TypeTQ2_0:
			newType = gguf.TypeQ4_0
		case gguf.TypeIQ2_XXS, gguf.TypeIQ2_XS, gguf.TypeIQ2_S, gguf.TypeIQ3_XXS, gguf.TypeIQ3_S,
			gguf.TypeIQ1_S, gguf.TypeIQ1_M, gguf.TypeQ2_K, gguf.TypeQ3_K, gguf.TypeIQ4_XS:
			newType = gguf.TypeIQ4_NL
		case gguf.TypeQ4_K:
			newType = gguf.TypeQ5_0
		case gguf.TypeQ5_K:
			newType = gguf.TypeQ5_1
		case gguf.TypeQ6_K:
			newType = gguf.TypeQ8_0
		default:
			return 0, &InputError{Tensor: name, Msg: fmt.Sprintf("unsupported tensor size: %s has rows of %d, not a multiple of %v's block of %d", name, nx, newType, newType.BlockSize())}
		}
		if nx%int64(newType.BlockSize()) != 0 {
			newType = gguf.TypeF16
		}
		st.nFallback++
	} else {
		st.nKQuantized++
	}
	return newType, nil
}
