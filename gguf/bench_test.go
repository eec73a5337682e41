package gguf_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/sattva/sattva/gguf"
)

// patternTensor writes size bytes by repeating a shared 1 MiB random block,
// so that a 1 GB model costs no memory to describe.
type patternTensor struct{ size int64 }

var patternBlock = sync.OnceValue(func() []byte {
	b := make([]byte, 1<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
})

func (p patternTensor) WriteTo(w io.Writer) (int64, error) {
	blk := patternBlock()
	var n int64
	for n < p.size {
		k, err := w.Write(blk[:min(int64(len(blk)), p.size-n)])
		n += int64(k)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// benchSpec describes a Llama-shaped file of about 1 GB: a 128,256-token
// vocabulary with scores, types and 280,000 merges (about 7 MB of metadata,
// as Llama 3 has) and 290 tensors (F32 norms, Q4_K and Q6_K matrices).
func benchSpec() *gguf.Spec {
	const vocab, merges = 128256, 280000
	tokens := make([]string, vocab)
	scores := make([]float32, vocab)
	types := make([]int32, vocab)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("tok%d", i)
		scores[i] = float32(-i)
		types[i] = 1
	}
	m := make([]string, merges)
	for i := range m {
		m[i] = fmt.Sprintf("m%d n%d", i, i)
	}
	s := &gguf.Spec{KVs: []gguf.KV{
		{Key: "general.architecture", Value: gguf.String("llama")},
		{Key: "llama.block_count", Value: gguf.Uint32(32)},
		{Key: "tokenizer.ggml.tokens", Value: gguf.Strings(tokens)},
		{Key: "tokenizer.ggml.scores", Value: gguf.Float32s(scores)},
		{Key: "tokenizer.ggml.token_type", Value: gguf.Int32s(types)},
		{Key: "tokenizer.ggml.merges", Value: gguf.Strings(m)},
	}}
	add := func(name string, typ gguf.Type, dims ...uint64) {
		size, err := gguf.TensorSize(typ, dims)
		if err != nil {
			panic(err)
		}
		s.Tensors = append(s.Tensors, gguf.WriteTensor{Name: name, Dims: dims, Type: typ, Data: patternTensor{size}})
	}
	add("token_embd.weight", gguf.TypeQ4_K, 2048, 32768)
	for i := range 32 {
		add(fmt.Sprintf("blk.%d.attn_norm.weight", i), gguf.TypeF32, 2048)
		add(fmt.Sprintf("blk.%d.ffn_norm.weight", i), gguf.TypeF32, 2048)
		for _, n := range []string{"attn_q", "attn_k", "attn_v", "attn_output"} {
			add(fmt.Sprintf("blk.%d.%s.weight", i, n), gguf.TypeQ4_K, 2048, 2048)
		}
		add(fmt.Sprintf("blk.%d.ffn_gate.weight", i), gguf.TypeQ4_K, 2048, 5632)
		add(fmt.Sprintf("blk.%d.ffn_up.weight", i), gguf.TypeQ4_K, 2048, 5632)
		add(fmt.Sprintf("blk.%d.ffn_down.weight", i), gguf.TypeQ6_K, 5632, 2048)
	}
	add("output_norm.weight", gguf.TypeF32, 2048)
	add("output.weight", gguf.TypeQ6_K, 2048, 32768)
	return s
}

// benchFile writes the ~1 GB benchmark file once per benchmark into dir.
func benchFile(b *testing.B, dir string) (string, int64) {
	b.Helper()
	if testing.Short() {
		b.Skip("writes a 1 GB file; skipped with -short")
	}
	p := filepath.Join(dir, "bench.gguf")
	if err := gguf.WriteFile(context.Background(), p, benchSpec(), gguf.WriteOptions{}); err != nil {
		b.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		b.Fatal(err)
	}
	return p, st.Size()
}

// BenchmarkReadMetadata parses the header, ~7 MB of metadata and 290 tensor
// infos of a 1 GB file (MB/s of metadata bytes); ReadMetadataCopy reads the
// same bytes with a plain io.Copy.
func BenchmarkReadMetadata(b *testing.B) {
	p, _ := benchFile(b, b.TempDir())
	f, err := gguf.Open(p)
	if err != nil {
		b.Fatal(err)
	}
	meta := f.DataOffset
	f.Close()
	b.Run("gguf.Open", func(b *testing.B) {
		b.SetBytes(meta)
		b.ReportAllocs()
		for b.Loop() {
			f, err := gguf.Open(p)
			if err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	})
	b.Run("io.Copy", func(b *testing.B) {
		b.SetBytes(meta)
		b.ReportAllocs()
		for b.Loop() {
			fh, err := os.Open(p)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, io.NewSectionReader(fh, 0, meta)); err != nil {
				b.Fatal(err)
			}
			fh.Close()
		}
	})
}

// BenchmarkWrite writes a 1 GB GGUF to disk, synced, three ways: WriteFile
// from generated tensors, Rewrite of an existing file (what gguf set does),
// and, as the anchor, a plain io.Copy of the same file's bytes to a new file
// on the same disk followed by Sync.
func BenchmarkWrite(b *testing.B) {
	dir := b.TempDir()
	src, size := benchFile(b, dir)
	out := filepath.Join(dir, "out.gguf")
	spec := benchSpec()
	for _, workers := range []int{1, 0} {
		b.Run(fmt.Sprintf("WriteFile/workers=%d", workers), func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				if err := gguf.WriteFile(context.Background(), out, spec, gguf.WriteOptions{Workers: workers}); err != nil {
					b.Fatal(err)
				}
				os.Remove(out)
			}
		})
	}
	b.Run("Rewrite", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			if err := gguf.Rewrite(context.Background(), src, out, nil, gguf.WriteOptions{}); err != nil {
				b.Fatal(err)
			}
			os.Remove(out)
		}
	})
	b.Run("io.Copy", func(b *testing.B) {
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			in, err := os.Open(src)
			if err != nil {
				b.Fatal(err)
			}
			o, err := os.Create(out)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(o, in); err != nil {
				b.Fatal(err)
			}
			if err := o.Sync(); err != nil {
				b.Fatal(err)
			}
			o.Close()
			in.Close()
			os.Remove(out)
		}
	})
}
