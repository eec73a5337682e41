package quantize_test

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/quantize"
	"github.com/sattva/sattva/synth"
)

// writeIMatrixGGUF writes llama-imatrix's GGUF form: NAME.in_sum2 [ne0, n]
// and NAME.counts [n] F32 tensors, keys imatrix.datasets/chunk_count/chunk_size.
func writeIMatrixGGUF(t *testing.T, path string, sums map[string][]float32, counts map[string][]float32) {
	t.Helper()
	kvs := []gguf.KV{
		{Key: "general.type", Value: gguf.String("imatrix")},
		{Key: "imatrix.datasets", Value: gguf.Strings([]string{"calib.txt"})},
		{Key: "imatrix.chunk_count", Value: gguf.Uint32(42)},
		{Key: "imatrix.chunk_size", Value: gguf.Uint32(512)},
	}
	var ts []gguf.WriteTensor
	for name, s := range sums {
		c := counts[name]
		ts = append(ts,
			gguf.WriteTensor{Name: name + ".in_sum2", Dims: []uint64{uint64(len(s) / len(c)), uint64(len(c))}, Type: gguf.TypeF32, Data: gguf.BytesData(f32bytes(s))},
			gguf.WriteTensor{Name: name + ".counts", Dims: []uint64{1, uint64(len(c))}, Type: gguf.TypeF32, Data: gguf.BytesData(f32bytes(c))})
	}
	if err := gguf.WriteFile(t.Context(), path, &gguf.Spec{KVs: kvs, Tensors: ts}, gguf.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
}

func f32bytes(x []float32) []byte {
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

// writeIMatrixLegacy writes the .dat form.
func writeIMatrixLegacy(t *testing.T, path string, entries map[string][]float32, ncall int32, chunks int32, dataset string) {
	t.Helper()
	le := binary.LittleEndian
	var b []byte
	b = le.AppendUint32(b, uint32(len(entries)))
	for name, e := range entries {
		b = le.AppendUint32(b, uint32(len(name)))
		b = append(b, name...)
		b = le.AppendUint32(b, uint32(ncall))
		b = le.AppendUint32(b, uint32(len(e)))
		b = append(b, f32bytes(e)...)
	}
	b = le.AppendUint32(b, uint32(chunks))
	b = le.AppendUint32(b, uint32(len(dataset)))
	b = append(b, dataset...)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadIMatrixGGUF(t *testing.T) {
	p := filepath.Join(t.TempDir(), "imatrix.gguf")
	writeIMatrixGGUF(t, p,
		map[string][]float32{"blk.0.attn_q.weight": {2, 4, 6, 8}, "blk.0.ffn_down_exps.weight": {1, 2, 3, 4, 5, 6}},
		map[string][]float32{"blk.0.attn_q.weight": {2}, "blk.0.ffn_down_exps.weight": {2, 0}})
	m, err := quantize.ReadIMatrix(p)
	if err != nil {
		t.Fatal(err)
	}
	if m.ChunkCount != 42 || len(m.Datasets) != 1 || m.Datasets[0] != "calib.txt" {
		t.Errorf("metadata: %+v", m)
	}
	want := map[string][]float32{
		"blk.0.attn_q.weight":        {1, 2, 3, 4},           // sums / count
		"blk.0.ffn_down_exps.weight": {0.5, 1, 1.5, 1, 1, 1}, // second expert never ran: 1s
	}
	for name, w := range want {
		got := m.Entries[name]
		if len(got) != len(w) {
			t.Fatalf("%s: %v, want %v", name, got, w)
		}
		for i := range w {
			if got[i] != w[i] {
				t.Errorf("%s: %v, want %v", name, got, w)
				break
			}
		}
	}
}

func TestReadIMatrixLegacy(t *testing.T) {
	p := filepath.Join(t.TempDir(), "imatrix.dat")
	writeIMatrixLegacy(t, p, map[string][]float32{"output.weight": {3, 6, 9}}, 3, 17, "wiki.train.raw")
	m, err := quantize.ReadIMatrix(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Entries["output.weight"]; len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 3 {
		t.Errorf("values %v, want [1 2 3] (divided by ncall)", got)
	}
	if m.ChunkCount != 17 || m.Datasets[0] != "wiki.train.raw" {
		t.Errorf("trailer: %+v", m)
	}
	// Truncated files are errors, not panics.
	raw, _ := os.ReadFile(p)
	for _, n := range []int{0, 3, 8, 20, 30} {
		q := filepath.Join(t.TempDir(), "cut.dat")
		os.WriteFile(q, raw[:n], 0o644)
		if _, err := quantize.ReadIMatrix(q); err == nil {
			t.Errorf("file cut at %d bytes accepted", n)
		}
	}
}

// TestIMatrixAppliedPerTensor: QuantizeFile with an importance matrix gives,
// for each tensor with an entry, the bytes of QuantizeRows with that entry
// (what llama_model_quantize passes to ggml_quantize_chunk), and records the
// imatrix keys llama-quantize writes.
func TestIMatrixAppliedPerTensor(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "f16.gguf")
	if err := synth.WriteGGUF(t.Context(), in, synth.GGUFShape{Hidden: 256, FFN: 512, Layers: 2, Heads: 4, KVHeads: 2, Vocab: 256, Type: gguf.TypeF16}, 9); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sums, counts := map[string][]float32{}, map[string][]float32{}
	for i, ti := range f.Tensors {
		if len(ti.Dims) < 2 || i%3 == 0 {
			continue // some tensors without an entry
		}
		s := make([]float32, ti.Dims[0])
		for j := range s {
			s[j] = float32((j*7+i)%13) + 0.25
		}
		sums[ti.Name], counts[ti.Name] = s, []float32{4}
	}
	imPath := filepath.Join(dir, "imatrix.gguf")
	writeIMatrixGGUF(t, imPath, sums, counts)
	m, err := quantize.ReadIMatrix(imPath)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "q.gguf")
	if _, err := quantize.QuantizeFile(t.Context(), in, out, gguf.MostlyQ4_K_M, quantize.Options{IMatrix: m, IMatrixPath: imPath}); err != nil {
		t.Fatal(err)
	}
	g, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if n, err := g.Uint32("quantize.imatrix.entries_count"); err != nil || int(n) != len(sums) {
		t.Errorf("quantize.imatrix.entries_count = %d, %v; want %d", n, err, len(sums))
	}
	if s, _ := g.String("quantize.imatrix.file"); s != imPath {
		t.Errorf("quantize.imatrix.file = %q", s)
	}
	checked := 0
	for _, ti := range g.Tensors {
		if !ti.Type.IsQuantized() {
			continue
		}
		src, _ := f.Tensor(ti.Name)
		raw := make([]byte, src.Size())
		f.TensorData(src).ReadAt(raw, 0)
		x := make([]float32, src.NumElements())
		quantize.DequantizeRows(src.Type, x, raw)
		want := make([]byte, ti.Size())
		if err := quantize.QuantizeRows(ti.Type, want, x, int(ti.Dims[0]), m.Entries[ti.Name]); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, ti.Size())
		g.TensorData(ti).ReadAt(got, 0)
		if string(got) != string(want) {
			t.Errorf("%s (%v, imatrix %v): bytes differ from QuantizeRows", ti.Name, ti.Type, m.Entries[ti.Name] != nil)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("nothing quantized")
	}
}

// FuzzReadIMatrix: any bytes give an IMatrix or an error, never a panic or
// an allocation beyond the file's size.
func FuzzReadIMatrix(f *testing.F) {
	le := binary.LittleEndian
	seed := le.AppendUint32(nil, 1)
	seed = le.AppendUint32(seed, 3)
	seed = append(seed, "a.w"...)
	seed = le.AppendUint32(seed, 2)
	seed = le.AppendUint32(seed, 2)
	seed = append(seed, f32bytes([]float32{1, 2})...)
	f.Add(seed)
	f.Add([]byte("GGUF\x03\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "m")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := quantize.ReadIMatrix(p)
		if err == nil && len(m.Entries) == 0 {
			t.Fatal("no error and no entries")
		}
	})
}
