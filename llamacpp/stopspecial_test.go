//go:build cgo

package llamacpp

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sattva/sattva/convert"
	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/fixture"
)

// headerEmitter converts llama31-tiny (the real Llama 3 tokenizer, random
// weights) and swaps output.weight's rows of the token greedy decoding picks
// at step `at` and <|start_header_id|>: the model then emits
// <|start_header_id|> there, with every logit of the earlier steps
// unchanged. It returns the model, the prompt and the greedy tokens of the
// original model before that step.
func headerEmitter(t *testing.T, at int) (*Model, []int32, []int32) {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "tiny.gguf")
	if _, err := convert.Convert(context.Background(), fixture.Path(t, "llama31-tiny/hf"), src, convert.Options{OutType: gguf.TypeF32, Threads: 2}); err != nil {
		t.Fatal(err)
	}
	m0, err := Load(src, ModelOptions{CPUOnly: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	text, err := m0.ApplyChatTemplate([]ChatMessage{{Role: "user", Content: "Say hello."}}, true)
	if err != nil {
		t.Fatal(err)
	}
	prompt, err := m0.Tokenize(text, true, true)
	if err != nil {
		t.Fatal(err)
	}
	c0, err := m0.NewContext(ContextOptions{ContextSize: 256, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	var greedy []int32
	for tok, err := range c0.Generate(context.Background(), prompt, GenerateOptions{MaxTokens: at + 1, IgnoreEOS: true}) {
		if err != nil {
			t.Fatal(err)
		}
		greedy = append(greedy, tok.ID)
	}
	m0.Close()
	if len(greedy) != at+1 {
		t.Fatalf("greedy run made %d tokens, want %d", len(greedy), at+1)
	}
	const header = 128006
	victim := greedy[at]
	for _, g := range greedy[:at] {
		if g == victim || g == header {
			t.Skipf("greedy token %d repeats before step %d; pick another step", g, at)
		}
	}
	out := filepath.Join(dir, "emitter.gguf")
	err = gguf.Rewrite(context.Background(), src, out, func(s *gguf.Spec) error {
		for i := range s.Tensors {
			wt := &s.Tensors[i]
			if wt.Name != "output.weight" {
				continue
			}
			var b strings.Builder
			if _, err := wt.Data.WriteTo(&b); err != nil {
				return err
			}
			data := []byte(b.String())
			row := int(wt.Dims[0]) * 4
			a, h := data[int(victim)*row:][:row], data[header*row:][:row]
			tmp := append([]byte(nil), a...)
			copy(a, h)
			copy(h, tmp)
			wt.Data = gguf.BytesData(data)
		}
		return nil
	}, gguf.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(out, ModelOptions{CPUOnly: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, prompt, greedy[:at]
}

// TestStopMatchesSpecialTokenText: a stop string that is a special token's
// text ends generation when the model emits that token (Ollama's
// behaviour), in Generate and in GenerateBatch, and the text before it is
// kept whole.
func TestStopMatchesSpecialTokenText(t *testing.T) {
	const at = 3
	m, prompt, before := headerEmitter(t, at)
	if got := m.TokenPiece(128006); got != "<|start_header_id|>" {
		t.Fatalf("token 128006 is %q", got)
	}
	wantText, err := m.Detokenize(before, true, false)
	if err != nil {
		t.Fatal(err)
	}
	c, err := m.NewContext(ContextOptions{ContextSize: 256, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// Without the stop, the model goes on past the header token.
	var all []int32
	for tok, err := range c.Generate(context.Background(), prompt, GenerateOptions{MaxTokens: at + 4, IgnoreEOS: true}) {
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, tok.ID)
	}
	if len(all) < at+1 || all[at] != 128006 {
		t.Fatalf("the edited model does not emit <|start_header_id|> at step %d: %v", at, all)
	}

	stop := []string{"<|start_header_id|>"}
	var ids []int32
	var text strings.Builder
	for tok, err := range c.Generate(context.Background(), prompt, GenerateOptions{MaxTokens: 64, Stop: stop, IgnoreEOS: true}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tok.ID)
		text.WriteString(tok.Text)
	}
	if len(ids) != at || text.String() != wantText {
		t.Errorf("Generate with stop %q: %d tokens %q, want %d tokens %q", stop, len(ids), text.String(), at, wantText)
	}

	// A stop that spans the end of a plain token and the special token.
	if len(wantText) > 0 {
		last := wantText[len(wantText)-1:]
		text.Reset()
		for tok, err := range c.Generate(context.Background(), prompt, GenerateOptions{MaxTokens: 64, Stop: []string{last + "<|start_header"}, IgnoreEOS: true}) {
			if err != nil {
				t.Fatal(err)
			}
			text.WriteString(tok.Text)
		}
		if want := wantText[:len(wantText)-1]; text.String() != want {
			t.Errorf("stop across a plain and a special token: %q, want %q", text.String(), want)
		}
	}

	res, err := c.GenerateBatch(context.Background(), []Request{
		{Prompt: prompt, Options: GenerateOptions{MaxTokens: 64, Stop: stop, IgnoreEOS: true}},
		{Prompt: prompt, Options: GenerateOptions{MaxTokens: at + 2, IgnoreEOS: true}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r := res[0]; r.StopReason != StopString || r.Text != wantText {
		t.Errorf("GenerateBatch with stop: reason %s text %q, want %s %q", r.StopReason, r.Text, StopString, wantText)
	}
	if r := res[1]; r.StopReason != StopMaxTokens || len(r.Tokens) != at+2 {
		t.Errorf("GenerateBatch without stop: reason %s after %d tokens", r.StopReason, len(r.Tokens))
	}
}
