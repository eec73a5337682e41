package plan

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sattva/sattva/internal/progress"
)

// Method is the fine-tuning method.
type Method string

// The methods TrainConfig models.
const (
	// QLoRA: the base model's linear layers in 4-bit NF4 (bitsandbytes, double
	// quantization on, as LLaMA-Factory's quantization_bit: 4 sets it),
	// embeddings, lm_head and norms in bf16, LoRA adapters in fp32.
	QLoRA Method = "qlora"
	// LoRA: the base model in bf16, LoRA adapters in fp32.
	LoRA Method = "lora"
)

// allTargets are the seven projections LLaMA-Factory's lora_target: all selects
// in a Llama model.
var allTargets = []string{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}

// TrainConfig is one fine-tuning run as LLaMA-Factory (or sattva's fallback
// trainer, scripts/train/sft_lora.py) runs it: transformers + PEFT, bf16
// autocast, PyTorch AdamW, SDPA attention, HF gradient checkpointing of every
// decoder layer.
type TrainConfig struct {
	Shape   ModelShape
	Method  Method   // QLoRA or LoRA
	Rank    int      // LoRA rank r
	Targets []string // PEFT module names; nil or ["all"] means allTargets
	Dropout float64  // lora_dropout; above 0 each adapter keeps a dropout mask
	Cutoff  int      // cutoff_len: tokens per sequence (the worst case: every sequence full)
	Batch   int      // per_device_train_batch_size
	// GradAccum is gradient_accumulation_steps; it changes steps, not memory.
	GradAccum int
	// GradCheckpointing recomputes each decoder layer in the backward pass
	// (LLaMA-Factory's default; disable_gradient_checkpointing: true turns it off).
	GradCheckpointing bool
	// NoAutocast models a trainer that runs the fp32 adapters without bf16
	// autocast: each adapter then keeps an fp32 copy of its input.
	NoAutocast bool
	// KbitUpcast models peft's prepare_model_for_kbit_training, which the
	// fallback trainer calls for QLoRA: every parameter that is not 4-bit
	// (embeddings, lm_head, norms) is cast to fp32, and so is the residual
	// stream. LLaMA-Factory does not do this. Approximate.
	KbitUpcast bool

	// For the time estimate.
	Examples  int64   // training examples per epoch; 0: unknown
	AvgTokens int     // mean tokens per example; 0: Cutoff
	Epochs    float64 // 0: 1
	TFLOPS    float64 // the card's dense bf16 tensor TFLOPS; 0: DefaultTFLOPS
	MFU       float64 // fraction of TFLOPS reached; 0: DefaultMFU
}

// Defaults of the time estimate: a mid-range 12-16 GB GeForce card (RTX
// 4060 Ti / 4070 class) doing bf16 matmuls with fp32 accumulation, which
// GeForce cards run at half their advertised tensor rate. Pass the card's
// figure (gpuTFLOPS) for a better estimate.
const (
	DefaultTFLOPS = 30.0
	DefaultMFU    = 0.40
)

// gpuTFLOPS are dense bf16 tensor TFLOPS with fp32 accumulation (what
// PyTorch's bf16 matmuls use) of common cards, from NVIDIA's architecture
// whitepapers. Keys are lower case, without "nvidia geforce".
var gpuTFLOPS = map[string]float64{
	"rtx 3060": 25.6, "rtx 3060 ti": 32.4, "rtx 3070": 40.6, "rtx 3080": 59.5, "rtx 3090": 71,
	"rtx 4060": 15.1, "rtx 4060 ti": 22.1, "rtx 4070": 29.1, "rtx 4070 super": 35.5, "rtx 4070 ti": 40.1,
	"rtx 4070 ti super": 44.1, "rtx 4080": 48.7, "rtx 4080 super": 52.2, "rtx 4090": 82.6,
	"rtx 5060 ti": 23.7, "rtx 5070": 30.9, "rtx 5070 ti": 43.9, "rtx 5080": 56.3, "rtx 5090": 104.8,
	"a100": 312, "h100": 989, "h200": 989, "l4": 121, "a10": 125, "t4": 65,
}

// LookupTFLOPS finds a card in gpuTFLOPS by a name as torch or nvidia-smi
// print it ("NVIDIA GeForce RTX 4060 Ti"); ok is false for an unknown card.
func LookupTFLOPS(name string) (float64, bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	for _, p := range []string{"nvidia ", "geforce "} {
		n = strings.TrimPrefix(n, p)
	}
	if v, ok := gpuTFLOPS[n]; ok {
		return v, true
	}
	// "h100 80gb hbm3", "a100-sxm4-80gb": the longest known prefix
	best, bestLen := 0.0, 0
	for k, v := range gpuTFLOPS {
		if strings.HasPrefix(n, k) && len(k) > bestLen && (len(n) == len(k) || n[len(k)] == ' ' || n[len(k)] == '-') {
			best, bestLen = v, len(k)
		}
	}
	return best, bestLen > 0
}

// Constants of the memory model, each explained in the formula text.
const (
	// cuBLAS/cuBLASLt workspaces and small buffers that PyTorch's caching
	// allocator counts as allocated.
	workspaceBytes = 64 * MiB
	// The CUDA context (kernels, driver state) that nvidia-smi shows but
	// torch.cuda.max_memory_allocated does not.
	cudaContextBytes = 512 * MiB
	// PyTorch's caching allocator reserves more than it hands out
	// (block rounding, fragmentation); measured reserved/allocated ratios
	// of LoRA training sit around 1.05–1.15.
	allocatorSlack = 0.10
)

// TrainEstimate is the estimated memory and time of a TrainConfig.
type TrainEstimate struct {
	Method        Method   `json:"method"`
	Model         string   `json:"model"`
	Params        int64    `json:"params"`
	LoRAParams    int64    `json:"lora_params"`
	Tokens        int64    `json:"tokens_per_step"` // Batch × Cutoff
	Terms         []Term   `json:"terms"`           // the parts of Peak
	Phase         string   `json:"peak_phase"`      // which phase of the step sets the peak
	Peak          int64    `json:"peak_allocated_bytes"`
	Reserve       int64    `json:"reserve_bytes"` // CUDA context and allocator slack on top of Peak
	Device        int64    `json:"device_bytes"`  // Peak + Reserve: what the card must have free
	StepSeconds   float64  `json:"step_seconds,omitempty"`
	EpochSeconds  float64  `json:"epoch_seconds,omitempty"`
	TotalSeconds  float64  `json:"total_seconds,omitempty"` // EpochSeconds × Epochs
	StepsPerEpoch int64    `json:"steps_per_epoch,omitempty"`
	Measured      bool     `json:"measured"` // false: 4-bit path, never measured on the validation GPU
	Notes         []string `json:"notes,omitempty"`
}

func (c *TrainConfig) targets() ([]Linear, error) {
	all := c.Shape.Linears()
	if len(c.Targets) == 0 || (len(c.Targets) == 1 && (c.Targets[0] == "all" || c.Targets[0] == "all-linear")) {
		return all, nil
	}
	var out []Linear
	for _, t := range c.Targets {
		i := slices.IndexFunc(all, func(l Linear) bool { return l.Name == t })
		if i < 0 {
			return nil, fmt.Errorf("plan: unknown LoRA target %q (known: all, %s)", t, strings.Join(allTargets, ", "))
		}
		if !slices.ContainsFunc(out, func(l Linear) bool { return l.Name == t }) {
			out = append(out, all[i])
		}
	}
	return out, nil
}

func (c *TrainConfig) validate() error {
	if err := c.Shape.Validate(); err != nil {
		return err
	}
	switch {
	case c.Method != QLoRA && c.Method != LoRA:
		return fmt.Errorf("plan: method %q: want qlora or lora", c.Method)
	case c.Rank <= 0:
		return errors.New("plan: LoRA rank must be positive")
	case c.Cutoff <= 0:
		return errors.New("plan: cutoff length must be positive")
	case c.Batch <= 0:
		return errors.New("plan: batch size must be positive")
	case c.Rank > 1<<16 || c.Cutoff > maxCells || c.Batch > maxCells || c.Cutoff*c.Batch > maxCells:
		return errors.New("plan: rank, cutoff or batch out of range")
	case c.Dropout < 0 || c.Dropout >= 1:
		return errors.New("plan: LoRA dropout must be in [0, 1)")
	}
	return nil
}

// EstimateTrain estimates the peak GPU memory of one training step and the
// time of an epoch.
//
// The peak is what torch.cuda.max_memory_allocated reports: the persistent
// weights and optimizer state plus the largest of three phases of a step:
// the start of the backward pass (every saved activation, or with gradient
// checkpointing every layer input, plus the fp32 logits, their log-softmax
// and its gradients), the backward pass of one recomputed decoder layer, and
// the optimizer step.
func EstimateTrain(c TrainConfig) (*TrainEstimate, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	tg, err := c.targets()
	if err != nil {
		return nil, err
	}
	s := c.Shape
	e := &TrainEstimate{Method: c.Method, Model: s.Name, Params: s.Params(), Tokens: int64(c.Batch) * int64(c.Cutoff), Measured: c.Method == LoRA}
	// LoRA parameters: r × (in + out) per targeted projection per layer.
	var nLoRA int64
	for _, l := range tg {
		nLoRA += int64(c.Rank) * (l.In + l.Out)
	}
	nLoRA *= int64(s.Layers)
	e.LoRAParams = nLoRA

	static := e.staticTerms(c, len(tg))
	act := e.activationTerms(c, tg)
	e.Peak = static + act
	e.Reserve = cudaContextBytes + int64(allocatorSlack*float64(e.Peak))
	e.Device = e.Peak + e.Reserve
	if c.Method == QLoRA {
		e.Notes = append(e.Notes, "4-bit path: estimated from bitsandbytes' NF4 layout, not measured (the validation GPU has no bitsandbytes)")
	}
	if c.Batch > 1 {
		e.Notes = append(e.Notes, "padded batches add an attention mask and expand grouped K/V heads; the estimate assumes full-length sequences")
	}
	e.timing(c)
	return e, nil
}

// add appends a term of b bytes to e.
func (e *TrainEstimate) add(name string, b int64, formula string, args ...any) {
	e.Terms = append(e.Terms, Term{Name: name, Bytes: b, Formula: fmt.Sprintf(formula, args...)})
}

// staticTerms adds the memory held through the whole step: the base
// weights, the LoRA weights with their optimizer state and bf16 copies, and
// the workspaces; it returns their sum. nTargets is the number of targeted
// projections a layer.
func (e *TrainEstimate) staticTerms(c TrainConfig, nTargets int) int64 {
	s := c.Shape
	L := int64(s.Layers)
	nLoRA := e.LoRAParams
	t := e.Tokens
	embd := s.EmbeddingParams()
	heads := embd // lm_head
	if s.TiedEmbd {
		heads = 0
	}
	norms := (2*L + 1) * int64(s.Hidden)
	lin := s.LinearParams()
	if c.Method == QLoRA {
		// NF4: 4 bits a weight; double quantization: one 8-bit absmax per
		// 64 weights, one fp32 absmax (and the blocks' fp32 offset) per 256 of those.
		q := lin/2 + ceilDiv(lin, 64) + 4*ceilDiv(lin, 64*256)
		e.add("base linear layers (NF4)", q, "%s linear params × (0.5 + 1/64 + 4/16384) bytes (NF4 + double-quantized absmax)", progress.FormatCount(lin))
		if c.KbitUpcast {
			e.add("embeddings, lm_head, norms (fp32)", 4*(embd+heads+norms), "4 bytes × (%s embedding + %s lm_head + %s norm) params (prepare_model_for_kbit_training)", progress.FormatCount(embd), progress.FormatCount(heads), progress.FormatCount(norms))
			e.add("bf16 copy of lm_head (autocast)", 2*embd, "2 bytes × %s, kept for the backward pass", progress.FormatCount(embd))
		} else {
			e.add("embeddings, lm_head, norms (bf16)", 2*(embd+heads+norms), "2 bytes × (%s embedding + %s lm_head + %s norm) params", progress.FormatCount(embd), progress.FormatCount(heads), progress.FormatCount(norms))
		}
	} else {
		e.add("base model (bf16)", 2*(lin+embd+heads+norms), "2 bytes × %s params", progress.FormatCount(lin+embd+heads+norms))
	}
	e.add("LoRA weights + AdamW state (fp32)", 12*nLoRA, "%s LoRA params × (4 weight + 8 AdamW m,v) bytes; r=%d on %d projections × %d layers", progress.FormatCount(nLoRA), c.Rank, nTargets, L)
	if !c.NoAutocast {
		if c.GradCheckpointing {
			// only the layer being recomputed holds its copies
			e.add("bf16 copies of LoRA weights (autocast)", 2*nLoRA/L, "2 bytes × one layer's LoRA params (recomputed layer)")
		} else {
			e.add("bf16 copies of LoRA weights (autocast)", 2*nLoRA, "2 bytes × LoRA params, kept for the backward pass")
		}
	}
	e.add("cuBLAS workspaces, inputs", workspaceBytes+16*t, "64 MiB + 16 bytes × %d tokens (input ids, labels)", t)
	var static int64
	for _, x := range e.Terms {
		static += x.Bytes
	}
	return static
}

// activationTerms finds the phase of the step that holds the most
// activations (loss backward, a decoder layer's backward, or the optimizer
// step), sets e.Phase, adds its terms and returns its bytes. tg are the
// targeted projections of a layer.
func (e *TrainEstimate) activationTerms(c TrainConfig, tg []Linear) int64 {
	s := c.Shape
	L, h, f, V := int64(s.Layers), int64(s.Hidden), int64(s.FFN), int64(s.Vocab)
	qd, kvd, nh := s.QDim(), s.KVDim(), int64(s.Heads)
	r := int64(c.Rank)
	t := e.Tokens
	nLoRA := e.LoRAParams
	var inSum, maxW int64
	for _, l := range tg {
		inSum += l.In
	}
	for _, l := range s.Linears() {
		maxW = max(maxW, l.In*l.Out)
	}
	// Activations saved per token per decoder layer (bytes), see TrainFormula.
	base := 8*h + 8 + 4*qd + 4*kvd + 4*nh + 6*f
	perIn := int64(2) // each adapter saves a bf16 copy of its input (PEFT casts x to fp32, autocast back to bf16)
	if c.NoAutocast {
		perIn = 4
	}
	if c.Dropout > 0 {
		perIn++ // dropout mask, 1 byte an element
	}
	lora := perIn*inSum + 2*r*int64(len(tg))
	layer := base + lora

	logits := 12 * V * t       // fp32 log-softmax output + its gradient + nll_loss's gradient
	finalNorm := (4*h + 4) * t // the final RMSNorm's fp32 input and rsqrt
	grads := 4 * nLoRA         // fp32 LoRA gradients
	var phaseLogits, phaseLayer int64
	resid := int64(2) // bytes of the residual stream
	if c.Method == QLoRA && c.KbitUpcast {
		resid = 4
	}
	if c.GradCheckpointing {
		ckpt := resid * h * t * L // each layer's input
		phaseLogits = ckpt + finalNorm + logits
		// one recomputed layer + its gradients in flight (≈ 3 ffn-wide and 2 hidden-wide tensors)
		phaseLayer = ckpt + layer*t + (6*f+4*h)*t + grads
	} else {
		phaseLogits = layer*t*L + finalNorm + logits
		phaseLayer = layer*t*L + (6*f+4*h)*t + grads
	}
	if c.Method == QLoRA {
		phaseLayer += 2 * maxW // the largest projection dequantized to bf16 for a matmul
	}
	phaseOptim := grads + 2*4*nLoRA // gradients + AdamW's foreach temporaries
	act := max(phaseLogits, phaseLayer, phaseOptim)
	switch act {
	case phaseLogits:
		e.Phase = "loss backward (logits)"
	case phaseLayer:
		e.Phase = "decoder layer backward"
	default:
		e.Phase = "optimizer step"
	}
	if c.GradCheckpointing {
		e.add("checkpointed layer inputs", resid*h*t*L, "%d bytes × hidden %d × %d tokens × %d layers", resid, h, t, L)
	} else {
		e.add("saved activations", layer*t*L, "%d bytes/token/layer × %d tokens × %d layers", layer, t, L)
	}
	switch e.Phase {
	case "loss backward (logits)":
		e.add("logits, log-softmax and gradients (fp32)", logits, "12 bytes × vocab %d × %d tokens", V, t)
		e.add("final norm", finalNorm, "(4 × hidden + 4) bytes × %d tokens", t)
	case "decoder layer backward":
		if c.GradCheckpointing {
			e.add("one recomputed layer", layer*t, "%d bytes/token × %d tokens", layer, t)
		}
		e.add("gradients in flight", (6*f+4*h)*t+grads, "(6 × ffn + 4 × hidden) bytes × %d tokens + 4 bytes × LoRA params", t)
		if c.Method == QLoRA {
			e.add("dequantized projection", 2*maxW, "2 bytes × largest projection (%s weights)", progress.FormatCount(maxW))
		}
	default:
		e.add("gradients and AdamW temporaries", phaseOptim, "12 bytes × LoRA params")
	}
	return act
}

// timing estimates the seconds of a step, an epoch and the run from the
// FLOPs a token costs at c's throughput.
func (e *TrainEstimate) timing(c TrainConfig) {
	s := c.Shape
	L, h, V := int64(s.Layers), int64(s.Hidden), int64(s.Vocab)
	lin := s.LinearParams()
	qd := s.QDim()
	nLoRA := e.LoRAParams
	avg := int64(c.AvgTokens)
	if avg <= 0 || avg > int64(c.Cutoff) {
		avg = int64(c.Cutoff)
	}
	tf, mfu := c.TFLOPS, c.MFU
	if tf <= 0 {
		tf = DefaultTFLOPS
	}
	if mfu <= 0 {
		mfu = DefaultMFU
	}
	passes := 2.0 // forward + input gradients (the base is frozen: no weight gradients)
	if c.GradCheckpointing {
		passes = 3
	}
	linFlops := 2 * float64(lin+V*h) * passes
	attnFlops := 2 * float64(avg) * float64(qd) * float64(L) * (passes + 1.5)
	loraFlops := 6 * float64(nLoRA)
	perToken := linFlops + attnFlops + loraFlops
	if c.Method == QLoRA {
		perToken *= 1.35 // bitsandbytes dequantizes every weight twice a step
	}
	seqPerStep := int64(c.Batch) * int64(max(c.GradAccum, 1))
	e.StepSeconds = perToken * float64(seqPerStep*avg) / (tf * 1e12 * mfu)
	if c.Examples > 0 {
		ep := c.Epochs
		if ep <= 0 {
			ep = 1
		}
		e.StepsPerEpoch = ceilDiv(c.Examples, seqPerStep)
		e.EpochSeconds = perToken * float64(c.Examples*avg) / (tf * 1e12 * mfu)
		e.TotalSeconds = e.EpochSeconds * ep
	}
}

// Fit is the largest batch and cutoff that fit a VRAM budget.
type Fit struct {
	VRAM      int64 `json:"vram_bytes"`
	Fits      bool  `json:"fits"`       // the configuration as given fits
	MaxBatch  int   `json:"max_batch"`  // at the configured cutoff; 0: not even 1
	MaxCutoff int   `json:"max_cutoff"` // at the configured batch, a multiple of 256; 0: not even 256
}

// FitTrain finds the largest batch (at c.Cutoff) and the largest cutoff, in
// steps of 256 (at c.Batch), whose Device memory fits vram.
func FitTrain(c TrainConfig, vram int64) (Fit, error) {
	fit := Fit{VRAM: vram}
	dev := func(c TrainConfig) (int64, error) {
		e, err := EstimateTrain(c)
		if err != nil {
			return 0, err
		}
		return e.Device, nil
	}
	d, err := dev(c)
	if err != nil {
		return fit, err
	}
	fit.Fits = d <= vram
	fit.MaxBatch = largest(1, 4096, func(b int) bool {
		x := c
		x.Batch = b
		d, _ := dev(x)
		return d <= vram
	})
	fit.MaxCutoff = 256 * largest(1, 131072/256, func(k int) bool {
		x := c
		x.Cutoff = 256 * k
		d, _ := dev(x)
		return d <= vram
	})
	return fit, nil
}

// largest returns the largest n in [lo, hi] with ok(n), for ok monotone
// (true then false), or lo-1 when ok(lo) is false.
func largest(lo, hi int, ok func(int) bool) int {
	if !ok(lo) {
		return lo - 1
	}
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if ok(mid) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// TrainFormula is the memory model EstimateTrain applies, for --explain.
const TrainFormula = `Peak GPU memory of a LoRA/QLoRA step (torch.cuda.max_memory_allocated)
t = batch × cutoff tokens; h hidden, f ffn, V vocab, L layers, qd = heads × head_dim, kvd = kv_heads × head_dim

persistent
  base weights   LoRA: 2 B × all params (bf16)
                 QLoRA: linear params × (0.5 + 1/64 + 4/16384) B (NF4, double-quantized absmax)
                        + 2 B × (embeddings + lm_head + norms), kept in bf16
  adapters       LoRA params n = L × Σ_targets r × (in + out)
                 4 B weight + 8 B AdamW (m, v) in fp32, + 2 B bf16 copy made by autocast
  workspace      64 MiB (cuBLAS) + 16 B × t (input ids, labels)

saved activations per token per decoder layer (bf16 = 2 B, fp32 = 4 B)
  two RMSNorms   2 × (4h + 4)        fp32 copy of the input + rsqrt
  attention      2·qd (q after RoPE) + 2·kvd (k after RoPE) + 2·kvd (v) + 2·qd (SDPA output)
                 + 4·heads (log-sum-exp); flash/efficient SDPA keeps no t × t matrix
  MLP            6f                  gate, SiLU(gate), up
  adapters       2 B × in per target (PEFT casts x to fp32, autocast copies it to bf16 for
                 lora_A); +1 B × in with lora_dropout > 0 (mask); 4 B × in without autocast
  frozen projections save nothing: PyTorch keeps only what a gradient needs

peak = persistent + max of
  loss backward  activations + 12 B × V × t     (fp32 log-softmax output, nll gradient, its
                                                 gradient: for Llama 3, V = 128256, this is
                                                 1.5 MB a token and usually the peak)
                 activations = L × layer × t, or with gradient checkpointing L × 2h × t
  layer backward activations [+ one recomputed layer × t] + (6f + 4h) × t in-flight gradients
                 + 4 B × n LoRA gradients [+ one dequantized projection for QLoRA]
  optimizer      12 B × n

on the card     peak + 512 MiB CUDA context + 10% allocator slack
time            FLOPs/token = 2 × (linear params + V·h) × passes + 2 × avg_tokens × qd × L × (passes + 1.5)
                passes = 2 (forward + input gradients), 3 with gradient checkpointing; ×1.35 for QLoRA
                seconds = FLOPs / (TFLOPS × MFU)
`
