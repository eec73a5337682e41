package cli

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/llamacpp"
	"github.com/sattva/sattva/pipeline"
)

// nativeTrainer is the pipeline's native trainer over llamacpp.Train (nil in
// a build without the engine). cpu keeps training off the GPU; threads is
// the CPU threads when train.native.threads is 0 (0: every CPU).
func nativeTrainer(errOut io.Writer, backendDir string, cpu bool, threads int) pipeline.NativeTrainer {
	if !hasEngine {
		return nil
	}
	return func(ctx context.Context, job *pipeline.NativeJob) (*pipeline.NativeRun, error) {
		// llama.cpp's errors (a CUDA error before an abort, say) reach the user.
		if _, err := llamacpp.InitBackends(backendDir, newLlamaLogger(errOut, false)); err != nil {
			return nil, err
		}
		vocab, err := llamacpp.Load(job.Model, llamacpp.ModelOptions{VocabOnly: true})
		if err != nil {
			return nil, err
		}
		seqs, prompts, err := job.Encode(vocab)
		vocab.Close()
		if err != nil {
			return nil, err
		}
		o := llamacpp.TrainOptions{
			Model: job.Model, Out: job.Out, Sequences: seqs, Prompt: prompts, Engine: job.Engine, Epochs: job.Epochs, MaxSteps: job.MaxSteps,
			LearningRate: job.LearningRate, Schedule: job.Schedule, WeightDecay: job.WeightDecay, Optimizer: job.Optimizer,
			Context: job.Context, Seed: job.Seed, CheckpointSteps: job.CheckpointSteps, Threads: job.Threads, CPUOnly: cpu,
		}
		if o.Threads == 0 {
			o.Threads = threads
		}
		if job.Tensors != nil {
			o.TrainTensor = job.Tensors.MatchString
		}
		engine, why, err := llamacpp.ResolveEngine(o)
		if err != nil {
			return nil, err
		}
		o.Engine = engine
		if why != "" {
			fmt.Fprintf(errOut, "native trainer: engine %s (%s)\n", engine, why)
		}
		meta := job.Metadata
		if job.Describe != nil {
			meta = maps.Clone(meta)
			if meta == nil {
				meta = map[string]string{}
			}
			meta["general.provenance.training"] = job.Describe(engine)
		}
		for _, k := range slices.Sorted(maps.Keys(meta)) {
			o.Metadata = append(o.Metadata, gguf.KV{Key: k, Value: gguf.String(meta[k])})
		}
		if job.WarmupRatio > 0 {
			// The steps are known once the examples are packed.
			if steps, err := llamacpp.TrainSteps(o); err == nil {
				o.WarmupSteps = int(math.Ceil(job.WarmupRatio * float64(steps)))
			}
		}
		o.OnStep = func(s llamacpp.TrainStep) error {
			if job.OnStep != nil {
				job.OnStep(s.Step, s.Steps, s.Epoch, s.Loss, s.LearningRate)
			}
			return nil
		}
		res, err := llamacpp.Train(ctx, o)
		if res == nil {
			return nil, err
		}
		if res.TrainableTensors > 0 {
			what := "every tensor, loss on the answer tokens"
			if len(res.FrozenTensors) > 0 {
				what = "every tensor but " + strings.Join(res.FrozenTensors, ", ") + " (below), loss on the answer tokens"
			}
			if res.Engine == llamacpp.EngineLlamaOpt {
				what = "llama.cpp's llama_opt_epoch trains only tensors after the last KV-cache write"
			}
			fmt.Fprintf(errOut, "native trainer (%s): %d tensors (%d parameters) trained on %s; %s\n",
				res.Engine, res.TrainableTensors, res.TrainableParams, res.Device, what)
		}
		if res.FrozenWhy != "" {
			fmt.Fprintf(errOut, "native trainer: %s\n", res.FrozenWhy)
		}
		return &pipeline.NativeRun{Steps: res.Steps, Epochs: res.Epochs, Losses: res.Losses, Tokens: res.Tokens, Sequences: len(seqs),
			StreamTokens: res.StreamTokens, TokensPerSecond: res.TokensPerSecond, TrainableParams: res.TrainableParams,
			TrainedTensors: res.TrainedTensors, FrozenTensors: res.FrozenTensors, FrozenWhy: res.FrozenWhy, Device: res.Device, Engine: res.Engine, EngineNote: res.EngineNote, Stopped: res.Stopped}, err
	}
}
