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

// Training: Train runs full-parameter training of a GGUF model through the
// pinned llama.cpp's own training API (llama_opt_init, llama_opt_epoch and
// ggml-opt's AdamW), on the CPU or on a GPU backend, and writes the trained
// weights as a GGUF checkpoint.
//
// What this API version allows, and so what Train does:
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

// Learning-rate schedules of TrainOptions.Schedule.
const (
	ScheduleConstant = "constant"
	ScheduleLinear   = "linear" // from LearningRate down to MinLearningRate
	ScheduleCosine   = "cosine" // half a cosine from LearningRate down to MinLearningRate
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
// than one training window (Context+1).
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
	// Sequences are the training examples as token ids (BOS and EOS
	// included as the caller wants them). They are packed in this order
	// into one stream; Train does not modify them.
	Sequences [][]int32
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
	// Context is the tokens of one training window and optimizer step: a
	// multiple of 256; 0: 256.
	Context int
	// Stride is the distance between window starts in the stream; 0: Context
	// (windows do not overlap).
	Stride int
	// Seed orders the windows of each epoch (a fixed seed gives the same
	// order on every run).
	Seed uint64
	// TrainTensor chooses the tensors that train by name; nil: every F32
	// tensor llama.cpp allows.
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
	Loss         float64 // mean cross-entropy of this step's window (nats per token)
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
	Windows          int       `json:"windows"` // windows per epoch
	Context          int       `json:"context"`
	StreamTokens     int       `json:"stream_tokens"` // tokens of the packed sequences
	Tokens           int64     `json:"tokens"`        // tokens trained on (steps × context)
	Seconds          float64   `json:"seconds"`
	TokensPerSecond  float64   `json:"tokens_per_second"`
	Losses           []float64 `json:"losses"` // one per step
	TrainableTensors int       `json:"trainable_tensors"`
	TrainableParams  int64     `json:"trainable_params"`
	TrainedTensors   []string  `json:"trained_tensors"`
	Checkpoint       string    `json:"checkpoint,omitempty"` // the last checkpoint written
	CheckpointStep   int       `json:"checkpoint_step,omitempty"`
	Device           string    `json:"device"`
	// Stopped is true when ctx ended training early; Checkpoint is then the
	// last complete checkpoint (possibly none).
	Stopped bool `json:"stopped,omitempty"`
}

// trainPlan is TrainOptions checked and with defaults applied.
type trainPlan struct {
	o       TrainOptions
	windows int
	steps   int
	stream  []int32
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
	if o.Context%256 != 0 {
		return nil, trainErr("context %d is not a multiple of 256 (llama.cpp pads contexts to 256 tokens)", o.Context)
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
	p := &trainPlan{o: o, stream: stream}
	p.windows = (len(stream)-1-o.Context)/o.Stride + 1
	p.steps = p.windows * o.Epochs
	if o.MaxSteps > 0 && o.MaxSteps < p.steps {
		p.steps = o.MaxSteps
	}
	return p, nil
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

// Trainable reports whether this llama.cpp can train the tensor named name
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
