package plan

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sattva/sattva/gguf"
)

// RunTensor is one weight tensor of a GGUF model and where llama.cpp puts it.
type RunTensor struct {
	Name  string
	Bytes int64
	// Layer is the decoder layer (blk.N.*), or LayerInput (token_embd) or
	// LayerOutput (output, output_norm and tensors outside the layers).
	Layer int
}

// Pseudo-layers of RunTensor.Layer.
const (
	LayerInput  = -1
	LayerOutput = -2
)

// RunModel is what llama.cpp's memory use depends on, read from a GGUF file.
type RunModel struct {
	Arch     string      `json:"arch"`
	Layers   int         `json:"layers"`
	Embd     int         `json:"embd"`
	Heads    int         `json:"heads"`
	KVHeads  int         `json:"kv_heads"`
	KeyLen   int         `json:"key_length"`   // per head
	ValueLen int         `json:"value_length"` // per head
	FFN      int         `json:"ffn"`
	Vocab    int         `json:"vocab"`
	CtxTrain int         `json:"ctx_train"`
	Tied     bool        `json:"tied"` // no output.weight: token_embd is duplicated as the output layer
	Tensors  []RunTensor `json:"-"`
}

// Bounds on hyperparameters read from a file: far above any real model, low
// enough that no product of them overflows int64.
const (
	maxLayers = 1 << 12
	maxDim    = 1 << 20
	maxHeads  = 1 << 12
	maxVocab  = 1 << 24
	maxCells  = 1 << 24 // llama.cpp's context limit in sattva's llamacpp
)

// ErrUnsupportedModel is returned for GGUF files whose memory layout the
// estimator does not model (recurrent or sliding-window architectures).
var ErrUnsupportedModel = errors.New("plan: model architecture not modelled")

// RunModelFromGGUF reads the hyperparameters and tensor sizes of a GGUF file.
func RunModelFromGGUF(f *gguf.File) (*RunModel, error) {
	arch := f.Architecture()
	if arch == "" {
		return nil, fmt.Errorf("%w: general.architecture missing", ErrUnsupportedModel)
	}
	m := &RunModel{Arch: arch}
	need := []struct {
		key string
		dst *int
	}{
		{arch + ".block_count", &m.Layers}, {arch + ".embedding_length", &m.Embd},
		{arch + ".attention.head_count", &m.Heads},
	}
	for _, n := range need {
		v, err := intKey(f, n.key)
		if err != nil {
			return nil, err
		}
		*n.dst = v
	}
	opt := func(key string, def int) (int, error) {
		if _, ok := f.Get(key); !ok {
			return def, nil
		}
		return intKey(f, key)
	}
	var err error
	if m.KVHeads, err = opt(arch+".attention.head_count_kv", m.Heads); err != nil {
		return nil, err
	}
	if m.Heads <= 0 || m.Embd <= 0 || m.Layers <= 0 || m.KVHeads <= 0 {
		return nil, fmt.Errorf("plan: %s: layers, embedding length and head counts must be positive", arch)
	}
	if m.Layers > maxLayers || m.Embd > maxDim || m.Heads > maxHeads || m.KVHeads > maxHeads {
		return nil, fmt.Errorf("plan: %s: %d layers, embedding %d, %d/%d heads: beyond any real model", arch, m.Layers, m.Embd, m.Heads, m.KVHeads)
	}
	if m.KeyLen, err = opt(arch+".attention.key_length", m.Embd/m.Heads); err != nil {
		return nil, err
	}
	if m.ValueLen, err = opt(arch+".attention.value_length", m.Embd/m.Heads); err != nil {
		return nil, err
	}
	if m.FFN, err = opt(arch+".feed_forward_length", 4*m.Embd); err != nil {
		return nil, err
	}
	if m.CtxTrain, err = opt(arch+".context_length", 0); err != nil {
		return nil, err
	}
	if _, ok := f.Get(arch + ".attention.sliding_window"); ok {
		return nil, fmt.Errorf("%w: %s uses sliding-window attention", ErrUnsupportedModel, arch)
	}
	if _, ok := f.Get(arch + ".ssm.state_size"); ok {
		return nil, fmt.Errorf("%w: %s is recurrent", ErrUnsupportedModel, arch)
	}
	hasOutput := false
	for _, ti := range f.Tensors {
		sz := ti.Size()
		if sz < 0 {
			return nil, fmt.Errorf("plan: tensor %s: unknown size", ti.Name)
		}
		rt := RunTensor{Name: ti.Name, Bytes: sz, Layer: LayerOutput}
		switch {
		case strings.HasPrefix(ti.Name, "token_embd."):
			rt.Layer = LayerInput
			if ti.Name == "token_embd.weight" && len(ti.Dims) == 2 {
				m.Vocab = int(ti.Dims[1])
			}
		case strings.HasPrefix(ti.Name, "blk."):
			rest := ti.Name[len("blk."):]
			n, _, ok := strings.Cut(rest, ".")
			il, err := strconv.Atoi(n)
			if !ok || err != nil || il < 0 || il >= m.Layers {
				return nil, fmt.Errorf("plan: tensor %s: bad layer number", ti.Name)
			}
			rt.Layer = il
		case ti.Name == "output.weight":
			hasOutput = true
		case strings.HasPrefix(ti.Name, "rope_freqs."):
			rt.Layer = 0 // llama.cpp creates it with layer 0 (the others share it)
		}
		m.Tensors = append(m.Tensors, rt)
	}
	if v, err := opt(arch+".vocab_size", 0); err != nil {
		return nil, err
	} else if v > 0 {
		m.Vocab = v
	}
	if m.Vocab == 0 {
		if tv, ok := f.Get("tokenizer.ggml.tokens"); ok {
			m.Vocab = tv.Len()
		}
	}
	if m.Vocab == 0 {
		return nil, errors.New("plan: cannot tell the vocabulary size (no token_embd.weight, vocab_size or tokenizer.ggml.tokens)")
	}
	if m.Vocab > maxVocab || m.FFN > maxDim || m.KeyLen > maxDim || m.ValueLen > maxDim {
		return nil, fmt.Errorf("plan: %s: vocabulary %d, ffn %d, head size %d/%d: beyond any real model", arch, m.Vocab, m.FFN, m.KeyLen, m.ValueLen)
	}
	m.Tied = !hasOutput
	return m, nil
}

// intKey reads an integer metadata value of any integer type.
func intKey(f *gguf.File, key string) (int, error) {
	v, ok := f.Get(key)
	if !ok {
		return 0, fmt.Errorf("plan: GGUF key %s missing", key)
	}
	var n int64
	switch x := v.V.(type) {
	case uint8:
		n = int64(x)
	case int8:
		n = int64(x)
	case uint16:
		n = int64(x)
	case int16:
		n = int64(x)
	case uint32:
		n = int64(x)
	case int32:
		n = int64(x)
	case uint64:
		if x > 1<<40 {
			return 0, fmt.Errorf("plan: GGUF key %s: %d out of range", key, x)
		}
		n = int64(x)
	case int64:
		n = x
	default:
		return 0, fmt.Errorf("plan: GGUF key %s is %s, want an integer (per-layer arrays are not modelled)", key, v.TypeName())
	}
	if n < 0 || n > 1<<40 {
		return 0, fmt.Errorf("plan: GGUF key %s: %d out of range", key, n)
	}
	return int(n), nil
}

// RunConfig is a llama.cpp context as sattva's llamacpp package (and
// llama.cpp's own tools) create it.
type RunConfig struct {
	Context  int // tokens each sequence holds (llamacpp.ContextOptions.ContextSize)
	Parallel int // sequences; 0: 1
	// GPULayers: -1 (or anything above the layer count) offloads every layer
	// and the output layer; 0 keeps everything on the CPU; n offloads the last
	// n layers.
	GPULayers int
	// CacheK and CacheV are the KV cache types by ggml name: "f16" (also
	// for ""), "q8_0", "q4_0", "f32", "bf16", …
	CacheK, CacheV string
	// FlashAttention: true as llama.cpp's "auto" resolves it on CUDA for
	// Llama models; false gives the classic KQ matrix path.
	FlashAttention bool
	UnifiedKV      bool // one KV stream shared by all sequences
	Batch          int  // n_batch; 0: 2048
	UBatch         int  // n_ubatch; 0: 512
	// Runtime is the GPU memory the process uses outside llama.cpp's buffers
	// (CUDA context, cuBLAS, ggml's CUDA pool); <0: none, 0: DefaultRuntime.
	Runtime int64
}

// DefaultRuntime is the CUDA context, cuBLAS handles and ggml's CUDA memory
// pool a llama.cpp process holds on the GPU besides its buffers.
const DefaultRuntime = 512 * MiB

// RunEstimate is the memory of a model and context in llama.cpp.
type RunEstimate struct {
	NCtx         int      `json:"n_ctx"`     // KV cells in all (per sequence × sequences, rounded as llama.cpp does)
	NCtxSeq      int      `json:"n_ctx_seq"` // KV cells each sequence holds
	Parallel     int      `json:"parallel"`
	GPULayers    int      `json:"gpu_layers"` // decoder layers on the GPU
	OutputOnGPU  bool     `json:"output_on_gpu"`
	FlashAttn    bool     `json:"flash_attn"`
	CacheK       string   `json:"cache_k"`
	CacheV       string   `json:"cache_v"`
	WeightsGPU   int64    `json:"weights_gpu_bytes"`
	WeightsCPU   int64    `json:"weights_cpu_bytes"`
	KVGPU        int64    `json:"kv_gpu_bytes"`
	KVCPU        int64    `json:"kv_cpu_bytes"`
	ComputeGPU   int64    `json:"compute_gpu_bytes"`
	ComputeStage string   `json:"compute_peak_stage"`
	OutputHost   int64    `json:"output_host_bytes"` // logits buffer in host memory
	BuffersGPU   int64    `json:"buffers_gpu_bytes"` // weights + KV + compute on the GPU: what llama.cpp allocates
	Runtime      int64    `json:"runtime_gpu_bytes"`
	TotalGPU     int64    `json:"total_gpu_bytes"` // BuffersGPU + Runtime
	TotalCPU     int64    `json:"total_cpu_bytes"`
	Terms        []Term   `json:"terms"`
	Notes        []string `json:"notes,omitempty"`
}

func pad(x, n int) int { return (x + n - 1) / n * n }

// cacheType parses a KV cache type name; "" is f16.
func cacheType(name string) (gguf.Type, error) {
	if name == "" {
		return gguf.TypeF16, nil
	}
	t, err := gguf.ParseType(name)
	if err != nil {
		return 0, fmt.Errorf("plan: KV cache type %q: %w", name, err)
	}
	return t, nil
}

func kvRow(t gguf.Type, n int) (int64, error) {
	if t != gguf.TypeF32 && t != gguf.TypeF16 && t != gguf.TypeBF16 && t != gguf.TypeQ8_0 && t != gguf.TypeQ4_0 && t != gguf.TypeQ4_1 && t != gguf.TypeQ5_0 && t != gguf.TypeQ5_1 && t != gguf.TypeIQ4_NL {
		return 0, fmt.Errorf("plan: KV cache type %s: llama.cpp accepts f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl", t)
	}
	return t.RowSize(int64(n))
}

// EstimateRun estimates llama.cpp's memory for model m with context c,
// following llama.cpp's loader (token_embd stays on the CPU; the last
// GPULayers layers go to the GPU; the output layer with them when every layer
// is offloaded), KV cache (n_ctx padded to 256; one stream per sequence unless
// unified) and graph reserve (the worst-case batch of n_ubatch tokens with
// every token producing logits).
func EstimateRun(m *RunModel, c RunConfig) (*RunEstimate, error) {
	if c.Context <= 0 {
		return nil, errors.New("plan: context must be positive")
	}
	P := max(c.Parallel, 1)
	if c.Context > maxCells || P > maxCells || c.Context*P > maxCells {
		return nil, fmt.Errorf("plan: %d sequences × %d tokens is beyond llama.cpp's limit of %d cells", P, c.Context, maxCells)
	}
	kT, err := cacheType(c.CacheK)
	if err != nil {
		return nil, err
	}
	vT, err := cacheType(c.CacheV)
	if err != nil {
		return nil, err
	}
	if !c.FlashAttention && vT.IsQuantized() {
		return nil, errors.New("plan: a quantized V cache needs flash attention (llama.cpp refuses it otherwise)")
	}
	e := &RunEstimate{Parallel: P, FlashAttn: c.FlashAttention, CacheK: strings.ToLower(kT.String()), CacheV: strings.ToLower(vT.String())}

	// llama_context: n_ctx = pad(ctx × P, 256); per-stream n_ctx_seq = pad(n_ctx / P, 256).
	nctx := pad(c.Context*P, 256)
	nseq := nctx // unified: one stream holds every sequence
	if !c.UnifiedKV {
		nseq = pad(nctx/P, 256)
		nctx = nseq * P
	}
	e.NCtx, e.NCtxSeq = nctx, nseq

	e.placeWeights(m, c.GPULayers)
	if err := e.kvCache(m, kT, vT); err != nil {
		return nil, err
	}
	e.computeBuffer(m, c)
	e.totals(m, c)
	return e, nil
}

// placeWeights places m's tensors as llama_model::load_tensors does: the
// last gpuLayers layers on the GPU (all, and the output layer, when
// gpuLayers is negative or more than the layers), token_embd on the CPU.
func (e *RunEstimate) placeWeights(m *RunModel, gpuLayers int) {
	ngl := gpuLayers
	if ngl < 0 || ngl > m.Layers {
		ngl = m.Layers + 1
	}
	firstGPU := max(m.Layers-ngl, 0)
	e.GPULayers = min(ngl, m.Layers)
	e.OutputOnGPU = ngl > m.Layers
	onGPU := func(layer int) bool {
		switch layer {
		case LayerInput:
			return false
		case LayerOutput:
			return e.OutputOnGPU
		}
		return layer >= firstGPU
	}
	var embd int64
	for _, t := range m.Tensors {
		if t.Name == "token_embd.weight" {
			embd = t.Bytes
		}
		if onGPU(t.Layer) {
			e.WeightsGPU += t.Bytes
		} else {
			e.WeightsCPU += t.Bytes
		}
	}
	if m.Tied {
		// the output layer is token_embd duplicated on the output device
		if e.OutputOnGPU {
			e.WeightsGPU += embd
		} else {
			e.WeightsCPU += embd
		}
	}
	e.Terms = append(e.Terms, Term{"weights on the GPU", e.WeightsGPU, fmt.Sprintf("tensor bytes of %d of %d layers%s (token_embd stays on the CPU)", e.GPULayers, m.Layers, map[bool]string{true: " and the output layer", false: ""}[e.OutputOnGPU])})
}

// kvCache sizes the KV cache of kT keys and vT values: per layer, e.NCtx
// cells × (K row + V row).
func (e *RunEstimate) kvCache(m *RunModel, kT, vT gguf.Type) error {
	for _, kv := range []struct {
		t    gguf.Type
		n    int
		what string
	}{{kT, m.KeyLen, "K"}, {vT, m.ValueLen, "V"}} {
		if bs := kv.t.BlockSize(); bs > 1 && kv.n%bs != 0 {
			return fmt.Errorf("plan: a %s %s cache needs the head size (%d) to be a multiple of %d (llama.cpp aborts otherwise)", strings.ToLower(kv.t.String()), kv.what, kv.n, bs)
		}
	}
	kRow, err := kvRow(kT, m.KVHeads*m.KeyLen)
	if err != nil {
		return err
	}
	vRow, err := kvRow(vT, m.KVHeads*m.ValueLen)
	if err != nil {
		return err
	}
	perLayer := int64(e.NCtx) * (kRow + vRow)
	e.KVGPU = perLayer * int64(e.GPULayers)
	e.KVCPU = perLayer * int64(m.Layers-e.GPULayers)
	e.Terms = append(e.Terms, Term{"KV cache", e.KVGPU, fmt.Sprintf("%d cells × %d layers × (K %d + V %d bytes a cell; %s/%s)", e.NCtx, e.GPULayers, kRow, vRow, e.CacheK, e.CacheV)})
	return nil
}

// computeBuffer sizes the compute buffer: the graph of n_ubatch tokens,
// all producing logits; its peak is the largest of attention, feed-forward
// and output.
func (e *RunEstimate) computeBuffer(m *RunModel, c RunConfig) {
	nb := c.Batch
	if nb <= 0 {
		nb = 2048
	}
	nub := c.UBatch
	if nub <= 0 {
		nub = 512
	}
	nb = min(nb, e.NCtx)
	nub = min(nub, nb)
	T := int64(min(e.NCtx, nub))
	nkv := int64(e.NCtxSeq) // the KV cells one stream's attention sees
	E, V, F := int64(m.Embd), int64(m.Vocab), int64(m.FFN)
	hidden := 4 * E * T // one f32 activation of the batch
	mask := 4 * nkv * T // the f32 KQ mask copied to the GPU
	var attn int64
	var attnF string
	if c.FlashAttention {
		attn = mask + 2*nkv*T + 4*hidden
		attnF = "6 B × n_kv × n_tokens (f32 mask and its f16 cast) + 4 hidden activations"
	} else {
		attn = 4*nkv*T*int64(m.Heads) + mask + 4*hidden
		attnF = "4 B × n_kv × n_tokens × heads (KQ) + the f32 mask + 4 hidden activations"
	}
	ffn := 4*T*3*F + 2*hidden
	stage, comp, compF := "attention", attn, attnF
	if ffn > comp {
		stage, comp, compF = "feed-forward", ffn, "3 f32 ffn activations + 2 hidden"
	}
	if e.GPULayers == 0 && !e.OutputOnGPU {
		comp, stage, compF = 0, "none", "no layer on the GPU"
	}
	if e.OutputOnGPU {
		out := 4*V*T + hidden
		if out > comp {
			stage, comp, compF = "output", out, "4 B × vocab × n_tokens (logits) + 1 hidden activation"
		}
	}
	e.ComputeGPU, e.ComputeStage = comp, stage
	e.Terms = append(e.Terms, Term{"compute buffer", comp, fmt.Sprintf("n_tokens = %d, n_kv = %d: %s", T, nkv, compF)})
	e.OutputHost = 4 * V * int64(e.Parallel)
}

// totals adds the CUDA runtime, sums the GPU and CPU bytes and notes what
// the estimate leaves out.
func (e *RunEstimate) totals(m *RunModel, c RunConfig) {
	e.BuffersGPU = e.WeightsGPU + e.KVGPU + e.ComputeGPU
	switch {
	case c.Runtime < 0:
	case c.Runtime == 0:
		e.Runtime = DefaultRuntime
	default:
		e.Runtime = c.Runtime
	}
	if e.GPULayers == 0 && !e.OutputOnGPU {
		e.Runtime = 0
	}
	e.Terms = append(e.Terms, Term{"CUDA runtime", e.Runtime, "CUDA context, cuBLAS, ggml's CUDA pool (not llama.cpp buffers)"})
	e.TotalGPU = e.BuffersGPU + e.Runtime
	e.TotalCPU = e.WeightsCPU + e.KVCPU + e.OutputHost
	if e.GPULayers < m.Layers && e.GPULayers > 0 {
		e.Notes = append(e.Notes, "partial offload: for large batches llama.cpp may copy CPU-side weights to the GPU (op offload); the compute estimate is a lower bound")
	}
	if m.CtxTrain > 0 && e.NCtxSeq > m.CtxTrain {
		e.Notes = append(e.Notes, fmt.Sprintf("context per sequence %d exceeds the model's training context %d", e.NCtxSeq, m.CtxTrain))
	}
}

// MaxContext returns the largest context per sequence, a multiple of 256,
// whose TotalGPU fits vram at configuration c (c.Context is ignored); 0 when
// not even 256 fits.
func MaxContext(m *RunModel, c RunConfig, vram int64) (int, error) {
	var lastErr error
	limit := 1 << 20
	if m.CtxTrain > 0 {
		limit = max(m.CtxTrain, 256)
	}
	k := largest(1, limit/256, func(k int) bool {
		x := c
		x.Context = 256 * k
		e, err := EstimateRun(m, x)
		if err != nil {
			lastErr = err
			return false
		}
		return e.TotalGPU <= vram
	})
	if k == 0 && lastErr != nil {
		return 0, lastErr
	}
	return 256 * k, nil
}

// RunFormula is the memory model EstimateRun applies, for --explain.
const RunFormula = `llama.cpp GPU memory (all layers offloaded unless --ngl says otherwise)
weights   the GGUF's tensor bytes of the layers on the GPU; token_embd always stays on the CPU
          (llama.cpp's input layer); output.weight and output_norm go to the GPU only when every
          layer does (--ngl > layers); a tied model duplicates token_embd as the output layer
KV cache  n_ctx = pad256(ctx × parallel); per sequence n_ctx_seq = pad256(n_ctx / parallel)
          bytes = n_ctx × layers_on_gpu × (row(K type, kv_heads × key_len) + row(V type, kv_heads × value_len))
          f16: 2 B an element; q8_0: 34 B per 32; q4_0: 18 B per 32
compute   graph reserve of n_tokens = min(n_ctx, n_ubatch = 512) tokens, every one producing logits;
          ggml-alloc reuses memory, so the buffer is the largest stage:
            output     4 B × vocab × n_tokens + 4 B × embd × n_tokens       (Llama 3: 258.5 MiB)
            attention  flash:  6 B × n_kv × n_tokens + 16 B × embd × n_tokens
                       no FA:  4 B × n_kv × n_tokens × heads + 4 B × n_kv × n_tokens + 16 B × embd × n_tokens
            ffn        12 B × ffn × n_tokens + 8 B × embd × n_tokens
          n_kv = n_ctx_seq (one KV stream per sequence) or n_ctx (unified)
runtime   CUDA context, cuBLAS, ggml's CUDA pool: 512 MiB, outside llama.cpp's buffers
host      logits buffer 4 B × vocab × parallel; CPU-side weights and KV
`
