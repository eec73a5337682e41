package cli

import (
	"context"
	"fmt"
	"io"
	"math"

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
		if _, err := llamacpp.InitBackends(backendDir, nil); err != nil {
			return nil, err
		}
		vocab, err := llamacpp.Load(job.Model, llamacpp.ModelOptions{VocabOnly: true})
		if err != nil {
			return nil, err
		}
		seqs, err := job.Encode(vocab)
		vocab.Close()
		if err != nil {
			return nil, err
		}
		o := llamacpp.TrainOptions{
			Model: job.Model, Out: job.Out, Sequences: seqs, Epochs: job.Epochs, MaxSteps: job.MaxSteps,
			LearningRate: job.LearningRate, Schedule: job.Schedule, WeightDecay: job.WeightDecay, Optimizer: job.Optimizer,
			Context: job.Context, Seed: job.Seed, CheckpointSteps: job.CheckpointSteps, Threads: job.Threads, CPUOnly: cpu,
		}
		if o.Threads == 0 {
			o.Threads = threads
		}
		if job.Tensors != nil {
			o.TrainTensor = job.Tensors.MatchString
		}
		for k, v := range job.Metadata {
			o.Metadata = append(o.Metadata, gguf.KV{Key: k, Value: gguf.String(v)})
		}
		if job.WarmupRatio > 0 {
			// The step count is known once the examples are packed: plan it
			// the way Train does, by the tokens.
			n := 0
			for _, s := range seqs {
				n += len(s)
			}
			ctxTok := max(job.Context, 256)
			if n > ctxTok {
				steps := ((n-1-ctxTok)/ctxTok + 1) * max(job.Epochs, 1)
				if job.MaxSteps > 0 {
					steps = min(steps, job.MaxSteps)
				}
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
			fmt.Fprintf(errOut, "native trainer: %d tensors (%d parameters) trained on %s; this llama.cpp trains only tensors after the last KV-cache write\n",
				res.TrainableTensors, res.TrainableParams, res.Device)
		}
		return &pipeline.NativeRun{Steps: res.Steps, Epochs: res.Epochs, Losses: res.Losses, Tokens: res.Tokens, Sequences: len(seqs),
			StreamTokens: res.StreamTokens, TokensPerSecond: res.TokensPerSecond, TrainableParams: res.TrainableParams,
			TrainedTensors: res.TrainedTensors, Device: res.Device, Stopped: res.Stopped}, err
	}
}
