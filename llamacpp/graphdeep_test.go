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

// TestGraphTrainDeep trains a 32-layer model (stories260K's blocks
// repeated) with the graph engine on the CPU: ggml-opt's static graphs,
// which the engine used before, hold 2048 tensors and aborted at the first
// step from 16 layers on (GGML_ASSERT(obj_new) in ggml_opt_alloc's graph
// copy). The loss falls, and a stories260K-sized graph is far smaller.
func TestGraphTrainDeep(t *testing.T) {
	m := loadStories(t, ModelOptions{VocabOnly: true})
	dir := t.TempDir()
	o := graphOpts(t, filepath.Join(dir, "deep-out.gguf"), m)
	o.Model = deepStories(t, dir, 32)
	o.MaxSteps, o.LearningRate = 8, 1e-3
	res, err := Train(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("32 layers: %d tensors trained, losses %.4f", res.TrainableTensors, res.Losses)
	if res.Engine != EngineGraph || res.Steps != 8 || res.TrainableTensors != 32*9+2 {
		t.Fatalf("engine %s, %d steps, %d tensors", res.Engine, res.Steps, res.TrainableTensors)
	}
	if l := res.Losses; !(l[len(l)-1] < l[0]) {
		t.Fatalf("loss does not fall: %v", l)
	}
	g, err := newGraphModel(o.Model, 64, TrainOptions{CPUOnly: true, Threads: 1, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	small := newStoriesGraph(t, 64)
	t.Logf("training graph: %d nodes at 32 layers, %d at 5", g.nodes(), small.nodes())
	if n, s := g.nodes(), small.nodes(); n <= 2048 || s >= n/4 {
		t.Fatalf("training graph nodes: %d at 32 layers, %d at 5", n, s)
	}
}
