package gguf_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/sattva/sattva/gguf"
	"google.golang.org/protobuf/encoding/protowire"
)

// memFile is an in-memory io.WriterAt and io.ReaderAt.
type memFile struct {
	mu  sync.Mutex
	buf []byte
}

func (m *memFile) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if end := int(off) + len(p); end > len(m.buf) {
		m.buf = append(m.buf, make([]byte, end-len(m.buf))...)
	}
	copy(m.buf[off:], p)
	return len(p), nil
}

func (m *memFile) Bytes() []byte { return m.buf }

// encode writes s to memory and returns the bytes.
func encode(t testing.TB, s *gguf.Spec) []byte {
	t.Helper()
	var m memFile
	n, err := gguf.Write(context.Background(), &m, s, gguf.WriteOptions{Workers: 2})
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if n != int64(len(m.buf)) {
		t.Fatalf("Write returned %d, wrote %d bytes", n, len(m.buf))
	}
	return m.buf
}

// parse reads a GGUF from memory.
func parse(t testing.TB, b []byte) *gguf.File {
	t.Helper()
	f, err := gguf.NewReader(bytes.NewReader(b), int64(len(b)), gguf.Limits{})
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	return f
}

// valueEqual compares two values exactly, floats by their bits (so NaN
// payloads count).
func valueEqual(a, b gguf.Value) bool {
	if a.Type != b.Type || (a.Type == gguf.ValueArray && a.Elem != b.Elem) {
		return false
	}
	if a.Type != gguf.ValueArray {
		switch x := a.V.(type) {
		case float32:
			y, ok := b.V.(float32)
			return ok && math.Float32bits(x) == math.Float32bits(y)
		case float64:
			y, ok := b.V.(float64)
			return ok && math.Float64bits(x) == math.Float64bits(y)
		}
		return a.V == b.V
	}
	if a.Len() != b.Len() || a.Len() < 0 {
		return false
	}
	for i := range a.Len() {
		x, _ := a.Index(i)
		y, _ := b.Index(i)
		if !valueEqual(x, y) {
			return false
		}
	}
	return true
}

// allValuesSpec returns KVs of every value type, arrays of every element
// type (empty and not), and nested arrays.
func allValueKVs() []gguf.KV {
	return []gguf.KV{
		{"u8", gguf.Uint8(250)},
		{"i8", gguf.Int8(-7)},
		{"u16", gguf.Uint16(65000)},
		{"i16", gguf.Int16(-32000)},
		{"u32", gguf.Uint32(4000000000)},
		{"i32", gguf.Int32(-2000000000)},
		{"f32", gguf.Float32(float32(math.Pi))},
		{"f32.nan", gguf.Float32(math.Float32frombits(0x7fc00123))},
		{"bool.t", gguf.Bool(true)},
		{"bool.f", gguf.Bool(false)},
		{"str", gguf.String("héllo\x00wörld")},
		{"str.empty", gguf.String("")},
		{"u64", gguf.Uint64(math.MaxUint64)},
		{"i64", gguf.Int64(math.MinInt64)},
		{"f64", gguf.Float64(-1e300)},
		{"a.u8", gguf.Uint8s([]uint8{0, 1, 255})},
		{"a.i8", gguf.Int8s([]int8{-128, 0, 127})},
		{"a.u16", gguf.Uint16s([]uint16{1, 65535})},
		{"a.i16", gguf.Int16s([]int16{-1, 2})},
		{"a.u32", gguf.Uint32s([]uint32{3, 4, 5})},
		{"a.i32", gguf.Int32s([]int32{-3, 4})},
		{"a.f32", gguf.Float32s([]float32{1.5, float32(math.Inf(-1))})},
		{"a.bool", gguf.Bools([]bool{true, false, true})},
		{"a.str", gguf.Strings([]string{"a", "", "ccc"})},
		{"a.u64", gguf.Uint64s([]uint64{1 << 63})},
		{"a.i64", gguf.Int64s([]int64{-1 << 63})},
		{"a.f64", gguf.Float64s([]float64{math.SmallestNonzeroFloat64})},
		{"a.empty", gguf.Float32s([]float32{})},
		{"a.nested", gguf.Arrays([]gguf.Value{
			gguf.Int32s([]int32{1, 2}),
			gguf.Strings([]string{"x"}),
			gguf.Arrays([]gguf.Value{gguf.Bools([]bool{true})}),
			gguf.Arrays(nil),
		})},
	}
}

// patternData returns n deterministic bytes.
func patternData(n int64, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

// tensorsOfEveryType returns one small tensor per supported type, each two
// rows of two blocks, with its data.
func tensorsOfEveryType() ([]gguf.WriteTensor, map[string][]byte) {
	var ts []gguf.WriteTensor
	data := map[string][]byte{}
	for _, typ := range gguf.Types() {
		dims := []uint64{uint64(2 * typ.BlockSize()), 2}
		size, err := gguf.TensorSize(typ, dims)
		if err != nil {
			panic(err)
		}
		name := fmt.Sprintf("t.%s", typ)
		b := patternData(size, byte(typ))
		data[name] = b
		ts = append(ts, gguf.WriteTensor{Name: name, Dims: slices.Clone(dims), Type: typ, Data: gguf.BytesData(b)})
	}
	return ts, data
}

type spPiece struct {
	piece string
	score float32
	typ   int32
}

// readSentencePiece reads the pieces of a SentencePiece ModelProto
// (field 1: repeated SentencePiece{1: piece, 2: score, 3: type}; type
// defaults to NORMAL = 1).
func readSentencePiece(t testing.TB, path string) []spPiece {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []spPiece
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("%s: bad tag", path)
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			msg, n := protowire.ConsumeBytes(b)
			if n < 0 {
				t.Fatalf("%s: bad piece", path)
			}
			b = b[n:]
			p := spPiece{typ: 1}
			for len(msg) > 0 {
				fnum, ftyp, k := protowire.ConsumeTag(msg)
				if k < 0 {
					t.Fatalf("%s: bad piece field", path)
				}
				msg = msg[k:]
				switch {
				case fnum == 1 && ftyp == protowire.BytesType:
					v, k := protowire.ConsumeBytes(msg)
					p.piece, msg = string(v), msg[k:]
				case fnum == 2 && ftyp == protowire.Fixed32Type:
					v, k := protowire.ConsumeFixed32(msg)
					p.score, msg = math.Float32frombits(v), msg[k:]
				case fnum == 3 && ftyp == protowire.VarintType:
					v, k := protowire.ConsumeVarint(msg)
					p.typ, msg = int32(v), msg[k:]
				default:
					k := protowire.ConsumeFieldValue(fnum, ftyp, msg)
					if k < 0 {
						t.Fatalf("%s: bad piece field %d", path, fnum)
					}
					msg = msg[k:]
				}
			}
			out = append(out, p)
			continue
		}
		k := protowire.ConsumeFieldValue(num, typ, b)
		if k < 0 {
			t.Fatalf("%s: bad field %d", path, num)
		}
		b = b[k:]
	}
	return out
}
