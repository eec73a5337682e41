//go:build cgo

package differential_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sattva/sattva/convert"
	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/fixture"
	"github.com/sattva/sattva/llamacpp"
	"github.com/sattva/sattva/synth"
)

// These tests run our GGUFs through llama.cpp (package llamacpp) on the CPU.

func loadModel(t *testing.T, path string, o llamacpp.ModelOptions) *llamacpp.Model {
	t.Helper()
	if _, err := llamacpp.InitBackends("", nil); err != nil {
		t.Fatal(err)
	}
	o.GPULayers = 0
	m, err := llamacpp.Load(path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// lastLogits returns the logits of the last n positions of ids.
func lastLogits(t *testing.T, m *llamacpp.Model, ids []int32, n int) [][]float32 {
	t.Helper()
	c, err := m.NewContext(llamacpp.ContextOptions{Threads: 1, BatchThreads: 1, ContextSize: 256, KVCacheType: "f32", FlashAttention: llamacpp.FlashAttentionOff})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	all, err := c.Logits(ids)
	if err != nil {
		t.Fatal(err)
	}
	return all[len(all)-n:]
}

func readRefLogits(t *testing.T, rel string, nvocab int) [][]float32 {
	t.Helper()
	b, err := os.ReadFile(fixture.Path(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	if len(b)%(4*nvocab) != 0 {
		t.Fatalf("%s: %d bytes are not rows of %d float32", rel, len(b), nvocab)
	}
	rows := make([][]float32, len(b)/(4*nvocab))
	for i := range rows {
		rows[i] = make([]float32, nvocab)
		for j := range rows[i] {
			rows[i][j] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*(i*nvocab+j):]))
		}
	}
	return rows
}

func promptIDs(t *testing.T) []int32 {
	t.Helper()
	b, err := os.ReadFile(fixture.Path(t, "llama31-tiny/ref/logits.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		IDs []int32 `json:"ids"`
	}
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.IDs) != 78 {
		t.Fatalf("logits.json has %d ids, want 78", len(ref.IDs))
	}
	return ref.IDs
}

func maxDiff(a, b [][]float32) float64 {
	d := 0.0
	for i := range a {
		for j := range a[i] {
			d = math.Max(d, math.Abs(float64(a[i][j]-b[i][j])))
		}
	}
	return d
}

func convertTiny(t *testing.T, o convert.Options) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "tiny.gguf")
	if _, err := convert.Convert(context.Background(), fixture.Path(t, "llama31-tiny/hf"), out, o); err != nil {
		t.Fatal(err)
	}
	return out
}

func checkLogits(t *testing.T, m *llamacpp.Model, refRel string) {
	t.Helper()
	ids := promptIDs(t)
	want := readRefLogits(t, refRel, m.NVocab())
	got := lastLogits(t, m, ids, len(want))
	d := maxDiff(got, want)
	t.Logf("max abs logit difference vs %s: %.3g", refRel, d)
	if d >= 1e-3 {
		t.Errorf("max abs difference %.3g >= 1e-3", d)
	}
}

func TestLlamaCppBaseLogits(t *testing.T) {
	m := loadModel(t, convertTiny(t, convert.Options{OutType: gguf.TypeF32}), llamacpp.ModelOptions{})
	checkLogits(t, m, "llama31-tiny/ref/logits_base_last2.f32")
}

func TestLlamaCppAdapterLogits(t *testing.T) {
	base := convertTiny(t, convert.Options{OutType: gguf.TypeF32})
	ad := filepath.Join(t.TempDir(), "lora.gguf")
	if _, err := convert.ConvertLoRA(context.Background(), fixture.Path(t, "llama31-tiny/lora"), fixture.Path(t, "llama31-tiny/hf"), ad, convert.LoRAOptions{}); err != nil {
		t.Fatal(err)
	}
	m := loadModel(t, base, llamacpp.ModelOptions{LoRA: []llamacpp.Adapter{{Path: ad, Scale: 1}}})
	checkLogits(t, m, "llama31-tiny/ref/logits_lora_last2.f32")
}

func TestLlamaCppMergedLoRALogits(t *testing.T) {
	merged := convertTiny(t, convert.Options{OutType: gguf.TypeF32, MergeLoRA: []convert.LoRASpec{{Dir: fixture.Path(t, "llama31-tiny/lora"), Scale: 1}}})
	m := loadModel(t, merged, llamacpp.ModelOptions{})
	checkLogits(t, m, "llama31-tiny/ref/logits_lora_last2.f32")
	// And the merge must matter: the base logits differ.
	base := readRefLogits(t, "llama31-tiny/ref/logits_base_last2.f32", m.NVocab())
	lora := readRefLogits(t, "llama31-tiny/ref/logits_lora_last2.f32", m.NVocab())
	if maxDiff(base, lora) < 1e-2 {
		t.Fatal("the reference base and LoRA logits are too close for this test to mean anything")
	}
}

func TestLlamaCppStoriesGreedy(t *testing.T) {
	out := filepath.Join(t.TempDir(), "stories.gguf")
	if _, err := convert.Convert(context.Background(), fixture.Path(t, "stories260K/hf"), out, convert.Options{OutType: gguf.TypeF32}); err != nil {
		t.Fatal(err)
	}
	m := loadModel(t, out, llamacpp.ModelOptions{})
	published, err := os.ReadFile(fixture.Path(t, "stories260K/llama2c/published_greedy.txt"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := m.NewContext(llamacpp.ContextOptions{Threads: 1, ContextSize: 512})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	gb, err := os.ReadFile(fixture.Path(t, "stories260K/ref/greedy.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		GreedyIDs []int32 `json:"greedy_ids"`
	}
	if err := json.Unmarshal(gb, &ref); err != nil || len(ref.GreedyIDs) != 256 {
		t.Fatalf("greedy.json: %v (%d ids)", err, len(ref.GreedyIDs))
	}
	var text strings.Builder
	var ids []int32
	for tok, err := range c.Generate(context.Background(), []int32{m.BOS()}, llamacpp.GenerateOptions{MaxTokens: 255}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tok.ID)
		text.WriteString(tok.Text)
	}
	if !slices.Equal(ids, ref.GreedyIDs[1:]) {
		t.Errorf("greedy ids differ from greedy.json:\n got %v\nwant %v", ids, ref.GreedyIDs[1:])
	}
	got := strings.TrimSpace(text.String())
	if len(got) < 400 || !strings.HasPrefix(strings.TrimSpace(string(published)), got) {
		t.Errorf("greedy text is not the published one:\n got %q\nwant a prefix of %q", got, published)
	}
}

// readVocabTests reads llama.cpp's tokenizer test vectors.
func readVocabTests(t *testing.T, name string) (inputs []string, want [][]int32) {
	t.Helper()
	inp, err := os.ReadFile(fixture.Path(t, "vocab/"+name+".inp"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.ReadFile(fixture.Path(t, "vocab/"+name+".out"))
	if err != nil {
		t.Fatal(err)
	}
	inputs = strings.Split(string(inp), "\n__ggml_vocab_test__\n")
	if inputs[len(inputs)-1] == "" {
		inputs = inputs[:len(inputs)-1]
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	for _, l := range lines {
		var ids []int32
		for _, f := range strings.Fields(l) {
			n, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("%s.out: %q", name, l)
			}
			ids = append(ids, int32(n))
		}
		want = append(want, ids)
	}
	if len(inputs) != len(want) || len(inputs) < 40 {
		t.Fatalf("%s: %d inputs, %d outputs", name, len(inputs), len(want))
	}
	return inputs, want
}

func checkVocab(t *testing.T, dir, name string) {
	out := filepath.Join(t.TempDir(), "vocab.gguf")
	if err := convert.ConvertVocab(context.Background(), dir, out); err != nil {
		t.Fatal(err)
	}
	m := loadModel(t, out, llamacpp.ModelOptions{VocabOnly: true})
	inputs, want := readVocabTests(t, name)
	bad := 0
	for i, s := range inputs {
		got, err := m.Tokenize(s, false, false)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want[i]) {
			bad++
			t.Errorf("%q: got %v, want %v", s, got, want[i])
		}
	}
	t.Logf("%d of %d test strings tokenized as llama.cpp's %s.out", len(inputs)-bad, len(inputs), name)
}

func TestLlamaCppVocabLlama3(t *testing.T) {
	checkVocab(t, fixture.Path(t, "llama31-tiny/hf"), "ggml-vocab-llama-bpe.gguf")
}

func TestLlamaCppVocabLlama2(t *testing.T) {
	model, err := os.ReadFile(fixture.Path(t, "vocab/llama2-tokenizer.model"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.model"), model, 0o644); err != nil {
		t.Fatal(err)
	}
	checkVocab(t, dir, "ggml-vocab-llama-spm.gguf")
}

// TestQ8_0AgainstGGML compares the converter's Q8_0 (gguf-py's algorithm) with
// ggml's quantize_row_q8_0 on random rows, including exact .5 ties after
// scaling; the F16/BF16 rounding is checked against llama.cpp's own files
// by the reference tests.
func TestQ8_0AgainstGGML(t *testing.T) {
	const rows, cols = 64, 256
	src := make([]float32, rows*cols)
	state := uint64(42)
	for i := range src {
		r := synth.SplitMix64(&state)
		src[i] = float32(int64(r>>11)-(1<<52)) / (1 << 52) * float32(1+r%7)
		if i%32 == 0 {
			src[i] = 127 // makes d exactly 1 so that halves below are ties
		}
		if i%32 == 1 {
			src[i] = float32(int(r%100)) + 0.5
		}
	}
	want, err := llamacpp.QuantizeRows(gguf.TypeQ8_0, src, rows, cols, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(want))
	for b := range len(src) / 32 {
		gguf.QuantizeQ8_0Numpy((*[32]float32)(src[32*b:]), (*[34]byte)(got[34*b:]))
	}
	diff := 0
	for i := range got {
		if got[i] != want[i] {
			diff++
		}
	}
	if diff != 0 {
		t.Errorf("%d of %d bytes differ from ggml's Q8_0", diff, len(got))
	}
}
