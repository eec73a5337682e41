//go:build cgo

package llamacpp

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/fixture"
)

// qaExample is one prompt/answer pair of the graph engine's tests, as token
// ids: BOS + prompt, then answer + EOS.
func qaExample(t testing.TB, m *Model, prompt, answer string) (ids []int32, promptLen int) {
	t.Helper()
	p, err := m.Tokenize(prompt, false, false)
	if err != nil {
		t.Fatal(err)
	}
	a, err := m.Tokenize(answer, false, false)
	if err != nil {
		t.Fatal(err)
	}
	ids = append([]int32{m.BOS()}, p...)
	promptLen = len(ids)
	ids = append(ids, a...)
	return append(ids, m.EOS()), promptLen
}

func newStoriesGraph(t testing.TB, n int) *graphModel {
	t.Helper()
	g, err := newGraphModel(fixture.Path(t, storiesGGUF), n, TrainOptions{CPUOnly: true, Threads: 1, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Close)
	return g
}

// TestGraphLossMatchesLlamaCpp checks the graph's forward pass against
// llama.cpp's: two examples packed into one window (the second with a
// prompt) give the mean cross-entropy that llama.cpp's logits of each
// example, computed alone, give over the same learned positions.
func TestGraphLossMatchesLlamaCpp(t *testing.T) {
	m := loadStories(t, ModelOptions{CPUOnly: true})
	a, _ := qaExample(t, m, "Once upon a time there was a purple numerology cat named Seven.", "")
	b, bp := qaExample(t, m, "One day, Lily went to the park.", " She saw a big red ball.")
	o := TrainOptions{Sequences: [][]int32{a, b}, Prompt: []int{0, bp}}
	g := newStoriesGraph(t, 64)
	w := newGraphWindow(64)
	w.fill(&o, []int{0, 1})
	got := g.step(w, false, 1e-3, 0)

	c, err := m.NewContext(ContextOptions{ContextSize: 256, Threads: 1, KVCacheType: "f32", FlashAttention: FlashAttentionOff})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var sum float64
	var n int
	for i, s := range [][]int32{a, b} {
		logits, err := c.Logits(s)
		if err != nil {
			t.Fatal(err)
		}
		for pos := range len(s) - 1 {
			if pos+1 < o.Prompt[i] {
				continue
			}
			sum += nll(logits[pos], s[pos+1])
			n++
		}
	}
	want := sum / float64(n)
	t.Logf("graph loss %.6f, llama.cpp %.6f over %d learned positions (window: %d tokens)", got, want, n, w.tokensUsed)
	if n != w.learned || math.Abs(got-want) > 1e-4*want {
		t.Fatalf("graph loss %.6f over %d positions, llama.cpp's logits give %.6f over %d", got, w.learned, want, n)
	}
}

// nll is -log softmax(logits)[target].
func nll(logits []float32, target int32) float64 {
	mx := math.Inf(-1)
	for _, l := range logits {
		mx = math.Max(mx, float64(l))
	}
	var z float64
	for _, l := range logits {
		z += math.Exp(float64(l) - mx)
	}
	return -(float64(logits[target]) - mx - math.Log(z))
}

// graphWeights reads every trained tensor of g.
func graphWeights(t testing.TB, g *graphModel) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, name := range g.trained {
		var b strings.Builder
		if _, err := (tensorData{g: g, name: name, size: g.sizes[name]}).WriteTo(&b); err != nil {
			t.Fatal(err)
		}
		out[name] = []byte(b.String())
	}
	return out
}

// TestGraphAnswerOnlyLoss shows that unlearned positions count for nothing:
// changing the target of a prompt position leaves the loss and the trained
// weights as they were (changing an answer target does not), and packing a
// second example whose every position is unlearned beside the first leaves
// the loss and the weights after one AdamW step bit for bit the same. The
// second fails if those rows sent any gradient back (as ggml's cross-entropy
// does for a label row of zeros unless its logits are masked).
func TestGraphAnswerOnlyLoss(t *testing.T) {
	m := loadStories(t, ModelOptions{VocabOnly: true})
	a, ap := qaExample(t, m, "Once upon a time there was a", " purple numerology cat named Seven.")
	z, _ := qaExample(t, m, "One day, Lily went to the park and saw a big red ball.", "")
	const n = 64
	o := TrainOptions{Sequences: [][]int32{a, z}, Prompt: []int{ap, len(z)}}
	run := func(edit func(w *graphWindow), idx ...int) (float64, map[string][]byte) {
		g := newStoriesGraph(t, n)
		w := newGraphWindow(n)
		w.fill(&o, idx)
		if edit != nil {
			edit(w)
		}
		loss := g.step(w, true, 1e-2, 0)
		return loss, graphWeights(t, g)
	}
	same := func(x, y map[string][]byte) bool {
		for k, v := range x {
			if string(v) != string(y[k]) {
				return false
			}
		}
		return len(x) == len(y)
	}
	base, wBase := run(nil, 0)
	if math.IsNaN(base) || base <= 0 {
		t.Fatalf("loss %v", base)
	}
	// A prompt position's target (position 1 predicts token 2, a prompt token).
	l, wl := run(func(w *graphWindow) { w.targets[1] = (w.targets[1] + 7) % int32(m.NVocab()) }, 0)
	if l != base || !same(wBase, wl) {
		t.Fatalf("changing a prompt target changed the loss (%v → %v) or the update", base, l)
	}
	// An answer position's target: the control.
	l, wl = run(func(w *graphWindow) { w.targets[ap] = (w.targets[ap] + 7) % int32(m.NVocab()) }, 0)
	if l == base || same(wBase, wl) {
		t.Fatalf("changing an answer target left the loss (%v) and the update as they were", l)
	}
	// A whole unlearned example packed beside it.
	l, wl = run(nil, 0, 1)
	if l != base || !same(wBase, wl) {
		t.Fatalf("an unlearned example in the window changed the loss (%v → %v) or the update", base, l)
	}
}

// graphData is a fixed tiny question-and-answer set that stories260K does
// not answer by itself.
func graphData(t testing.TB, m *Model) (seqs [][]int32, prompts []int) {
	for _, q := range [][2]string{
		{"The cat is called", " Seven. Jiva 3 Dharma 9."},
		{"The dog is called", " Four. Jiva 5 Dharma 1."},
		{"The bird is called", " Two. Jiva 8 Dharma 6."},
	} {
		for range 4 {
			s, p := qaExample(t, m, q[0], q[1])
			seqs, prompts = append(seqs, s), append(prompts, p)
		}
	}
	return seqs, prompts
}

func graphOpts(t testing.TB, out string, m *Model) TrainOptions {
	seqs, prompts := graphData(t, m)
	return TrainOptions{
		Model: fixture.Path(t, storiesGGUF), Out: out, Sequences: seqs, Prompt: prompts, Context: 64, Engine: EngineGraph,
		LearningRate: 3e-3, Epochs: 16, Seed: 7, Threads: 1, CPUOnly: true, Logger: testLogger(t),
	}
}

// TestGraphTrainLearns trains every tensor of stories260K on the fixed tiny
// set with a fixed seed: the answer loss falls far, a second run gives the
// same losses, and the checkpoint reloads, keeps the source's metadata and
// answers a trained prompt with its trained answer, which the base does not.
func TestGraphTrainLearns(t *testing.T) {
	m := loadStories(t, ModelOptions{VocabOnly: true})
	dir := t.TempDir()
	out := filepath.Join(dir, "ckpt.gguf")
	o := graphOpts(t, out, m)
	o.WarmupSteps = 2
	o.Metadata = []gguf.KV{{Key: "general.provenance.trainer", Value: gguf.String("test")}}
	var steps []TrainStep
	o.OnStep = func(s TrainStep) error { steps = append(steps, s); return nil }
	res, err := Train(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Engine != EngineGraph || res.Steps != len(steps) || res.Steps != res.Windows*o.Epochs || res.Windows < 2 {
		t.Fatalf("result %+v, %d callbacks", res, len(steps))
	}
	src, err := gguf.Open(fixture.Path(t, storiesGGUF))
	if err != nil {
		t.Fatal(err)
	}
	params, tensors := src.ParameterCount(), len(src.Tensors)
	src.Close()
	if res.TrainableParams != params || res.TrainableTensors != tensors {
		t.Fatalf("%d tensors (%d params) trained, want all %d (%d)", res.TrainableTensors, res.TrainableParams, tensors, params)
	}
	first, last := res.Losses[0], res.Losses[len(res.Losses)-1]
	t.Logf("answer loss %.4f → %.4f in %d steps, %d learned tokens, %.0f tokens/s", first, last, res.Steps, res.LearnedTokens, res.TokensPerSecond)
	if !(first > 2) || !(last < first/4) {
		t.Fatalf("loss did not fall far: %v", res.Losses)
	}

	o2 := o
	o2.Out, o2.OnStep = filepath.Join(dir, "again.gguf"), nil
	res2, err := Train(context.Background(), o2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range res.Losses {
		if res.Losses[i] != res2.Losses[i] {
			t.Fatalf("step %d: loss %v, then %v with the same seed", i+1, res.Losses[i], res2.Losses[i])
		}
	}

	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	tr, _ := f.Get("general.provenance.trainer")
	name, _ := f.String("general.name")
	f.Close()
	if tr.V != "test" || name == "" {
		t.Fatalf("checkpoint trainer key %v, general.name %q", tr.V, name)
	}
	base := greedy(t, fixture.Path(t, storiesGGUF), "The dog is called", 12)
	tuned := greedy(t, out, "The dog is called", 24)
	t.Logf("base: %q\ntuned: %q", base, tuned)
	if !strings.HasPrefix(strings.TrimSpace(tuned), "Four. Jiva 5") || strings.Contains(base, "Jiva") {
		t.Fatalf("base %q, tuned %q: the checkpoint should answer as trained", base, tuned)
	}
}

// TestGraphTrainCancelKeepsCheckpoint cancels between checkpoints: Train
// returns context.Canceled, the checkpoint is the last complete one byte for
// byte, no temporary file is left, and it loads and generates.
func TestGraphTrainCancelKeepsCheckpoint(t *testing.T) {
	m := loadStories(t, ModelOptions{VocabOnly: true})
	dir := t.TempDir()
	out := filepath.Join(dir, "ckpt.gguf")
	checkCancelKeepsCheckpoint(t, graphOpts(t, out, m), dir, "The cat")
}

func TestGraphTrainErrors(t *testing.T) {
	m := loadStories(t, ModelOptions{VocabOnly: true})
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		edit func(*TrainOptions)
		is   error
	}{
		{"nothing to learn", func(o *TrainOptions) {
			for i := range o.Prompt {
				o.Prompt[i] = len(o.Sequences[i])
			}
		}, ErrTooFewTokens},
		{"nothing trains", func(o *TrainOptions) { o.TrainTensor = func(string) bool { return false } }, ErrNothingToTrain},
		{"example longer than the window", func(o *TrainOptions) { o.Context = 8 }, nil},
		{"prompt lengths mismatch", func(o *TrainOptions) { o.Prompt = o.Prompt[:1] }, nil},
		{"prompt past the end", func(o *TrainOptions) { o.Prompt[0] = 1000 }, nil},
		{"bad engine", func(o *TrainOptions) { o.Engine = "torch" }, nil},
		{"bad token", func(o *TrainOptions) {
			o.Sequences = append([][]int32{{1, 1 << 20, 2}}, o.Sequences...)
			o.Prompt = append([]int{1}, o.Prompt...)
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := graphOpts(t, filepath.Join(dir, "x.gguf"), m)
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

// TestGraphGradientDescends trains one tensor group of stories260K at a time
// with plain SGD at a small rate on one fixed window: a correct gradient
// lowers the window's loss step after step.
func TestGraphGradientDescends(t *testing.T) {
	m := loadStories(t, ModelOptions{VocabOnly: true})
	seqs, prompts := graphData(t, m)
	o := TrainOptions{Sequences: seqs, Prompt: prompts}
	for _, group := range []string{"token_embd", "output_norm", "attn_norm", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down", "attn_output", "attn_q", "attn_k", "attn_v"} {
		t.Run(group, func(t *testing.T) {
			g, err := newGraphModel(fixture.Path(t, storiesGGUF), len(seqs[0]), TrainOptions{CPUOnly: true, Threads: 1, Logger: testLogger(t),
				Optimizer: OptimizerSGD, TrainTensor: func(n string) bool { return strings.Contains(n, group) }})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			w := newGraphWindow(len(seqs[0]))
			w.fill(&o, []int{0})
			lr := 1e-5
			if strings.HasSuffix(group, "norm") {
				lr = 1e-2 // small gradients: a smaller step is below F32's resolution of the loss
			}
			var ls []float64
			for range 4 {
				ls = append(ls, g.step(w, true, lr, 0))
			}
			t.Logf("%s: %.7f", group, ls)
			if !(ls[3] < ls[0]) {
				t.Fatalf("loss %v does not fall", ls)
			}
		})
	}
}

// TestTrainEngineAuto: EngineAuto trains stories260K on the CPU with the
// graph engine, and falls back to llama-opt, saying why, when an example
// does not fit one window.
func TestTrainEngineAuto(t *testing.T) {
	m := loadStories(t, ModelOptions{VocabOnly: true})
	dir := t.TempDir()
	o := graphOpts(t, filepath.Join(dir, "auto.gguf"), m)
	o.Engine, o.MaxSteps = EngineAuto, 1
	res, err := Train(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Engine != EngineGraph || res.EngineNote != "" || res.Steps != 1 {
		t.Fatalf("engine %q (%q), %d steps: want the graph engine", res.Engine, res.EngineNote, res.Steps)
	}

	long := []int32{m.BOS()}
	for len(long) < 300 {
		long = append(long, o.Sequences[0][1:]...)
	}
	o.Sequences, o.Prompt, o.Context = [][]int32{long}, nil, 256
	o.Out = filepath.Join(dir, "long.gguf")
	res, err = Train(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fallback: %s", res.EngineNote)
	if res.Engine != EngineLlamaOpt || !strings.Contains(res.EngineNote, "more than a window of 256") {
		t.Fatalf("engine %q (%q): want llama-opt, for the example longer than the window", res.Engine, res.EngineNote)
	}
}

// TestFrozenOnCUDA pins which tensor the graph engine leaves frozen on a
// device: only token_embd.weight, only on CUDA, only for vocabularies over
// the 65,535 rows one ggml-cuda GET_ROWS_BACK launch can write.
func TestFrozenOnCUDA(t *testing.T) {
	for _, c := range []struct {
		dev, name string
		vocab     int
		frozen    bool
	}{
		{"CUDA0", "token_embd.weight", 128256, true},
		{"CUDA1", "token_embd.weight", 65536, true},
		{"CUDA0", "token_embd.weight", 65535, false},
		{"CUDA0", "token_embd.weight", 32000, false},
		{"CUDA0", "output.weight", 128256, false},
		{"CUDA0", "blk.0.attn_q.weight", 128256, false},
		{"CPU", "token_embd.weight", 128256, false},
		{"Vulkan0", "token_embd.weight", 128256, false},
	} {
		why := frozenOn(c.dev, c.name, c.vocab)
		if (why != "") != c.frozen {
			t.Errorf("frozenOn(%q, %q, %d) = %q, want frozen %v", c.dev, c.name, c.vocab, why, c.frozen)
		}
		if c.frozen && !strings.Contains(why, c.dev) {
			t.Errorf("frozenOn(%q, …): %q does not name the device", c.dev, why)
		}
	}
}
