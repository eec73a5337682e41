package quantize

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/atomicfile"
)

// IMatrixSums is an importance matrix before normalisation, as
// llama-imatrix keeps and saves it: per weight, the sums of squared input
// activations per column (for each of NMat matrices) and the rows counted.
type IMatrixSums struct {
	Entries    []IMatrixSum
	Datasets   []string // imatrix.datasets
	ChunkCount int      // imatrix.chunk_count: chunks processed
	ChunkSize  int      // imatrix.chunk_size: tokens per chunk
}

// IMatrixSum is one weight's statistics: Sums holds len(Counts) matrices of
// Cols values.
type IMatrixSum struct {
	Name   string
	Cols   int
	Sums   []float32
	Counts []float32
}

func (s *IMatrixSums) check() error {
	seen := map[string]bool{}
	for _, e := range s.Entries {
		if e.Name == "" || e.Cols <= 0 || len(e.Counts) == 0 || len(e.Sums) != e.Cols*len(e.Counts) {
			return fmt.Errorf("quantize: imatrix entry %q: %d sums for %d matrices of %d", e.Name, len(e.Sums), len(e.Counts), e.Cols)
		}
		if seen[e.Name] {
			return fmt.Errorf("quantize: imatrix entry %q twice", e.Name)
		}
		seen[e.Name] = true
	}
	return nil
}

func (s *IMatrixSums) sorted() []IMatrixSum {
	es := slices.Clone(s.Entries)
	slices.SortFunc(es, func(a, b IMatrixSum) int { return strings.Compare(a.Name, b.Name) })
	return es
}

// WriteIMatrix writes s atomically in llama-imatrix's GGUF form
// (save_imatrix in tools/imatrix/imatrix.cpp): general.type "imatrix",
// imatrix.datasets, imatrix.chunk_count, imatrix.chunk_size, and for each
// weight in name order the F32 tensors NAME.in_sum2 [Cols, NMat] and
// NAME.counts [1, NMat] (trailing dimensions of 1 dropped, as ggml writes them).
func WriteIMatrix(ctx context.Context, path string, s *IMatrixSums) error {
	if err := s.check(); err != nil {
		return err
	}
	datasets := s.Datasets
	if datasets == nil {
		datasets = []string{}
	}
	spec := &gguf.Spec{KVs: []gguf.KV{
		{Key: "general.type", Value: gguf.String("imatrix")},
		{Key: "imatrix.datasets", Value: gguf.Strings(datasets)},
		{Key: "imatrix.chunk_count", Value: gguf.Uint32(uint32(s.ChunkCount))},
		{Key: "imatrix.chunk_size", Value: gguf.Uint32(uint32(s.ChunkSize))},
	}}
	dims := func(ne0, ne1 int) []uint64 {
		if ne1 == 1 {
			return []uint64{uint64(ne0)}
		}
		return []uint64{uint64(ne0), uint64(ne1)}
	}
	for _, e := range s.sorted() {
		nmat := len(e.Counts)
		spec.Tensors = append(spec.Tensors,
			gguf.WriteTensor{Name: e.Name + ".in_sum2", Dims: dims(e.Cols, nmat), Type: gguf.TypeF32, Data: gguf.BytesData(f32Bytes(e.Sums))},
			gguf.WriteTensor{Name: e.Name + ".counts", Dims: dims(1, nmat), Type: gguf.TypeF32, Data: gguf.BytesData(f32Bytes(e.Counts))})
	}
	return gguf.WriteFile(ctx, path, spec, gguf.WriteOptions{Workers: 1})
}

// WriteIMatrixLegacy writes s atomically in llama-imatrix's legacy .dat form
// (save_imatrix_legacy): entries without data are left out; each value is
// stored as sum/count × ncall, ncall being the chunks the entry's largest
// count spans (rounded up); then the chunk count and the first data set name.
func WriteIMatrixLegacy(path string, s *IMatrixSums) error {
	if err := s.check(); err != nil {
		return err
	}
	var b bytes.Buffer
	i32 := func(v int32) { binary.Write(&b, binary.LittleEndian, v) }
	var keep []IMatrixSum
	for _, e := range s.sorted() {
		for _, c := range e.Counts {
			if c != 0 {
				keep = append(keep, e)
				break
			}
		}
	}
	chunk := int64(max(s.ChunkSize, 1))
	i32(int32(len(keep)))
	for _, e := range keep {
		i32(int32(len(e.Name)))
		b.WriteString(e.Name)
		maxc := int64(slices.Max(e.Counts))
		ncall := int32((maxc + chunk - 1) / chunk)
		i32(ncall)
		i32(int32(len(e.Sums)))
		per := len(e.Sums) / len(e.Counts)
		for i, v := range e.Sums {
			count := e.Counts[i/per]
			if count == 0 {
				v, count = 1, 1
			}
			binary.Write(&b, binary.LittleEndian, math.Float32bits(float32(v/count)*float32(ncall)))
		}
	}
	i32(int32(s.ChunkCount))
	ds := ""
	if len(s.Datasets) > 0 {
		ds = s.Datasets[len(s.Datasets)-1]
	}
	i32(int32(len(ds)))
	b.WriteString(ds)
	return atomicfile.WriteFile(path, b.Bytes(), 0o644)
}

// IMatrix normalises s as llama-quantize's load_imatrix does on reading the
// GGUF form: each sum divided by its matrix's count, 1 where the count is 0.
func (s *IMatrixSums) IMatrix() *IMatrix {
	m := &IMatrix{Entries: make(map[string][]float32, len(s.Entries)), Datasets: slices.Clone(s.Datasets), ChunkCount: s.ChunkCount}
	for _, e := range s.Entries {
		w := make([]float32, len(e.Sums))
		for j, c := range e.Counts {
			for i := 0; i < e.Cols; i++ {
				if c > 0 {
					w[j*e.Cols+i] = e.Sums[j*e.Cols+i] / c
				} else {
					w[j*e.Cols+i] = 1
				}
			}
		}
		m.Entries[e.Name] = w
	}
	return m
}

func f32Bytes(x []float32) []byte {
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}
