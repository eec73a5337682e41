//go:build cgo

package llamacpp

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/fixture"
)

// The stories260K references are checks of the CPU engine (the GPU is
// compared with the CPU in TestGPU).

func TestStoriesGreedy(t *testing.T) {
	m := loadStories(t, ModelOptions{CPUOnly: true})
	ref := readGreedy(t)
	want, err := os.ReadFile(fixture.Path(t, storiesText))
	if err != nil {
		t.Fatal(err)
	}
	c, err := m.NewContext(ContextOptions{Threads: 1, ContextSize: 512})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if m.BOS() != ref.PromptIDs[0] {
		t.Fatalf("BOS = %d, want %d", m.BOS(), ref.PromptIDs[0])
	}
	var ids []int32
	var text strings.Builder
	for tok, err := range c.Generate(context.Background(), []int32{m.BOS()}, GenerateOptions{MaxTokens: 255}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tok.ID)
		text.WriteString(tok.Text)
	}
	if !slices.Equal(ids, ref.GreedyIDs[1:]) {
		t.Fatalf("greedy ids differ:\n got %v\nwant %v", ids, ref.GreedyIDs[1:])
	}
	if got := text.String(); got != ref.GreedyText || !strings.HasPrefix(string(want), got) {
		t.Errorf("greedy text differs from greedy.json's or is not a prefix of published_greedy.txt:\n got %q\nwant %q", got, ref.GreedyText)
	}
	// llama.cpp's detokenizer keeps the leading space after a removed BOS.
	if dt, err := m.Detokenize(ref.GreedyIDs[1:], false, false); err != nil || dt != ref.GreedyText {
		t.Errorf("Detokenize = %q, %v; want greedy.json's text", dt, err)
	}
}

func TestStoriesLogits(t *testing.T) {
	m := loadStories(t, ModelOptions{CPUOnly: true})
	ref := readGreedy(t)
	want := readF32(t, fixture.Path(t, storiesLogits), m.NVocab())
	c, err := m.NewContext(ContextOptions{Threads: 1, ContextSize: 512, KVCacheType: "f32", FlashAttention: FlashAttentionOff})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := c.Logits(ref.GreedyIDs[:len(want)])
	if err != nil {
		t.Fatal(err)
	}
	d := maxAbsDiff(got, want)
	t.Logf("stories260K logits, %d positions × %d: max abs diff vs transformers = %.3g (device %s)", len(want), m.NVocab(), d, m.Device().Description)
	if d >= 1e-3 {
		t.Errorf("max abs diff %.3g >= 1e-3", d)
	}
}

func TestTokenizeRoundTrip(t *testing.T) {
	m := loadStories(t, ModelOptions{VocabOnly: true})
	for _, s := range []string{"Once upon a time, there was a little girl named Lily.", "", "a\nb  c", "Ünïcödé ☃"} {
		toks, err := m.Tokenize(s, true, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(toks) == 0 || toks[0] != m.BOS() {
			t.Fatalf("Tokenize(%q, addSpecial) = %v, want BOS first", s, toks)
		}
		back, err := m.Detokenize(toks[1:], false, false)
		if err != nil || back != s {
			t.Errorf("Detokenize(Tokenize(%q)) = %q, %v", s, back, err)
		}
		plain, _ := m.Tokenize(s, false, false)
		if !slices.Equal(plain, toks[1:]) {
			t.Errorf("Tokenize(%q) without specials = %v, want %v", s, plain, toks[1:])
		}
	}
	withBOS, _ := m.Detokenize([]int32{m.BOS(), 403}, false, true)
	if !strings.HasPrefix(withBOS, "<s>") {
		t.Errorf("Detokenize with unparseSpecial = %q, want <s> first", withBOS)
	}
	if m.TokenPiece(m.BOS()) != "<s>" || !m.IsEOG(m.EOS()) || m.IsEOG(403) {
		t.Errorf("TokenPiece(BOS) = %q, IsEOG(EOS) = %v", m.TokenPiece(m.BOS()), m.IsEOG(m.EOS()))
	}
	if a, ok := m.Meta("general.architecture"); !ok || a != "llama" {
		t.Errorf("Meta(general.architecture) = %q, %v", a, ok)
	}
	if _, ok := m.Meta("no.such.key"); ok {
		t.Error("Meta of a missing key reports ok")
	}
	if _, err := m.NewContext(ContextOptions{Threads: 1}); err == nil {
		t.Error("NewContext on a VocabOnly model succeeded")
	}
}

func TestGenerateBatchMatchesGenerate(t *testing.T) {
	m := loadStories(t, ModelOptions{CPUOnly: true}) // logic, not numerics: bit-identical on the CPU
	prompts := []string{"Once upon a time", "The cat", "Lily and Tom went to the park. They", "One day", "A big red ball"}
	var reqs []Request
	for i, p := range prompts {
		toks, err := m.Tokenize(p, true, false)
		if err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, Request{Prompt: toks, Options: GenerateOptions{MaxTokens: 20 + 7*i}})
	}
	reqs[1].Options.Stop = []string{"."}
	// One-at-a-time reference.
	single, err := m.NewContext(ContextOptions{Threads: 1, ContextSize: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer single.Close()
	var want []Result
	for _, r := range reqs {
		var res Result
		var text strings.Builder
		for tok, err := range single.Generate(context.Background(), r.Prompt, r.Options) {
			if err != nil {
				t.Fatal(err)
			}
			res.Tokens = append(res.Tokens, tok.ID)
			text.WriteString(tok.Text)
		}
		res.Text = text.String()
		want = append(want, res)
	}
	c, err := m.NewContext(ContextOptions{Threads: 1, ContextSize: 256, Parallel: 4, BatchSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.argmaxMinVocab = 0 // exercise the multi-threaded greedy scan
	var mu sync.Mutex
	streamed := make([]int, len(reqs))
	got, err := c.GenerateBatch(context.Background(), reqs, func(i int, tok Token) {
		mu.Lock()
		streamed[i]++
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range reqs {
		g := got[i]
		if g.Err != nil {
			t.Fatalf("request %d: %v", i, g.Err)
		}
		if g.Text != want[i].Text {
			t.Errorf("request %d text:\n got %q\nwant %q", i, g.Text, want[i].Text)
		}
		if streamed[i] != len(g.Tokens) || g.PromptTokens != len(reqs[i].Prompt) {
			t.Errorf("request %d: streamed %d tokens, result has %d; prompt %d", i, streamed[i], len(g.Tokens), g.PromptTokens)
		}
	}
	if got[1].StopReason != StopString || strings.Contains(got[1].Text, ".") {
		t.Errorf("request 1 stop: %q %q", got[1].StopReason, got[1].Text)
	}
	if got[0].StopReason != StopMaxTokens || len(got[0].Tokens) != 20 {
		t.Errorf("request 0: %q with %d tokens", got[0].StopReason, len(got[0].Tokens))
	}
}

func TestStopStringHoldsBackText(t *testing.T) {
	m := loadStories(t, ModelOptions{CPUOnly: true}) // logic, not numerics: bit-identical on the CPU
	c, err := m.NewContext(ContextOptions{Threads: 1, ContextSize: 512})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var full strings.Builder
	for tok, err := range c.Generate(context.Background(), []int32{m.BOS()}, GenerateOptions{MaxTokens: 40}) {
		if err != nil {
			t.Fatal(err)
		}
		full.WriteString(tok.Text)
	}
	stop := "little girl"
	k := strings.Index(full.String(), stop)
	if k < 0 {
		t.Fatalf("%q not in %q", stop, full.String())
	}
	var got strings.Builder
	for tok, err := range c.Generate(context.Background(), []int32{m.BOS()}, GenerateOptions{MaxTokens: 40, Stop: []string{"zzz", stop}}) {
		if err != nil {
			t.Fatal(err)
		}
		got.WriteString(tok.Text)
	}
	if got.String() != full.String()[:k] {
		t.Errorf("with stop %q: %q, want %q", stop, got.String(), full.String()[:k])
	}
}

func TestSamplingSeed(t *testing.T) {
	m := loadStories(t, ModelOptions{CPUOnly: true}) // logic, not numerics: bit-identical on the CPU
	c, err := m.NewContext(ContextOptions{Threads: 1, ContextSize: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	run := func(seed uint32) []int32 {
		var ids []int32
		o := GenerateOptions{MaxTokens: 30, Sampling: SamplingOptions{Temperature: 1.2, TopK: 40, TopP: 0.95, MinP: 0.01, RepeatPenalty: 1.1, Seed: seed}}
		for tok, err := range c.Generate(context.Background(), []int32{m.BOS()}, o) {
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, tok.ID)
		}
		return ids
	}
	a, b, d := run(1), run(1), run(2)
	if !slices.Equal(a, b) {
		t.Errorf("same seed, different tokens: %v %v", a, b)
	}
	if slices.Equal(a, d) {
		t.Errorf("seeds 1 and 2 gave the same %d tokens", len(a))
	}
}

func TestGenerateCancel(t *testing.T) {
	m := loadStories(t, ModelOptions{CPUOnly: true}) // logic, not numerics: bit-identical on the CPU
	c, err := m.NewContext(ContextOptions{Threads: 1, ContextSize: 512})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	var last error
	for _, err := range c.Generate(ctx, []int32{m.BOS()}, GenerateOptions{}) {
		if err != nil {
			last = err
			break
		}
		if n++; n == 5 {
			cancel()
		}
	}
	if !errors.Is(last, context.Canceled) || n != 5 {
		t.Errorf("after cancel: %d tokens, err %v", n, last)
	}
	res, err := c.GenerateBatch(ctx, []Request{{Prompt: []int32{m.BOS()}}}, nil)
	if !errors.Is(err, context.Canceled) || len(res) != 1 || !errors.Is(res[0].Err, context.Canceled) {
		t.Errorf("GenerateBatch on a cancelled ctx: %v %+v", err, res)
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	notGGUF := filepath.Join(dir, "x.gguf")
	os.WriteFile(notGGUF, []byte("this is not a model, just some text"), 0o644)
	truncated := filepath.Join(dir, "t.gguf")
	os.WriteFile(truncated, []byte("GGUF\x03\x00\x00\x00\xff"), 0o644)
	src := fixture.Path(t, storiesGGUF)
	unknownArch := rewriteGGUF(t, src, func(kvs []gguf.KV) []gguf.KV {
		return setKV(kvs, "general.architecture", gguf.String("nosucharch"))
	})
	var le *LoadError
	for _, tc := range []struct {
		name, path string
		invalid    bool
		notExist   bool
		msg        string
	}{
		{"missing", filepath.Join(dir, "missing.gguf"), false, true, "cannot open"},
		{"not gguf", notGGUF, true, false, "not a GGUF file"},
		{"truncated", truncated, true, false, "not a valid GGUF"},
		{"directory", dir, true, false, "directory"},
		{"unknown architecture", unknownArch, true, false, "nosucharch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Load(tc.path, ModelOptions{Logger: testLogger(t)})
			if err == nil {
				m.Close()
				t.Fatal("Load succeeded")
			}
			t.Log(err)
			if !errors.As(err, &le) || le.InvalidInput() != tc.invalid || errors.Is(err, fs.ErrNotExist) != tc.notExist || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err = %v (invalid %v), want invalid %v, not-exist %v, %q", err, le != nil && le.InvalidInput(), tc.invalid, tc.notExist, tc.msg)
			}
		})
	}

	m := loadStories(t, ModelOptions{})
	c, err := m.NewContext(ContextOptions{Threads: 1, ContextSize: 256})
	if err != nil {
		t.Fatal(err)
	}
	long := make([]int32, 300)
	for i := range long {
		long[i] = int32(300 + i%100)
	}
	for _, err := range c.Generate(context.Background(), long, GenerateOptions{MaxTokens: 1}) {
		if !errors.Is(err, ErrContextFull) {
			t.Errorf("prompt longer than context: %v, want ErrContextFull", err)
		}
	}
	if _, err := c.Logits(long); !errors.Is(err, ErrContextFull) {
		t.Errorf("Logits longer than context: %v", err)
	}
	res, err := c.GenerateBatch(context.Background(), []Request{{Prompt: long}, {Prompt: nil}, {Prompt: []int32{9999}}, {Prompt: []int32{m.BOS()}, Options: GenerateOptions{MaxTokens: 2}}}, nil)
	if err != nil || !errors.Is(res[0].Err, ErrContextFull) || res[1].Err == nil || res[2].Err == nil || res[3].Err != nil || len(res[3].Tokens) != 2 {
		t.Errorf("GenerateBatch with bad requests: %v %+v", err, res)
	}
	for _, err := range c.Generate(context.Background(), []int32{-1}, GenerateOptions{}) {
		if err == nil || !strings.Contains(err.Error(), "outside the vocabulary") {
			t.Errorf("token -1: %v", err)
		}
	}
	// Generation that runs into the end of the context.
	var n int
	var last error
	for _, err := range c.Generate(context.Background(), []int32{m.BOS()}, GenerateOptions{Sampling: SamplingOptions{Temperature: 1, Seed: 3}}) {
		if err != nil {
			last = err
			break
		}
		n++
	}
	if last != nil && !errors.Is(last, ErrContextFull) {
		t.Errorf("long generation: %v after %d tokens", last, n)
	}

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for _, err := range c.Generate(context.Background(), []int32{1}, GenerateOptions{}) {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Generate on closed context: %v", err)
		}
	}
	if _, err := c.Logits([]int32{1}); !errors.Is(err, ErrClosed) {
		t.Errorf("Logits on closed context: %v", err)
	}
	if _, err := c.GenerateBatch(context.Background(), []Request{{Prompt: []int32{1}}}, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("GenerateBatch on closed context: %v", err)
	}
	c2, err := m.NewContext(ContextOptions{Threads: 1, ContextSize: 256})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := c2.Logits([]int32{1}); !errors.Is(err, ErrClosed) {
		t.Errorf("context of a closed model: %v", err)
	}
	if _, err := m.Tokenize("x", true, false); !errors.Is(err, ErrClosed) {
		t.Errorf("Tokenize on closed model: %v", err)
	}
	if _, err := m.NewContext(ContextOptions{Threads: 1}); !errors.Is(err, ErrClosed) {
		t.Errorf("NewContext on closed model: %v", err)
	}
	if _, err := m.ApplyChatTemplate([]ChatMessage{{"user", "hi"}}, true); !errors.Is(err, ErrClosed) {
		t.Errorf("ApplyChatTemplate on closed model: %v", err)
	}
}

func TestChatTemplate(t *testing.T) {
	m := loadStories(t, ModelOptions{VocabOnly: true})
	if _, err := m.ApplyChatTemplate([]ChatMessage{{"user", "hi"}}, true); !errors.Is(err, ErrNoChatTemplate) {
		t.Errorf("stories260K has no chat template: %v", err)
	}
	tmpl, err := os.ReadFile(fixture.Path(t, "templates/meta-llama-Llama-3.1-8B-Instruct.jinja"))
	if err != nil {
		t.Fatal(err)
	}
	p := rewriteGGUF(t, fixture.Path(t, storiesGGUF), func(kvs []gguf.KV) []gguf.KV {
		return setKV(kvs, "tokenizer.chat_template", gguf.String(string(tmpl)))
	})
	m2, err := Load(p, ModelOptions{VocabOnly: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	got, err := m2.ApplyChatTemplate([]ChatMessage{{"system", "Be brief."}, {"user", "Hi!"}}, true)
	if err != nil {
		t.Fatal(err)
	}
	want := "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
	if got != want {
		t.Errorf("llama3 template:\n got %q\nwant %q", got, want)
	}
}

func TestQuantizeRowsRoundTrip(t *testing.T) {
	const rows, cols = 4, 256
	src := make([]float32, rows*cols)
	for i := range src {
		src[i] = float32((i*7919)%211)/50 - 2
	}
	for _, tc := range []struct {
		t   gguf.Type
		tol float64
	}{{gguf.TypeF32, 0}, {gguf.TypeF16, 2e-3}, {gguf.TypeBF16, 2e-2}, {gguf.TypeQ8_0, 2e-2}, {gguf.TypeQ4_0, 0.2}, {gguf.TypeQ4_K, 0.2}, {gguf.TypeQ6_K, 0.05}} {
		q, err := QuantizeRows(tc.t, src, rows, cols, nil)
		if err != nil {
			t.Fatalf("%v: %v", tc.t, err)
		}
		if rs, _ := tc.t.RowSize(cols); int64(len(q)) != rows*rs {
			t.Errorf("%v: %d bytes, want %d", tc.t, len(q), rows*rs)
		}
		back, err := Dequantize(tc.t, q, rows*cols)
		if err != nil {
			t.Fatalf("%v: %v", tc.t, err)
		}
		if d := maxAbsDiff([][]float32{back}, [][]float32{src}); d > tc.tol {
			t.Errorf("%v: round trip max abs diff %g > %g", tc.t, d, tc.tol)
		}
	}
	if _, err := QuantizeRows(gguf.TypeQ4_K, src[:100], 1, 100, nil); err == nil {
		t.Error("Q4_K row of 100 accepted")
	}
	if _, err := QuantizeRows(gguf.TypeIQ2_XXS, src, rows, cols, nil); err == nil {
		t.Error("IQ2_XXS without imatrix accepted")
	}
	if _, err := QuantizeRows(gguf.TypeI32, src, rows, cols, nil); err == nil {
		t.Error("I32 accepted")
	}
	if _, err := Dequantize(gguf.TypeQ8_0, make([]byte, 33), 64); err == nil {
		t.Error("short Q8_0 data accepted")
	}
}

func TestQuantizeFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "q8.gguf")
	if err := Quantize(context.Background(), fixture.Path(t, storiesGGUF), out, QuantizeOptions{FileType: "F16", Threads: 2}); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ti, ok := f.Tensor("blk.0.attn_q.weight")
	if !ok || ti.Type != gguf.TypeF16 {
		t.Errorf("blk.0.attn_q.weight: %+v", ti)
	}
	if err := Quantize(context.Background(), fixture.Path(t, storiesGGUF), out, QuantizeOptions{FileType: "Q9_9"}); err == nil {
		t.Error("file type Q9_9 accepted")
	}
}

// TestConcurrentUse runs contexts of one model on several goroutines and
// closes the model under a tokenizing goroutine (run with -race).
func TestConcurrentUse(t *testing.T) {
	m, err := Load(fixture.Path(t, storiesGGUF), ModelOptions{CPUOnly: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ref := readGreedy(t)
	var wg sync.WaitGroup
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := m.NewContext(ContextOptions{Threads: 1, ContextSize: 256})
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			var ids []int32
			for tok, err := range c.Generate(context.Background(), []int32{m.BOS()}, GenerateOptions{MaxTokens: 30}) {
				if err != nil {
					t.Error(err)
					return
				}
				ids = append(ids, tok.ID)
			}
			if !slices.Equal(ids, ref.GreedyIDs[1:31]) {
				t.Errorf("concurrent greedy differs: %v", ids)
			}
		}()
	}
	wg.Wait()
	done := make(chan error)
	go func() {
		for {
			if _, err := m.Tokenize("Once upon a time", true, false); err != nil {
				done <- err
				return
			}
		}
	}()
	c, err := m.NewContext(ContextOptions{Threads: 1, ContextSize: 256})
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Errorf("Tokenize during Close: %v", err)
	}
	if _, err := c.Logits([]int32{1}); !errors.Is(err, ErrClosed) {
		t.Errorf("context after model Close: %v", err)
	}
}

// TestGenerateAllocsPerToken checks that generation allocates nothing per
// token: the allocations of a 200-token run equal those of a 20-token run.
func TestGenerateAllocsPerToken(t *testing.T) {
	m := loadStories(t, ModelOptions{CPUOnly: true})
	c, err := m.NewContext(ContextOptions{Threads: 1, ContextSize: 512})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	run := func(n int) float64 {
		return testing.AllocsPerRun(5, func() {
			for _, err := range c.Generate(context.Background(), []int32{m.BOS()}, GenerateOptions{MaxTokens: n}) {
				if err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	short, long := run(20), run(200)
	t.Logf("allocations per Generate: %v for 20 tokens, %v for 200", short, long)
	if long > short {
		t.Errorf("generation allocates per token: %v allocations for 200 tokens, %v for 20", long, short)
	}
}
