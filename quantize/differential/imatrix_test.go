//go:build cgo

package differential_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/fixture"
	"github.com/sattva/sattva/llamacpp"
	"github.com/sattva/sattva/quantize"
	"github.com/sattva/sattva/synth"
)

// randomIMatrix gives every 2-D blk.* weight of the model at path (and
// output.weight) ncols positive weights, as an importance matrix would.
func randomIMatrix(t *testing.T, path string, seed uint64) *quantize.IMatrix {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := rand.New(rand.NewPCG(seed, 11))
	m := &quantize.IMatrix{Entries: map[string][]float32{}, Datasets: []string{"train.jsonl"}, ChunkCount: 7}
	for _, ti := range f.Tensors {
		if len(ti.Dims) < 2 || (ti.Name != "output.weight" && ti.Name[:4] != "blk.") {
			continue
		}
		w := make([]float32, ti.Dims[0])
		for i := range w {
			w[i] = float32(r.ExpFloat64() * 0.3)
		}
		m.Entries[ti.Name] = w
	}
	return m
}

// compareWithIMatrix runs compareWithLlamaCpp with the same importance
// matrix given to both engines.
func compareWithIMatrix(t *testing.T, in string, fts []string, seed uint64) {
	t.Helper()
	m := randomIMatrix(t, in, seed)
	const file = "imatrix.gguf"
	compareWithLlamaCpp(t, in, fts,
		quantize.Options{Threads: 2, IMatrix: m, IMatrixPath: file},
		llamacpp.QuantizeOptions{Threads: 2, IMatrix: &llamacpp.QuantizeIMatrix{
			Entries: m.Entries, File: file, Dataset: m.Datasets[0], Chunks: m.ChunkCount}})
}

var imatrixFileTypes = []string{"Q4_K_M", "IQ4_XS", "Q3_K_M", "IQ4_NL", "Q5_K_M", "Q6_K", "Q2_K", "Q2_K_S", "Q3_K_S", "Q3_K_L", "Q4_0", "Q8_0"}

func TestIMatrixQuantizeMatchesLlamaCppStories(t *testing.T) {
	compareWithIMatrix(t, fixture.Path(t, "stories260K/ref/stories260K-f32.ref.gguf"), imatrixFileTypes, 1)
}

func TestIMatrixQuantizeMatchesLlamaCppSynth(t *testing.T) {
	dir := t.TempDir()
	for i, sh := range []synth.GGUFShape{
		{Hidden: 256, FFN: 512, Layers: 8, Heads: 4, KVHeads: 1, Vocab: 512, Type: gguf.TypeF16},
		{Hidden: 96, FFN: 320, Layers: 3, Heads: 4, KVHeads: 2, Vocab: 256, Tied: true, Type: gguf.TypeBF16},
		// Rows of 32 and 96: k-quants fall back to IQ4_NL, Q5_0, Q5_1, Q8_0.
		{Hidden: 32, FFN: 96, Layers: 2, Heads: 2, KVHeads: 1, Vocab: 4096, Type: gguf.TypeBF16},
	} {
		in := filepath.Join(dir, fmt.Sprintf("synth%d.gguf", i))
		if err := synth.WriteGGUF(t.Context(), in, sh, uint64(10+i)); err != nil {
			t.Fatal(err)
		}
		compareWithIMatrix(t, in, imatrixFileTypes, uint64(20+i))
	}
}
