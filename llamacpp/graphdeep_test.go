//go:build cgo

package llamacpp

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/fixture"
)

// deepStories writes stories260K with its 5 blocks repeated to n blocks
// (block i is a copy of block i%5) to dir: the tensor and node count of an
// n-layer Llama at stories260K's width, with its tokenizer.
func deepStories(t testing.TB, dir string, n int) string {
	t.Helper()
	out := filepath.Join(dir, fmt.Sprintf("stories-%dl.gguf", n))
	edit := func(s *gguf.Spec) error {
		byName := map[string]gguf.WriteTensor{}
		var head, tail []gguf.WriteTensor
		for _, wt := range s.Tensors {
			byName[wt.Name] = wt
			switch {
			case strings.HasPrefix(wt.Name, "blk."):
			case wt.Name == "token_embd.weight" || wt.Name == "rope_freqs.weight":
				head = append(head, wt)
			default:
				tail = append(tail, wt)
			}
		}
		ts := head
		for il := range n {
			for _, what := range []string{"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"} {
				src, ok := byName[fmt.Sprintf("blk.%d.%s.weight", il%5, what)]
				if !ok {
					return fmt.Errorf("stories260K has no blk.%d.%s.weight", il%5, what)
				}
				src.Name = fmt.Sprintf("blk.%d.%s.weight", il, what)
				ts = append(ts, src)
			}
		}
		s.Tensors = append(ts, tail...)
		s.SetKV("llama.block_count", gguf.Uint32(uint32(n)))
		return nil
	}
	if err := gguf.Rewrite(context.Background(), fixture.Path(t, storiesGGUF), out, edit, gguf.WriteOptions{Workers: 1}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestGraphDeepRepro(t *testing.T) {
	m := loadStories(t, ModelOptions{VocabOnly: true})
	path := deepStories(t, t.TempDir(), 16)
	seqs, prompts := graphData(t, m)
	g, err := newGraphModel(path, 64, TrainOptions{CPUOnly: true, Threads: 1, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	o := TrainOptions{Sequences: seqs, Prompt: prompts}
	w := newGraphWindow(64)
	w.fill(&o, []int{0, 1})
	for range 3 {
		t.Logf("loss %g", g.step(w, true, 1e-3, 0))
	}
}
