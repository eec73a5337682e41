package quantize_test

import (
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/quantize"
)

func testSums() *quantize.IMatrixSums {
	return &quantize.IMatrixSums{
		Datasets: []string{"a.txt", "train.jsonl"}, ChunkCount: 3, ChunkSize: 512,
		Entries: []quantize.IMatrixSum{
			{Name: "blk.1.ffn_down.weight", Cols: 4, Sums: []float32{1, 2, 3, 4}, Counts: []float32{1536}},
			{Name: "blk.0.ffn_down_exps.weight", Cols: 2, Sums: []float32{1, 2, 3, 4, 5, 6}, Counts: []float32{10, 0, 4}},
		},
	}
}

func TestWriteIMatrixRoundTrip(t *testing.T) {
	s := testSums()
	path := filepath.Join(t.TempDir(), "imatrix.gguf")
	if err := quantize.WriteIMatrix(t.Context(), path, s); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	for _, ti := range f.Tensors {
		names = append(names, ti.Name)
	}
	want := []string{"blk.0.ffn_down_exps.weight.in_sum2", "blk.0.ffn_down_exps.weight.counts",
		"blk.1.ffn_down.weight.in_sum2", "blk.1.ffn_down.weight.counts"}
	if !slices.Equal(names, want) {
		t.Errorf("tensors %v, want %v (llama-imatrix's order)", names, want)
	}
	if typ, _ := f.String("general.type"); typ != "imatrix" {
		t.Errorf("general.type = %q", typ)
	}
	if d := f.Tensors[0].Dims; !slices.Equal(d, []uint64{2, 3}) {
		t.Errorf("in_sum2 dims %v, want [2 3]", d)
	}
	if d := f.Tensors[3].Dims; !slices.Equal(d, []uint64{1}) {
		t.Errorf("dense counts dims %v, want [1]", d)
	}
	m, err := quantize.ReadIMatrix(path)
	if err != nil {
		t.Fatal(err)
	}
	norm := s.IMatrix()
	for name, w := range norm.Entries {
		if !slices.Equal(m.Entries[name], w) {
			t.Errorf("%s: read %v, want %v", name, m.Entries[name], w)
		}
	}
	if got := norm.Entries["blk.0.ffn_down_exps.weight"]; !slices.Equal(got, []float32{0.1, 0.2, 1, 1, 1.25, 1.5}) {
		t.Errorf("normalised experts %v (a zero count gives 1s)", got)
	}
	if m.ChunkCount != 3 || !slices.Equal(m.Datasets, s.Datasets) {
		t.Errorf("chunks %d datasets %v", m.ChunkCount, m.Datasets)
	}
}

func TestWriteIMatrixLegacyRoundTrip(t *testing.T) {
	s := testSums()
	path := filepath.Join(t.TempDir(), "imatrix.dat")
	if err := quantize.WriteIMatrixLegacy(path, s); err != nil {
		t.Fatal(err)
	}
	m, err := quantize.ReadIMatrix(path)
	if err != nil {
		t.Fatal(err)
	}
	norm := s.IMatrix()
	for name, w := range norm.Entries {
		got := m.Entries[name]
		if len(got) != len(w) {
			t.Fatalf("%s: %d values, want %d", name, len(got), len(w))
		}
		for i := range w {
			if math.Abs(float64(got[i]-w[i])) > 1e-6*math.Abs(float64(w[i])) {
				t.Errorf("%s[%d] = %v, want %v", name, i, got[i], w[i])
			}
		}
	}
	if m.ChunkCount != 3 || !slices.Equal(m.Datasets, []string{"train.jsonl"}) {
		t.Errorf("chunks %d datasets %v", m.ChunkCount, m.Datasets)
	}
}

func TestWriteIMatrixRejectsBadEntries(t *testing.T) {
	for name, s := range map[string]*quantize.IMatrixSums{
		"short": {Entries: []quantize.IMatrixSum{{Name: "a", Cols: 4, Sums: []float32{1}, Counts: []float32{1}}}},
		"twice": {Entries: []quantize.IMatrixSum{{Name: "a", Cols: 1, Sums: []float32{1}, Counts: []float32{1}}, {Name: "a", Cols: 1, Sums: []float32{1}, Counts: []float32{1}}}},
	} {
		if err := quantize.WriteIMatrix(t.Context(), filepath.Join(t.TempDir(), "x.gguf"), s); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
