package gguf_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/fixture"
)

// TestReferenceRewriteIdentical reads llama.cpp's converter output and
// writes it back through WriteFile: the bytes must be identical.
func TestReferenceRewriteIdentical(t *testing.T) {
	path := fixture.Path(t, "stories260K/ref/stories260K-f32.ref.gguf")
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Version != 3 || f.Alignment != 32 || len(f.KVs) != 28 || len(f.Tensors) != 47 {
		t.Errorf("version %d, alignment %d, %d KVs, %d tensors; want 3, 32, 28, 47", f.Version, f.Alignment, len(f.KVs), len(f.Tensors))
	}
	out := filepath.Join(t.TempDir(), "rewritten.gguf")
	for _, workers := range []int{1, 4} {
		if err := gguf.WriteFile(context.Background(), out, f.Spec(), gguf.WriteOptions{Workers: workers}); err != nil {
			t.Fatal(err)
		}
		want, _ := os.ReadFile(path)
		got, _ := os.ReadFile(out)
		if !bytes.Equal(got, want) {
			t.Fatalf("workers %d: rewritten file differs (%d vs %d bytes)", workers, len(got), len(want))
		}
	}
}

// TestVocabGGUF reads llama.cpp's Llama 2 vocabulary test file and checks its
// tokens, scores and types against Llama 2's own SentencePiece model.
func TestVocabGGUF(t *testing.T) {
	f, err := gguf.Open(fixture.Path(t, "vocab/ggml-vocab-llama-spm.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pieces := readSentencePiece(t, fixture.Path(t, "vocab/llama2-tokenizer.model"))
	tokens, err := f.Strings("tokenizer.ggml.tokens")
	if err != nil {
		t.Fatal(err)
	}
	scores, err := f.Float32s("tokenizer.ggml.scores")
	if err != nil {
		t.Fatal(err)
	}
	types, err := f.Int32s("tokenizer.ggml.token_type")
	if err != nil {
		t.Fatal(err)
	}
	if len(pieces) != 32000 || len(tokens) != len(pieces) || len(scores) != len(pieces) || len(types) != len(pieces) {
		t.Fatalf("%d pieces, %d tokens, %d scores, %d types", len(pieces), len(tokens), len(scores), len(types))
	}
	bad := 0
	for i, p := range pieces {
		if tokens[i] != p.piece || scores[i] != p.score || types[i] != p.typ {
			if bad++; bad < 5 {
				t.Errorf("token %d: gguf (%q, %g, %d), sentencepiece (%q, %g, %d)", i, tokens[i], scores[i], types[i], p.piece, p.score, p.typ)
			}
		}
	}
	if n, err := f.Uint32("llama.vocab_size"); err != nil || n != 32000 {
		t.Errorf("llama.vocab_size = %d, %v", n, err)
	}
	if s := f.Architecture(); s != "llama" {
		t.Errorf("Architecture() = %q", s)
	}
	if len(f.Tensors) != 0 || f.ParameterCount() != 0 {
		t.Errorf("vocab-only file has %d tensors", len(f.Tensors))
	}
	// This older file has no padding after its tensor infos; rewritten it
	// gains the padding every current writer adds, and nothing else changes.
	orig, err := os.ReadFile(fixture.Path(t, "vocab/ggml-vocab-llama-spm.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	re := encode(t, f.Spec())
	if len(re) != int(f.DataOffset) || !bytes.Equal(re[:len(orig)], orig) || len(bytes.Trim(re[len(orig):], "\x00")) != 0 {
		t.Errorf("rewritten vocab: %d bytes, original %d, data offset %d", len(re), len(orig), f.DataOffset)
	}
}

func TestValueRoundTrip(t *testing.T) {
	kvs := allValueKVs()
	for _, version := range []uint32{2, 3} {
		f := parse(t, encode(t, &gguf.Spec{Version: version, KVs: kvs}))
		if f.Version != version {
			t.Errorf("version %d read back as %d", version, f.Version)
		}
		if len(f.KVs) != len(kvs) {
			t.Fatalf("%d KVs read back, wrote %d", len(f.KVs), len(kvs))
		}
		for i, kv := range kvs {
			got := f.KVs[i]
			if got.Key != kv.Key || !valueEqual(got.Value, kv.Value) {
				t.Errorf("KV %d: got %s = %s (%s), want %s = %s (%s)", i, got.Key, got.Value, got.Value.TypeName(), kv.Key, kv.Value, kv.Value.TypeName())
			}
		}
	}
}

func TestAccessors(t *testing.T) {
	f := parse(t, encode(t, &gguf.Spec{KVs: allValueKVs()}))
	if v, err := f.Uint32("u32"); err != nil || v != 4000000000 {
		t.Errorf("Uint32 = %d, %v", v, err)
	}
	if v, err := f.Int32("i32"); err != nil || v != -2000000000 {
		t.Errorf("Int32 = %d, %v", v, err)
	}
	if v, err := f.String("str"); err != nil || v != "héllo\x00wörld" {
		t.Errorf("String = %q, %v", v, err)
	}
	if v, err := f.Bool("bool.t"); err != nil || !v {
		t.Errorf("Bool = %v, %v", v, err)
	}
	if v, err := f.Strings("a.str"); err != nil || !slices.Equal(v, []string{"a", "", "ccc"}) {
		t.Errorf("Strings = %q, %v", v, err)
	}
	if v, err := f.Int32s("a.i32"); err != nil || !slices.Equal(v, []int32{-3, 4}) {
		t.Errorf("Int32s = %v, %v", v, err)
	}
	if _, err := f.Uint32("missing"); !errors.Is(err, gguf.ErrKeyNotFound) || !strings.Contains(err.Error(), `"missing"`) {
		t.Errorf("missing key: %v", err)
	}
	var te *gguf.TypeError
	if _, err := f.Uint32("u8"); !errors.As(err, &te) || te.Key != "u8" || te.Got != "UINT8" || te.Want != "UINT32" {
		t.Errorf("wrong type: %v", err)
	}
	if _, err := f.Strings("a.i32"); !errors.As(err, &te) || te.Got != "ARRAY[INT32]" || te.Want != "ARRAY[STRING]" {
		t.Errorf("wrong array type: %v", err)
	}
	if _, err := f.Float32("u32"); !errors.As(err, &te) {
		t.Errorf("no conversion between types expected: %v", err)
	}
	if f.Architecture() != "" {
		t.Errorf("Architecture of a file without it = %q", f.Architecture())
	}
}

func TestTensorRoundTripEveryType(t *testing.T) {
	ts, data := tensorsOfEveryType()
	for _, align := range []uint32{0, 64, 1} {
		b := encode(t, &gguf.Spec{Alignment: align, Tensors: ts})
		f := parse(t, b)
		wantAlign := uint64(align)
		if align == 0 {
			wantAlign = 32
		}
		if f.Alignment != wantAlign || f.DataOffset%int64(wantAlign) != 0 {
			t.Errorf("alignment %d: read %d, data at %d", align, f.Alignment, f.DataOffset)
		}
		if len(f.Tensors) != len(ts) {
			t.Fatalf("%d tensors read, %d written", len(f.Tensors), len(ts))
		}
		for i, ti := range f.Tensors {
			w := ts[i]
			if ti.Name != w.Name || ti.Type != w.Type || !slices.Equal(ti.Dims, w.Dims) {
				t.Errorf("tensor %d: %s %s %v, want %s %s %v", i, ti.Name, ti.Type, ti.Dims, w.Name, w.Type, w.Dims)
			}
			if ti.Offset%wantAlign != 0 {
				t.Errorf("%s: offset %d not aligned to %d", ti.Name, ti.Offset, wantAlign)
			}
			got, err := io.ReadAll(f.TensorData(ti))
			if err != nil || !bytes.Equal(got, data[ti.Name]) {
				t.Errorf("%s: data differ (%d bytes, %v)", ti.Name, len(got), err)
			}
			if ti.NumElements() != int64(w.Dims[0]*w.Dims[1]) {
				t.Errorf("%s: NumElements %d", ti.Name, ti.NumElements())
			}
		}
	}
}

func TestTypeTable(t *testing.T) {
	// Spot checks against ggml-common.h's block structs.
	want := map[gguf.Type][2]int{
		gguf.TypeF32: {1, 4}, gguf.TypeF16: {1, 2}, gguf.TypeBF16: {1, 2}, gguf.TypeQ4_0: {32, 18},
		gguf.TypeQ8_0: {32, 34}, gguf.TypeQ4_K: {256, 144}, gguf.TypeQ6_K: {256, 210},
		gguf.TypeIQ4_XS: {256, 136}, gguf.TypeTQ1_0: {256, 54}, gguf.TypeMXFP4: {32, 17},
	}
	for typ, bt := range want {
		if typ.BlockSize() != bt[0] || typ.TypeSize() != bt[1] {
			t.Errorf("%s: block %d, size %d; want %v", typ, typ.BlockSize(), typ.TypeSize(), bt)
		}
	}
	if n := len(gguf.Types()); n != 32 {
		t.Errorf("%d types, want the 32 of ggml.h", n)
	}
	for _, typ := range gguf.Types() {
		p, err := gguf.ParseType(strings.ToLower(typ.String()))
		if err != nil || p != typ {
			t.Errorf("ParseType(%q) = %v, %v", strings.ToLower(typ.String()), p, err)
		}
	}
	for _, bad := range []gguf.Type{4, 5, 31, 32, 33, 36, 37, 38, 40, 1 << 31} {
		if bad.Valid() || bad.BlockSize() != 0 {
			t.Errorf("type %d should be invalid", bad)
		}
		if _, err := gguf.TensorSize(bad, []uint64{32}); !errors.Is(err, gguf.ErrUnknownType) || !strings.Contains(err.Error(), "id ") {
			t.Errorf("TensorSize of type %d: %v", bad, err)
		}
	}
	if _, err := gguf.ParseType("q4_2"); err == nil {
		t.Error("ParseType accepted a removed type")
	}
	if n, err := gguf.TypeQ4_K.RowSize(512); err != nil || n != 288 {
		t.Errorf("Q4_K RowSize(512) = %d, %v", n, err)
	}
	if _, err := gguf.TypeQ4_K.RowSize(100); err == nil {
		t.Error("RowSize of a partial block succeeded")
	}
}

func TestWriterKeepsOrderAndInput(t *testing.T) {
	ts, _ := tensorsOfEveryType()
	// Reverse order so that a sorting writer would be caught.
	slices.Reverse(ts)
	kvs := allValueKVs()
	slices.Reverse(kvs)
	spec := &gguf.Spec{Alignment: 128, KVs: kvs, Tensors: ts}
	before := &gguf.Spec{Alignment: 128, KVs: slices.Clone(kvs), Tensors: slices.Clone(ts)}
	for i := range before.Tensors {
		before.Tensors[i].Dims = slices.Clone(ts[i].Dims)
	}
	f := parse(t, encode(t, spec))
	if !reflect.DeepEqual(spec.Tensors, before.Tensors) || len(spec.KVs) != len(before.KVs) {
		t.Fatal("Write changed the caller's tensors")
	}
	for i := range spec.KVs {
		if spec.KVs[i].Key != before.KVs[i].Key || !valueEqual(spec.KVs[i].Value, before.KVs[i].Value) {
			t.Fatalf("Write changed the caller's KV %d", i)
		}
	}
	if len(spec.KVs) != len(kvs) {
		t.Fatal("Write appended to the caller's KVs")
	}
	for i, kv := range kvs {
		if f.KVs[i].Key != kv.Key {
			t.Fatalf("KV %d is %s, want %s", i, f.KVs[i].Key, kv.Key)
		}
	}
	if last := f.KVs[len(f.KVs)-1]; last.Key != "general.alignment" || last.Value.V != uint32(128) {
		t.Errorf("last KV %s = %v, want general.alignment = 128", last.Key, last.Value)
	}
	for i, ti := range f.Tensors {
		if ti.Name != ts[i].Name {
			t.Fatalf("tensor %d is %s, want %s", i, ti.Name, ts[i].Name)
		}
	}
}

// shortData writes fewer bytes than the tensor needs; longData more.
type shortData struct{}

func (shortData) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write([]byte{1, 2})
	return int64(n), err
}

type failingData struct{ err error }

func (d failingData) WriteTo(io.Writer) (int64, error) { return 0, d.err }

func TestWriterErrors(t *testing.T) {
	f32 := func(name string, n uint64, d io.WriterTo) gguf.WriteTensor {
		return gguf.WriteTensor{Name: name, Dims: []uint64{n}, Type: gguf.TypeF32, Data: d}
	}
	cases := []struct {
		name string
		spec gguf.Spec
		msg  string
	}{
		{"duplicate key", gguf.Spec{KVs: []gguf.KV{{"a", gguf.Uint8(1)}, {"a", gguf.Uint8(2)}}}, "duplicate key"},
		{"duplicate tensor", gguf.Spec{Tensors: []gguf.WriteTensor{f32("t", 1, gguf.BytesData(make([]byte, 4))), f32("t", 1, gguf.BytesData(make([]byte, 4)))}}, "duplicate tensor"},
		{"value holds wrong Go type", gguf.Spec{KVs: []gguf.KV{{"a", gguf.Value{Type: gguf.ValueUint32, V: 5}}}}, "holds int"},
		{"array holds wrong slice", gguf.Spec{KVs: []gguf.KV{{"a", gguf.Value{Type: gguf.ValueArray, Elem: gguf.ValueInt32, V: []uint32{1}}}}}, "array of INT32"},
		{"nested array holds scalar", gguf.Spec{KVs: []gguf.KV{{"a", gguf.Arrays([]gguf.Value{gguf.Uint8(1)})}}}, "array of arrays"},
		{"invalid value type", gguf.Spec{KVs: []gguf.KV{{"a", gguf.Value{Type: 13}}}}, "invalid value type"},
		{"alignment KV not uint32", gguf.Spec{KVs: []gguf.KV{{"general.alignment", gguf.Uint64(32)}}}, "must be UINT32"},
		{"alignment not power of two", gguf.Spec{Alignment: 48}, "power of two"},
		{"alignment disagrees", gguf.Spec{Alignment: 64, KVs: []gguf.KV{{"general.alignment", gguf.Uint32(32)}}}, "disagrees"},
		{"version 1", gguf.Spec{Version: 1}, "version 1"},
		{"unknown type", gguf.Spec{Tensors: []gguf.WriteTensor{{Name: "t", Dims: []uint64{32}, Type: 4, Data: gguf.BytesData(nil)}}}, "unknown tensor type id 4"},
		{"partial block", gguf.Spec{Tensors: []gguf.WriteTensor{{Name: "t", Dims: []uint64{33}, Type: gguf.TypeQ8_0, Data: gguf.BytesData(nil)}}}, "whole number"},
		{"5 dims", gguf.Spec{Tensors: []gguf.WriteTensor{{Name: "t", Dims: []uint64{1, 1, 1, 1, 1}, Data: gguf.BytesData(make([]byte, 4))}}}, "dimensions"},
		{"long name", gguf.Spec{Tensors: []gguf.WriteTensor{f32(strings.Repeat("n", 64), 1, gguf.BytesData(make([]byte, 4)))}}, "at most 63"},
		{"short data", gguf.Spec{Tensors: []gguf.WriteTensor{f32("t", 4, shortData{})}}, "wrote 2 bytes, want 16"},
		{"long data", gguf.Spec{Tensors: []gguf.WriteTensor{f32("t", 1, gguf.BytesData(make([]byte, 5)))}}, "more than its 4 bytes"},
		{"nil data", gguf.Spec{Tensors: []gguf.WriteTensor{f32("t", 1, nil)}}, "no Data"},
		{"data error", gguf.Spec{Tensors: []gguf.WriteTensor{f32("t", 1, failingData{errors.New("disk on fire")})}}, "disk on fire"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var m memFile
			_, err := gguf.Write(context.Background(), &m, &c.spec, gguf.WriteOptions{})
			if err == nil || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %v, want one containing %q", err, c.msg)
			}
		})
	}
}

// blockingData writes a little and then waits for the context to end.
type blockingData struct {
	ctx  context.Context
	once *sync.Once
	stop func()
}

func (d blockingData) WriteTo(w io.Writer) (int64, error) {
	d.once.Do(d.stop)
	<-d.ctx.Done()
	n, err := w.Write(make([]byte, 4))
	return int64(n), err
}

func TestWriteFileCancelLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "m.gguf")
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	spec := &gguf.Spec{Tensors: []gguf.WriteTensor{
		{Name: "a", Dims: []uint64{1}, Type: gguf.TypeF32, Data: blockingData{ctx, &once, cancel}},
		{Name: "b", Dims: []uint64{1}, Type: gguf.TypeF32, Data: gguf.BytesData(make([]byte, 4))},
	}}
	err := gguf.WriteFile(ctx, out, spec, gguf.WriteOptions{Workers: 1})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Fatalf("left behind: %v", entries)
	}
	// A failing tensor leaves nothing either, and an existing file is untouched.
	if err := os.WriteFile(out, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec = &gguf.Spec{Tensors: []gguf.WriteTensor{{Name: "a", Dims: []uint64{4}, Type: gguf.TypeF32, Data: shortData{}}}}
	if err := gguf.WriteFile(context.Background(), out, spec, gguf.WriteOptions{}); err == nil {
		t.Fatal("short data accepted")
	}
	entries, _ = os.ReadDir(dir)
	if b, _ := os.ReadFile(out); len(entries) != 1 || string(b) != "old" {
		t.Fatalf("after a failed write: %v, %q", entries, b)
	}
}

func TestProgress(t *testing.T) {
	ts, _ := tensorsOfEveryType()
	var mu sync.Mutex
	var last, total int64
	calls := 0
	o := gguf.WriteOptions{Workers: 3, Progress: func(done, tot int64) {
		mu.Lock()
		defer mu.Unlock()
		if done < last {
			t.Errorf("progress went back from %d to %d", last, done)
		}
		last, total = done, tot
		calls++
	}}
	var m memFile
	n, err := gguf.Write(context.Background(), &m, &gguf.Spec{KVs: allValueKVs(), Tensors: ts}, o)
	if err != nil {
		t.Fatal(err)
	}
	if calls < len(ts) || last != n || total != n {
		t.Errorf("%d calls, last %d/%d, file %d bytes", calls, last, total, n)
	}
}

// zeroTail is a ReaderAt of size bytes: head, then zeros.
type zeroTail struct {
	head []byte
	size int64
}

func (z zeroTail) ReadAt(p []byte, off int64) (int, error) {
	if off >= z.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && off+int64(n) < z.size {
		i := off + int64(n)
		if i < int64(len(z.head)) {
			p[n] = z.head[i]
		} else {
			p[n] = 0
		}
		n++
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// TestHostileLengthsAllocateLittle checks that lengths claimed by a file are
// refused before anything of that size is allocated: a file claiming 2^60
// KVs, a 2^62-byte string or a tensor past its end is a FormatError, and the
// whole attempt allocates less than 64 MiB — also when the file claims to be
// 1 PiB long, so that only the limits stand in the way.
func TestHostileLengthsAllocateLittle(t *testing.T) {
	files := map[string][]byte{
		"2^60 KVs":        new(gb).header(3, 0, 1<<60).kvU32("k", 1).Bytes(),
		"2^60 tensors":    new(gb).header(3, 1<<60, 0).Bytes(),
		"2^62-byte key":   new(gb).header(3, 0, 1).u64(1 << 62).Bytes(),
		"2^62-byte value": new(gb).header(3, 0, 1).str("s").u32(uint32(gguf.ValueString)).u64(1 << 62).Bytes(),
		"2^40 array":      new(gb).header(3, 0, 1).str("a").u32(uint32(gguf.ValueArray)).u32(uint32(gguf.ValueUint64)).u64(1 << 40).Bytes(),
		"tensor past EOF": new(gb).header(3, 1, 0).ti("t", []uint64{1 << 40}, gguf.TypeF32, 0).pad(32).zeros(64).Bytes(),
	}
	for name, b := range files {
		for _, size := range []int64{int64(len(b)), 1 << 50} {
			if name == "tensor past EOF" && size > int64(len(b)) {
				continue // in a 1 PiB file the tensor fits
			}
			r := zeroTail{head: b, size: size}
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := gguf.NewReader(r, size, gguf.DefaultLimits())
			runtime.ReadMemStats(&after)
			var fe *gguf.FormatError
			if !errors.As(err, &fe) {
				t.Errorf("%s (size %d): err = %v, want *FormatError", name, size, err)
			}
			if d := after.TotalAlloc - before.TotalAlloc; d >= 64<<20 {
				t.Errorf("%s (size %d): allocated %d bytes", name, size, d)
			}
		}
	}
}

// TestSectionDataReusable writes the same File twice concurrently from one Spec.
func TestSectionDataReusable(t *testing.T) {
	ts, data := tensorsOfEveryType()
	f := parse(t, encode(t, &gguf.Spec{Tensors: ts}))
	spec := f.Spec()
	var wg sync.WaitGroup
	sums := make([][32]byte, 2)
	for i := range sums {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var m memFile
			if _, err := gguf.Write(context.Background(), &m, spec, gguf.WriteOptions{Workers: 4}); err != nil {
				t.Error(err)
			}
			sums[i] = sha256.Sum256(m.buf)
		}()
	}
	wg.Wait()
	if sums[0] != sums[1] {
		t.Error("two writes of one Spec differ")
	}
	g := parse(t, encode(t, spec))
	for _, ti := range g.Tensors {
		got, _ := io.ReadAll(g.TensorData(ti))
		if !bytes.Equal(got, data[ti.Name]) {
			t.Errorf("%s differs after copying through SectionData", ti.Name)
		}
	}
}

func TestTensorDataOfForeignInfo(t *testing.T) {
	ts, _ := tensorsOfEveryType()
	f := parse(t, encode(t, &gguf.Spec{Tensors: ts[:2]}))
	for _, ti := range []gguf.TensorInfo{
		{Name: "bad type", Dims: []uint64{4}, Type: 4},
		{Name: "past end", Dims: []uint64{4}, Type: gguf.TypeF32, Offset: 1 << 62},
		{Name: "huge", Dims: []uint64{1 << 40}, Type: gguf.TypeF32},
	} {
		if n := f.TensorData(ti).Size(); n != 0 {
			t.Errorf("%s: TensorData has %d bytes, want an empty reader", ti.Name, n)
		}
	}
}

func TestRewriteChangesAlignment(t *testing.T) {
	ts, data := tensorsOfEveryType()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.gguf")
	if err := gguf.WriteFile(context.Background(), in, &gguf.Spec{KVs: allValueKVs()[:3], Tensors: ts}, gguf.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	lay, err := gguf.PlanLayout(&gguf.Spec{KVs: allValueKVs()[:3], Tensors: ts})
	if st, _ := os.Stat(in); err != nil || lay.Size != st.Size() {
		t.Fatalf("PlanLayout size %v, file %d (%v)", lay, st.Size(), err)
	}
	// In place, as `sattva gguf set FILE general.alignment 256` does.
	err = gguf.Rewrite(context.Background(), in, in, func(s *gguf.Spec) error {
		s.SetKV("general.alignment", gguf.Uint32(256))
		return nil
	}, gguf.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Alignment != 256 || f.DataOffset%256 != 0 || len(f.KVs) != 4 {
		t.Fatalf("alignment %d, data offset %d, %d KVs", f.Alignment, f.DataOffset, len(f.KVs))
	}
	for _, ti := range f.Tensors {
		got, _ := io.ReadAll(f.TensorData(ti))
		if ti.Offset%256 != 0 || !bytes.Equal(got, data[ti.Name]) {
			t.Errorf("%s: offset %d, data equal %v", ti.Name, ti.Offset, bytes.Equal(got, data[ti.Name]))
		}
	}
	// An edit that fails leaves the file as it was.
	before, _ := os.ReadFile(in)
	boom := errors.New("boom")
	if err := gguf.Rewrite(context.Background(), in, in, func(*gguf.Spec) error { return boom }, gguf.WriteOptions{}); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if after, _ := os.ReadFile(in); !bytes.Equal(before, after) {
		t.Fatal("a failed Rewrite changed the file")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("left behind: %v", entries)
	}
}
