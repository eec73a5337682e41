package llamacpp

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/sattva/sattva/gguf"
)

// Training: Train runs full-parameter training of a GGUF model and writes
// the trained weights as a GGUF checkpoint, with one of two engines
// (TrainOptions.Engine):
//
// EngineGraph builds the Llama forward pass as a ggml graph of
// its own (graphtrain.c), without llama.cpp's KV cache, and trains it with
// ggml-opt's static graphs (AdamW or SGD) on a ggml backend (the CPU, or a
// GPU when one is loaded and CPUOnly is false):
//
//   - Every tensor trains: token_embd (and so a tied output head), every
//     block's attn_norm, attn_q/k/v/output, ffn_norm, ffn_gate/up/down,
//     output_norm and an untied output (rope_freqs never does).
//   - The loss is the mean next-token cross-entropy over the learned
//     positions only: with TrainOptions.Prompt, the answer tokens of each
//     example, as LLaMA-Factory and the fallback trainer compute it. The
//     other rows' logits are multiplied by 0 before the loss, so they add
//     neither loss nor gradient.
//   - Whole examples are packed into windows of Context tokens, one window
//     per optimizer step; a token attends only to its own example and the
//     positions restart at 0 for each example, so every example is computed
//     exactly as it would be alone (and as at inference).
//   - The gradients are computed afresh for every step (ggml-opt's static
//     graphs with one step per window keep no accumulator).
//   - The model must be a Llama (general.architecture llama, RoPE of type
//     normal, no YaRN) with every tensor in F32, and its graph must fit
//     ggml-opt's static graphs (GGML_DEFAULT_GRAPH_SIZE, 2048 nodes: about
//     16 blocks at most); otherwise Train returns an error naming
//     EngineLlamaOpt.
//   - The forward pass equals llama.cpp's (the loss of stories260K agrees
//     to 1e-6), and every gradient equals finite differences of it
//     (gradcheck_test.go, op by op and for whole attention blocks). ggml's
//     graph allocator computes RMS_NORM_BACK in the memory of its incoming
//     gradient, which ggml-cpu's kernel overwrites before reading it, so in
//     ggml-opt's graphs the gradient through every RMS norm was wrong (the
//     attention projections' pointed uphill); sattva_backward_guard keeps
//     those inputs out of the allocator's reuse (graphtrain.c).
//
// EngineLlamaOpt (the default) trains through the pinned llama.cpp's own training API
// (llama_opt_init, llama_opt_epoch and ggml-opt's AdamW) on any model
// llama.cpp loads, and is what remains for deeper models. What this API
// version allows, and so what that engine does:
//
//   - The loss is next-token cross-entropy over every token of a training
//     window. llama_opt_epoch turns each label into a one-hot row itself and
//     ggml-opt's cross-entropy backward assumes every row sums to one, so
//     there is no ignore index and no mask: loss on the answer tokens only
//     (as LLaMA-Factory and the fallback trainer compute it) is not possible
//     with this llama.cpp (ec98e2002). The prompt tokens are learned too.
//   - The sequences are packed into one token stream and cut into windows of
//     Context tokens (the labels are the stream shifted by one); one window is
//     one optimizer step, computed in one pass (with several passes per step,
//     ggml-opt would need its gradient reset, which this version skips for
//     llama.cpp's graphs: Train resets the gradients itself before each step). llama.cpp rounds a context up to a multiple of 256
//     tokens, so Context is a multiple of 256.
//   - Only F32 tensors train. token_embd.weight (and an output head tied to
//     it) and rope_freqs.weight never train in this llama.cpp version.
//   - Only the tensors after the last write into the KV cache train: the
//     last block's attn_q, attn_output and feed-forward tensors and norms
//     (not its attn_norm, attn_k, attn_v), output_norm and output. In this
//     llama.cpp the KV cache is written with ggml_set_rows, which ggml's
//     backward pass cannot differentiate through: a trainable tensor
//     upstream of it aborts the process in ggml_build_backward_expand
//     (GGML_ASSERT(!node->view_src || …); ggml-org/llama.cpp#16258, fixed
//     upstream in 2026 by training without the KV cache, #27199). Train
//     therefore never marks those tensors trainable, whatever TrainTensor
//     says, and reports what it trains in TrainResult.
//   - Nor do the last block's ffn_down and ffn_norm train: with either alone
//     trainable, the loss of one fixed window rises from the first AdamW step
//     at any learning rate (measured on stories260K, CPU, 2026-12-05), while
//     attn_q, attn_output, ffn_gate, ffn_up and output_norm each descend, so
//     the gradients this version computes for those two are not trusted.
//     Their gradients pass through output_norm's RMS_NORM_BACK, which
//     ggml's graph allocator computes in place wrongly (see EngineGraph
//     above); that is the likely cause, but llama.cpp builds those graphs
//     itself, so sattva_backward_guard cannot reach them.

// Learning-rate schedules of TrainOptions.Schedule.
const (
	ScheduleConstant = "constant"
	ScheduleLinear   = "linear" // from LearningRate down to MinLearningRate
	ScheduleCosine   = "cosine" // half a cosine from LearningRate down to MinLearningRate
)

// Engines of TrainOptions.Engine (see the training notes above).
const (
	// EngineGraph is sattva's own ggml training graph: every tensor trains,
	// loss on the learned (answer) tokens only.
	EngineGraph = "graph"
	// EngineLlamaOpt is llama.cpp's llama_opt_epoch: only tensors after the
	// last KV-cache write train, loss on every token.
	EngineLlamaOpt = "llama-opt"
	// EngineAuto is EngineGraph where it can train the model (a Llama with
	// F32 tensors whose graph fits, every sequence within one window), on
	// the CPU or a GPU; EngineLlamaOpt otherwise, except on a CUDA device,
	// where llama-opt aborts in the pinned llama.cpp and Train fails
	// instead (so does an explicit EngineLlamaOpt there).
	// TrainResult.EngineNote says why it was not EngineGraph.
	EngineAuto = "auto"
)

// Optimizers of TrainOptions.Optimizer.
const (
	OptimizerAdamW = "adamw"
	OptimizerSGD   = "sgd"
)

// ErrNothingToTrain is returned by Train when no tensor of the model is both
// F32 and chosen by TrainOptions.TrainTensor (llama.cpp trains F32 weights
// only: convert the model with --outtype f32).
var ErrNothingToTrain = errors.New("llamacpp: no trainable tensor: llama.cpp trains F32 tensors only (convert with --outtype f32)")

// ErrTooFewTokens is returned by Train when the sequences hold fewer tokens
// than one training window (EngineLlamaOpt: Context+1) or no token to learn
// (EngineGraph).
var ErrTooFewTokens = errors.New("llamacpp: too few tokens for one training window")

// TrainOptions control Train. Model, Out, Sequences and LearningRate are
// required; every other field has the default its comment names.
type TrainOptions struct {
	// Model is the GGUF to train (its trainable tensors must be F32).
	Model string
	// Out is the checkpoint path. Each checkpoint is written to a temporary
	// file in Out's folder, synced and renamed over Out, so Out always holds
	// the last complete checkpoint.
	Out string
	// Engine is EngineLlamaOpt (default), EngineGraph or EngineAuto.
	Engine string
	// Sequences are the training examples as token ids (BOS and EOS
	// included as the caller wants them). They are packed in this order
	// (EngineGraph: whole examples into windows; EngineLlamaOpt: into one
	// stream cut into windows); Train does not modify them.
	Sequences [][]int32
	// Prompt, if not nil, holds for each sequence the number of its leading
	// tokens that are prompt: EngineGraph computes no loss on predicting
	// them (the answer-only loss). nil: every token after the first is
	// learned. EngineLlamaOpt cannot mask and ignores it.
	Prompt []int
	// Epochs over the windows of the stream; 0: 1.
	Epochs int
	// MaxSteps stops after this many optimizer steps; 0: Epochs × windows.
	MaxSteps int
	// LearningRate is the peak learning rate (> 0).
	LearningRate float64
	// MinLearningRate is where the linear and cosine schedules end; 0 means
	// LearningRate/100. ggml-opt refuses a rate of 0.
	MinLearningRate float64
	// Schedule is ScheduleCosine (default), ScheduleLinear or ScheduleConstant.
	Schedule string
	// WarmupSteps ramp the rate linearly up to LearningRate first.
	WarmupSteps int
	// Optimizer is OptimizerAdamW (default; beta1 0.9, beta2 0.999, eps 1e-8)
	// or OptimizerSGD.
	Optimizer   string
	WeightDecay float64
	// Context is the tokens of one training window and optimizer step; 0:
	// 256. EngineLlamaOpt needs a multiple of 256; EngineGraph packs whole
	// examples into it, so it must hold the longest example.
	Context int
	// Stride is the distance between window starts in the stream; 0: Context
	// (windows do not overlap). EngineLlamaOpt only.
	Stride int
	// Seed orders the windows of each epoch (a fixed seed gives the same
	// order on every run).
	Seed uint64
	// TrainTensor chooses the tensors that train by name; nil: every
	// tensor the engine can train.
	TrainTensor func(name string) bool
	// CheckpointSteps writes a checkpoint every so many steps as well as at
	// the end of each epoch and of training; 0: epochs and end only.
	CheckpointSteps int
	// Metadata is written into every checkpoint (replacing keys of the same
	// name), after the input model's own keys that llama.cpp's saver drops.
	Metadata []gguf.KV
	// Threads for the CPU; 0: the number of CPUs.
	Threads int
	// GPULayers, CPUOnly and MainGPU place the model as ModelOptions do
	// (default: every layer on the GPU when a GPU backend is loaded).
	GPULayers int
	CPUOnly   bool
	MainGPU   int
	// OnStep is called after every optimizer step, from Train's goroutine.
	// A non-nil error stops training; Train returns it.
	OnStep func(TrainStep) error
	// Logger receives llama.cpp's log if this is the first call to load
	// the backends; nil discards.
	Logger *slog.Logger
}

// TrainStep is one optimizer step, as OnStep sees it.
type TrainStep struct {
	Step, Steps  int     // steps done (1-based) and planned
	Epoch        int     // 1-based
	Loss         float64 // mean cross-entropy of this step's window (nats per learned token)
	LearningRate float64 // the rate this step used
	Tokens       int64   // tokens trained on so far
	Elapsed      time.Duration
	// Checkpoint is the path written after this step, "" if none was.
	Checkpoint string
}

// TrainResult is what Train did.
type TrainResult struct {
	Steps            int       `json:"steps"`
	Epochs           int       `json:"epochs"`
	Engine           string    `json:"engine"`
	EngineNote       string    `json:"engine_note,omitempty"` // EngineAuto: why not EngineGraph
	Windows          int       `json:"windows"`               // windows per epoch
	Context          int       `json:"context"`
	StreamTokens     int       `json:"stream_tokens"`            // tokens of the packed sequences
	Tokens           int64     `json:"tokens"`                   // tokens trained on (EngineGraph: the examples' own; EngineLlamaOpt: steps × context)
	LearnedTokens    int64     `json:"learned_tokens,omitempty"` // EngineGraph: positions whose loss counted
	Seconds          float64   `json:"seconds"`
	TokensPerSecond  float64   `json:"tokens_per_second"`
	Losses           []float64 `json:"losses"` // one per step
	TrainableTensors int       `json:"trainable_tensors"`
	TrainableParams  int64     `json:"trainable_params"`
	TrainedTensors   []string  `json:"trained_tensors"`
	// FrozenTensors would train but cannot on Device (EngineGraph on CUDA:
	// token_embd.weight with a vocabulary over 65,535); FrozenWhy says why.
	FrozenTensors  []string `json:"frozen_tensors,omitempty"`
	FrozenWhy      string   `json:"frozen_why,omitempty"`
	Checkpoint     string   `json:"checkpoint,omitempty"` // the last checkpoint written
	CheckpointStep int      `json:"checkpoint_step,omitempty"`
	Device         string   `json:"device"`
	// Stopped is true when ctx ended training early; Checkpoint is then the
	// last complete checkpoint (possibly none).
	Stopped bool `json:"stopped,omitempty"`
}

// trainPlan is TrainOptions checked and with defaults applied.
type trainPlan struct {
	o       TrainOptions
	windows int
	steps   int
	note    string  // EngineAuto: why not EngineGraph
	stream  []int32 // EngineLlamaOpt
	packs   [][]int // EngineGraph: the sequences of each window
}

// TrainSteps returns the optimizer steps Train will take with o (for a
// warm-up given as a fraction of them), or o's error.
func TrainSteps(o TrainOptions) (int, error) {
	p, err := planTrain(o)
	if err != nil {
		return 0, err
	}
	return p.steps, nil
}

// ResolveEngine returns the engine Train will use with o (EngineAuto
// resolved, "" as EngineLlamaOpt) and, for EngineAuto, why it is not
// EngineGraph; or o's error.
func ResolveEngine(o TrainOptions) (engine, why string, err error) {
	p, err := planTrain(o)
	if err != nil {
		return "", "", err
	}
	return p.o.Engine, p.note, nil
}

func planTrain(o TrainOptions) (*trainPlan, error) {
	if o.Model == "" || o.Out == "" {
		return nil, trainErr("Model and Out are required")
	}
	if !(o.LearningRate > 0) || math.IsInf(o.LearningRate, 0) {
		return nil, trainErr("learning rate must be > 0, not %g", o.LearningRate)
	}
	if o.Epochs < 0 || o.MaxSteps < 0 || o.WarmupSteps < 0 || o.CheckpointSteps < 0 || o.Context < 0 || o.Stride < 0 || o.Threads < 0 {
		return nil, trainErr("negative option")
	}
	if o.WeightDecay < 0 || o.MinLearningRate < 0 || o.MinLearningRate > o.LearningRate {
		return nil, trainErr("weight decay %g or minimum learning rate %g out of range", o.WeightDecay, o.MinLearningRate)
	}
	if o.Epochs == 0 {
		o.Epochs = 1
	}
	if o.Context == 0 {
		o.Context = 256
	}
	note := ""
	switch o.Engine {
	case "":
		o.Engine = EngineLlamaOpt
	case EngineGraph, EngineLlamaOpt:
	case EngineAuto:
		var err error
		if o.Engine, note, err = autoEngine(&o); err != nil {
			return nil, err
		}
	default:
		return nil, trainErr("engine %q: want %s, %s or %s", o.Engine, EngineGraph, EngineLlamaOpt, EngineAuto)
	}
	if dev := cudaDevice(&o); o.Engine == EngineLlamaOpt && dev != "" {
		return nil, trainErr("the %s engine %s", EngineLlamaOpt, llamaOptCUDA(dev))
	}
	if o.Engine == EngineLlamaOpt && o.Context%256 != 0 {
		return nil, trainErr("context %d is not a multiple of 256 (llama.cpp pads contexts to 256 tokens)", o.Context)
	}
	if o.Engine == EngineGraph && o.Context < 2 {
		return nil, trainErr("context %d: a window needs 2 tokens at least", o.Context)
	}
	if o.Prompt != nil && len(o.Prompt) != len(o.Sequences) {
		return nil, trainErr("%d prompt lengths for %d sequences", len(o.Prompt), len(o.Sequences))
	}
	for i, p := range o.Prompt {
		if p < 0 || p > len(o.Sequences[i]) {
			return nil, trainErr("sequence %d: prompt length %d outside 0..%d", i+1, p, len(o.Sequences[i]))
		}
	}
	if o.Stride == 0 {
		o.Stride = o.Context
	}
	if o.MinLearningRate == 0 {
		o.MinLearningRate = o.LearningRate / 100
	}
	switch o.Schedule {
	case "":
		o.Schedule = ScheduleCosine
	case ScheduleCosine, ScheduleLinear, ScheduleConstant:
	default:
		return nil, trainErr("schedule %q: want cosine, linear or constant", o.Schedule)
	}
	switch o.Optimizer {
	case "":
		o.Optimizer = OptimizerAdamW
	case OptimizerAdamW, OptimizerSGD:
	default:
		return nil, trainErr("optimizer %q: want adamw or sgd", o.Optimizer)
	}
	if o.Engine == EngineGraph {
		p, err := planGraph(o)
		if p != nil {
			p.note = note
		}
		return p, err
	}
	n := 0
	for _, s := range o.Sequences {
		n += len(s)
	}
	stream := make([]int32, 0, n)
	for _, s := range o.Sequences {
		stream = append(stream, s...)
	}
	if len(stream) < o.Context+1 {
		return nil, fmt.Errorf("%w: %d tokens, a window needs %d (context + 1)", ErrTooFewTokens, len(stream), o.Context+1)
	}
	p := &trainPlan{o: o, stream: stream, note: note}
	p.windows = (len(stream)-1-o.Context)/o.Stride + 1
	p.steps = p.windows * o.Epochs
	if o.MaxSteps > 0 && o.MaxSteps < p.steps {
		p.steps = o.MaxSteps
	}
	return p, nil
}

// planGraph packs whole sequences, in order, into windows of o.Context
// tokens: a window takes the next sequence while it fits. A sequence with no
// token to learn (nothing after its prompt) is left out.
func planGraph(o TrainOptions) (*trainPlan, error) {
	p := &trainPlan{o: o}
	var cur []int
	used, learned := 0, 0
	for i, s := range o.Sequences {
		if len(s) > o.Context {
			return nil, trainErr("sequence %d has %d tokens, more than a window of %d (raise the context or lower cutoff_len)", i+1, len(s), o.Context)
		}
		l := len(s) - max(1, o.promptLen(i))
		if l <= 0 {
			continue // nothing to learn: left out
		}
		if used+len(s) > o.Context {
			p.packs = append(p.packs, cur)
			cur, used = nil, 0
		}
		cur = append(cur, i)
		used += len(s)
		learned += l
	}
	if len(cur) > 0 {
		p.packs = append(p.packs, cur)
	}
	if learned == 0 {
		return nil, fmt.Errorf("%w: no sequence has a token to learn (each needs a token after its prompt)", ErrTooFewTokens)
	}
	p.windows = len(p.packs)
	p.steps = p.windows * o.Epochs
	if o.MaxSteps > 0 && o.MaxSteps < p.steps {
		p.steps = o.MaxSteps
	}
	return p, nil
}

// promptLen is the prompt length of sequence i (0 without o.Prompt).
func (o *TrainOptions) promptLen(i int) int {
	if o.Prompt == nil {
		return 0
	}
	return o.Prompt[i]
}

// rate is the learning rate of 1-based step s.
func (p *trainPlan) rate(s int) float64 {
	o := p.o
	if s <= o.WarmupSteps {
		return o.LearningRate * float64(s) / float64(o.WarmupSteps)
	}
	if o.Schedule == ScheduleConstant {
		return o.LearningRate
	}
	n := p.steps - o.WarmupSteps
	if n <= 1 {
		return o.LearningRate
	}
	f := float64(s-o.WarmupSteps-1) / float64(n-1) // 0 at the first step after warm-up, 1 at the last
	if o.Schedule == ScheduleLinear {
		return o.MinLearningRate + (o.LearningRate-o.MinLearningRate)*(1-f)
	}
	return o.MinLearningRate + (o.LearningRate-o.MinLearningRate)*0.5*(1+math.Cos(math.Pi*f))
}

// Trainable reports whether EngineLlamaOpt can train the tensor named name
// of a model with blocks blocks (see the training notes above): output_norm
// and output, and the last block's attn_q, attn_output, ffn_gate and ffn_up
// (and their biases and norms of q), which follow its KV-cache write.
func Trainable(name string, blocks int) bool {
	switch name {
	case "output_norm.weight", "output_norm.bias", "output.weight", "output.bias":
		return true
	}
	rest, ok := strings.CutPrefix(name, fmt.Sprintf("blk.%d.", blocks-1))
	if !ok || blocks < 1 {
		return false
	}
	for _, p := range []string{"attn_norm", "attn_k", "attn_v", "attn_qkv", "ffn_down", "ffn_norm"} {
		if strings.HasPrefix(rest, p) {
			return false
		}
	}
	return true
}

func trainErr(format string, args ...any) error {
	return fmt.Errorf("llamacpp: train: "+format, args...)
}
