//go:build cgo

package llamacpp

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/fixture"
)

// trainSentence is the fixed tiny dataset: one sentence stories260K does not
// continue this way by itself, repeated.
const trainSentence = "Once upon a time there was a purple numerology cat named Seven."

func trainData(t testing.TB, m *Model, n int) [][]int32 {
	t.Helper()
	toks, err := m.Tokenize(trainSentence, false, false)
	if err != nil {
		t.Fatal(err)
	}
	seq := append([]int32{m.BOS()}, toks...)
	seq = append(seq, m.EOS())
	out := make([][]int32, n)
	for i := range out {
		out[i] = seq
	}
	return out
}

func trainOpts(t testing.TB, out string, seqs [][]int32) TrainOptions {
	return TrainOptions{
		Model: fixture.Path(t, storiesGGUF), Out: out, Sequences: seqs, Engine: EngineLlamaOpt,
		LearningRate: 1e-3, Epochs: 1, Seed: 7, Threads: 1, CPUOnly: true, Logger: testLogger(t),
	}
}

func fileSum(t testing.TB, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func greedy(t testing.TB, path, prompt string, n int) string {
	t.Helper()
	m, err := Load(path, ModelOptions{CPUOnly: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c, err := m.NewContext(ContextOptions{ContextSize: 256, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.Tokenize(prompt, true, false)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for tok, err := range c.Generate(context.Background(), p, GenerateOptions{MaxTokens: n}) {
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(tok.Text)
	}
	return b.String()
}

// TestTrainLossFalls trains stories260K on a fixed tiny dataset with a fixed
// seed: the loss falls, a second run gives the same losses, and the
// checkpoint reloads and generates the trained sentence, which the base does not.
func TestTrainLossFalls(t *testing.T) {
	m := loadStories(t, ModelOptions{VocabOnly: true})
	seqs := trainData(t, m, 80) // ~1.4K tokens: 5 windows of 256
	dir := t.TempDir()
	out := filepath.Join(dir, "ckpt.gguf")
	o := trainOpts(t, out, seqs)
	o.Epochs = 4
	o.WarmupSteps = 2
	// Every window starts at the same place in the sentence: the windows
	// are the same text, so the loss of each step shows the progress.
	period := len(seqs[0])
	o.Stride = period * ((256 + period - 1) / period)
	windows := (len(seqs)*period-257)/o.Stride + 1
	o.Metadata = []gguf.KV{{Key: "general.provenance.trainer", Value: gguf.String("test")}}
	var steps []TrainStep
	o.OnStep = func(s TrainStep) error { steps = append(steps, s); return nil }
	res, err := Train(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	want := 4 * windows
	if res.Steps != want || len(res.Losses) != want || len(steps) != want || res.Windows != windows {
		t.Fatalf("steps %d, losses %d, callbacks %d, windows %d; want %d, %d, %d, %d", res.Steps, len(res.Losses), len(steps), res.Windows, want, want, want, windows)
	}
	if res.TrainableTensors == 0 || res.TrainableParams == 0 || res.Tokens != int64(want)*256 {
		t.Fatalf("result %+v", res)
	}
	mean := func(l []float64) float64 {
		s := 0.0
		for _, v := range l {
			s += v
		}
		return s / float64(len(l))
	}
	first, last := res.Losses[0], mean(res.Losses[want-3:])
	t.Logf("loss %.4f → %.4f, %d tensors (%d params) trained: %v, %.0f tokens/s", first, last, res.TrainableTensors, res.TrainableParams, res.TrainedTensors, res.TokensPerSecond)
	// Only the last block trains (see the package's training notes), so
	// the loss cannot go far; it must fall clearly all the same.
	if !(last < first-0.15) {
		t.Fatalf("loss did not fall: first step %.4f, last steps %.4f (%v)", first, last, res.Losses)
	}
	for i := 1; i < len(res.Losses); i++ {
		if res.Losses[i] > res.Losses[0]+0.05 {
			t.Fatalf("step %d: loss %.4f above the first step's %.4f (%v)", i+1, res.Losses[i], res.Losses[0], res.Losses)
		}
	}
	if steps[0].LearningRate >= steps[1].LearningRate || steps[want-1].LearningRate >= steps[5].LearningRate {
		t.Fatalf("learning rates do not warm up and decay: %g %g … %g %g", steps[0].LearningRate, steps[1].LearningRate, steps[5].LearningRate, steps[want-1].LearningRate)
	}

	// Same seed, same losses.
	o2 := o
	o2.Out = filepath.Join(dir, "again.gguf")
	o2.OnStep = nil
	res2, err := Train(context.Background(), o2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range res.Losses {
		if res.Losses[i] != res2.Losses[i] {
			t.Fatalf("step %d: loss %v, then %v with the same seed", i+1, res.Losses[i], res2.Losses[i])
		}
	}

	// The checkpoint keeps the source's metadata the saver drops, the
	// source's context length, and the extra keys.
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	ctxLen, _ := f.Uint32("llama.context_length")
	tr, _ := f.Get("general.provenance.trainer")
	f.Close()
	src, _ := gguf.Open(fixture.Path(t, storiesGGUF))
	wantCtx, _ := src.Uint32("llama.context_length")
	src.Close()
	if ctxLen != wantCtx || tr.V != "test" {
		t.Fatalf("checkpoint context_length %d (want %d), trainer key %v", ctxLen, wantCtx, tr.V)
	}

	// It reloads and generates, differently from the base.
	prompt := "Once upon a time there was a purple"
	base := greedy(t, fixture.Path(t, storiesGGUF), prompt, 24)
	tuned := greedy(t, out, prompt, 24)
	t.Logf("base: %q\ntuned: %q", base, tuned)
	if tuned == "" || tuned == base {
		t.Fatalf("base %q, tuned %q: the checkpoint should generate, and differently", base, tuned)
	}
}

// TestTrainCancelKeepsCheckpoint cancels training between checkpoints: Train
// returns context.Canceled, and the checkpoint file is the last complete one,
// byte for byte, with no temporary file left beside it.
func TestTrainCancelKeepsCheckpoint(t *testing.T) {
	m := loadStories(t, ModelOptions{VocabOnly: true})
	dir := t.TempDir()
	out := filepath.Join(dir, "ckpt.gguf")
	o := trainOpts(t, out, trainData(t, m, 80))
	o.Epochs = 4
	checkCancelKeepsCheckpoint(t, o, dir, "Once")
}

// checkCancelKeepsCheckpoint trains with o (checkpoints every 2 steps into
// o.Out, in dir) and cancels after step 5: Train returns context.Canceled,
// the checkpoint is step 4's byte for byte, dir holds nothing else, and the
// checkpoint generates from prompt.
func checkCancelKeepsCheckpoint(t *testing.T, o TrainOptions, dir, prompt string) {
	t.Helper()
	out := o.Out
	o.CheckpointSteps = 2
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var saved [32]byte
	o.OnStep = func(s TrainStep) error {
		if s.Step == 4 {
			if s.Checkpoint != out {
				t.Errorf("step 4: checkpoint %q, want %q", s.Checkpoint, out)
			}
			saved = fileSum(t, out)
		}
		if s.Step == 5 {
			cancel() // as Ctrl-C would, between checkpoints
		}
		return nil
	}
	res, err := Train(ctx, o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if res == nil || !res.Stopped || res.Steps != 5 || res.CheckpointStep != 4 {
		t.Fatalf("result %+v: want stopped after step 5 with the step-4 checkpoint", res)
	}
	if fileSum(t, out) != saved {
		t.Fatal("the checkpoint changed after the last complete save")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("files left: %v", names)
	}
	if g := greedy(t, out, prompt, 4); g == "" {
		t.Fatal("the checkpoint generates nothing")
	}
}

func TestTrainErrors(t *testing.T) {
	m := loadStories(t, ModelOptions{VocabOnly: true})
	dir := t.TempDir()
	seqs := trainData(t, m, 80)
	for _, tc := range []struct {
		name string
		edit func(*TrainOptions)
		is   error
	}{
		{"too few tokens", func(o *TrainOptions) { o.Sequences = seqs[:2] }, ErrTooFewTokens},
		{"nothing trains", func(o *TrainOptions) { o.TrainTensor = func(string) bool { return false } }, ErrNothingToTrain},
		{"context not 256", func(o *TrainOptions) { o.Context = 100 }, nil},
		{"zero rate", func(o *TrainOptions) { o.LearningRate = 0 }, nil},
		{"bad token", func(o *TrainOptions) { o.Sequences = append([][]int32{{1 << 20}}, seqs...) }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := trainOpts(t, filepath.Join(dir, "x.gguf"), seqs)
			tc.edit(&o)
			_, err := Train(context.Background(), o)
			if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Fatalf("err %v, want %v", err, tc.is)
			}
			if _, serr := os.Stat(o.Out); serr == nil {
				t.Fatal("a failed run wrote a checkpoint")
			}
		})
	}
}
