package convert

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/synth"
)

// benchCheckpoint writes a small synthetic checkpoint with real-sized rows
// (hidden 1024) once per benchmark.
func benchCheckpoint(b *testing.B) (dir string, srcBytes int64) {
	b.Helper()
	dir = b.TempDir()
	s := synth.Shape{Name: "bench", Hidden: 1024, Intermediate: 2816, Layers: 2, Heads: 8, KVHeads: 4, Vocab: 8192, Context: 4096, RopeTheta: 10000}
	if err := synth.WriteShape(context.Background(), s, dir, synth.Options{Seed: 1}); err != nil {
		b.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		b.Fatal(err)
	}
	return dir, st.Size()
}

// BenchmarkConvertF16 converts a BF16 checkpoint to F16 (MB/s of source bytes).
func BenchmarkConvertF16(b *testing.B) {
	dir, n := benchCheckpoint(b)
	out := filepath.Join(b.TempDir(), "out.gguf")
	b.SetBytes(n)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Convert(context.Background(), dir, out, Options{OutType: gguf.TypeF16}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConvertQ8_0 converts the same checkpoint to Q8_0.
func BenchmarkConvertQ8_0(b *testing.B) {
	dir, n := benchCheckpoint(b)
	out := filepath.Join(b.TempDir(), "out.gguf")
	b.SetBytes(n)
	for b.Loop() {
		if _, err := Convert(context.Background(), dir, out, Options{OutType: gguf.TypeQ8_0}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPlainCopy copies the same bytes with io.Copy and fsync: the I/O
// floor the conversion is measured against.
func BenchmarkPlainCopy(b *testing.B) {
	dir, n := benchCheckpoint(b)
	out := filepath.Join(b.TempDir(), "copy.bin")
	b.SetBytes(n)
	for b.Loop() {
		src, err := os.Open(filepath.Join(dir, "model.safetensors"))
		if err != nil {
			b.Fatal(err)
		}
		dst, err := os.Create(out)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(dst, src); err != nil {
			b.Fatal(err)
		}
		dst.Sync()
		dst.Close()
		src.Close()
	}
}

// BenchmarkFP32ToFP16 is the per-value cost of the F16 rounding (encodeF16:
// half.FromFloat32Numpy over a row).
func BenchmarkFP32ToFP16(b *testing.B) {
	src := make([]float32, 1<<16)
	for i := range src {
		src[i] = float32(i)*1e-4 - 3
	}
	dst := make([]byte, 2*len(src))
	b.SetBytes(int64(4 * len(src)))
	for b.Loop() {
		encodeF16(dst, src, len(src))
	}
}

type discardAt struct{}

func (discardAt) WriteAt(p []byte, _ int64) (int, error) { return len(p), nil }

// BenchmarkConvertF16NoDisk is the conversion without the output disk: the
// same plan written through gguf.Write into a discarding io.WriterAt (the
// source is read from the page cache). It isolates convert's CPU cost.
func BenchmarkConvertF16NoDisk(b *testing.B) {
	dir, n := benchCheckpoint(b)
	fsys := os.DirFS(dir)
	hp, err := LoadHParams(fsys, dir)
	if err != nil {
		b.Fatal(err)
	}
	model, err := openModel(fsys, dir, "model")
	if err != nil {
		b.Fatal(err)
	}
	defer model.Close()
	vocab, err := LoadVocab(fsys, dir, hp)
	if err != nil {
		b.Fatal(err)
	}
	plan, err := planModel(context.Background(), hp, model, vocab, nil, dir, Options{OutType: gguf.TypeF16})
	if err != nil {
		b.Fatal(err)
	}
	spec := &gguf.Spec{KVs: plan.KVs}
	for _, t := range plan.Tensors {
		spec.Tensors = append(spec.Tensors, gguf.WriteTensor{Name: t.Name, Dims: t.Dims, Type: t.Type, Data: t.data})
	}
	b.SetBytes(n)
	for b.Loop() {
		if _, err := gguf.Write(context.Background(), discardAt{}, spec, gguf.WriteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
