package differential_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sattva/sattva/convert"
	"github.com/sattva/sattva/dataset"
	"github.com/sattva/sattva/internal/cputime"
	"github.com/sattva/sattva/internal/fixture"
	"github.com/sattva/sattva/llamacpp"
	"github.com/sattva/sattva/numerology"
)

// llama3Vocab loads the shared Llama 3 tokenizer as a vocab-only GGUF made
// by convert.ConvertVocab. It skips without the engine (a build without cgo).
func llama3Vocab(t testing.TB) *llamacpp.Model {
	t.Helper()
	dir := fixture.Path(t, "llama31-tiny/hf")
	out := filepath.Join(t.TempDir(), "vocab.gguf")
	if err := convert.ConvertVocab(context.Background(), dir, out); err != nil {
		t.Fatal(err)
	}
	m, err := llamacpp.Load(out, llamacpp.ModelOptions{VocabOnly: true})
	if errors.Is(err, llamacpp.ErrNoEngine) {
		t.Skip("built without cgo: no llama.cpp tokenizer")
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// TestLlamaCounterMatchesWholeText: the count LLaMA-Factory's way (BOS plus
// each templated segment tokenized on its own) equals llama.cpp's
// tokenization of the whole chat-templated text, for the Llama 3 tokenizer.
func TestLlamaCounterMatchesWholeText(t *testing.T) {
	m := llama3Vocab(t)
	tmpl, _ := dataset.LookupTemplate("llama3")
	c := dataset.NewLlamaCounter(m, tmpl)
	exs := []dataset.Example{
		{Instruction: "Определи числа Джива, Дхарма, Подход, Метод, Карма для даты: 29.01.1988. Дай только числа.", Output: "Джива: 2\nДхарма: 3\nПодход: 1\nМетод: 8\nКарма: 5", Lang: "ru"},
		{Instruction: "Analyze this birth date", Input: "DDMMYYYY=05112004", Output: "Jiva: 5\nDharma: 7\nApproach: 2\nMethod: 6\nKarma: 2", Lang: "en"},
		{System: "You are SatTva — a local assistant.", Instruction: "  leading and trailing spaces  ", Output: " answer with a leading space\n\n", Lang: "en"},
		{History: [][2]string{{"Привет", "Здравствуйте!"}, {"How are you?", "Fine."}}, Instruction: "И ещё вопрос", Output: "Ответ 😀 с эмодзи", Lang: "ru"},
		{Instruction: "text with <|eot_id|> inside", Output: "ok<|start_header_id|>", Lang: "en"},
	}
	seq, err := numerology.Examples(numerology.GenOptions{N: 40, Seed: 2, RussianShare: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	for ex := range seq {
		exs = append(exs, dataset.Example{Instruction: ex.Instruction, Input: ex.Input, Output: ex.Output, Lang: ex.Lang})
	}
	for i, ex := range exs {
		got, err := c.CountTokens(&ex)
		if err != nil {
			t.Fatal(err)
		}
		whole, err := m.Tokenize(tmpl.Render(&ex), false, true)
		if err != nil {
			t.Fatal(err)
		}
		if got != len(whole) {
			t.Errorf("example %d: counted %d, whole text %d tokens", i, got, len(whole))
		}
		if whole[0] != m.BOS() {
			t.Errorf("example %d: first token %d, want BOS %d", i, whole[0], m.BOS())
		}
	}
	// the rendered text is the Llama 3 chat format, byte for byte
	want := "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nI\nX<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nO<|eot_id|>"
	if got := tmpl.Render(&dataset.Example{System: "S", Instruction: "I", Input: "X", Output: "O"}); got != want {
		t.Errorf("Render = %q", got)
	}
}

// TestLlama3VocabMatchesTransformers: the vocab-only GGUF tokenizes the
// shared reference prompt into the ids transformers produced for it.
func TestLlama3VocabMatchesTransformers(t *testing.T) {
	m := llama3Vocab(t)
	raw, err := os.ReadFile(fixture.Path(t, "llama31-tiny/ref/logits.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Prompt string  `json:"prompt"`
		IDs    []int32 `json:"ids"`
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	got, err := m.Tokenize(ref.Prompt, false, true)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(ref.IDs) {
		t.Errorf("llama.cpp ids\n%v\ntransformers ids\n%v", got, ref.IDs)
	}
}

// TestValidateCutoffLlama3: the validator's verdicts with the Llama 3
// counter agree with llama.cpp's tokenization of each whole templated
// example: exactly the examples longer than the cutoff are reported, and the
// token statistics are those of the whole texts.
func TestValidateCutoffLlama3(t *testing.T) {
	m := llama3Vocab(t)
	tmpl, _ := dataset.LookupTemplate("llama3")
	data := generated(t, 300)
	var lens []int
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var ex dataset.Example
		if err := json.Unmarshal(line, &ex); err != nil {
			t.Fatal(err)
		}
		whole, err := m.Tokenize(tmpl.Render(&ex), false, true)
		if err != nil {
			t.Fatal(err)
		}
		lens = append(lens, len(whole))
	}
	cutoff := slices.Sorted(slices.Values(lens))[len(lens)/2] // about half are longer
	var long []int64
	for i, n := range lens {
		if n > cutoff {
			long = append(long, int64(i+1))
		}
	}
	if len(long) == 0 {
		t.Fatalf("no example over the median length %d", cutoff)
	}
	lo, hi := slices.Min(lens), slices.Max(lens)
	v := dataset.NewValidator(dataset.Options{Tokens: dataset.NewLlamaCounter(m, tmpl), Cutoff: cutoff, NoDuplicates: true})
	if err := v.Validate(context.Background(), bytes.NewReader(data), "gen.jsonl"); err != nil {
		t.Fatal(err)
	}
	rep := v.Report()
	var got []int64
	for _, is := range rep.Issues {
		got = append(got, is.Line)
	}
	if fmt.Sprint(got) != fmt.Sprint(long) {
		t.Errorf("reported lines %v, want the %d over %d tokens: %v", got, len(long), cutoff, long)
	}
	if rep.Tokens.Min != lo || rep.Tokens.Max != hi {
		t.Errorf("token stats %+v, whole texts %d..%d", rep.Tokens, lo, hi)
	}
}

// BenchmarkValidateLlama3 is dataset's BenchmarkValidate with every
// example's tokens counted by the Llama 3 tokenizer (vocab-only GGUF
// through llama.cpp).
func BenchmarkValidateLlama3(b *testing.B) {
	m := llama3Vocab(b)
	tmpl, _ := dataset.LookupTemplate("llama3")
	data := generated(b, 10_000)
	cputime.Bench(b, data, func() {
		v := dataset.NewValidator(dataset.Options{Tokens: dataset.NewLlamaCounter(m, tmpl)})
		if err := v.Validate(context.Background(), bytes.NewReader(data), "bench"); err != nil {
			b.Fatal(err)
		}
		if r := v.Report(); r.Errors != 0 || r.Tokens.Counted != 10_000 {
			b.Fatalf("%d errors, %d counted", r.Errors, r.Tokens.Counted)
		}
	})
}

// generated is dataset's benchmark data: n numerology examples as JSONL.
func generated(tb testing.TB, n int) []byte {
	tb.Helper()
	b, err := numerology.ExamplesJSONL(numerology.GenOptions{N: n, Seed: 1, RussianShare: 0.5,
		From: numerology.Date{Year: 1000, Month: 1, Day: 1}, To: numerology.Date{Year: 9999, Month: 12, Day: 31}})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
