package gguf_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"github.com/sattva/sattva/gguf"
)

// gb builds GGUF bytes by hand, for files no writer would make.
type gb struct{ bytes.Buffer }

func (b *gb) u8(v uint8) *gb   { b.WriteByte(v); return b }
func (b *gb) u32(v uint32) *gb { b.Write(binary.LittleEndian.AppendUint32(nil, v)); return b }
func (b *gb) u64(v uint64) *gb { b.Write(binary.LittleEndian.AppendUint64(nil, v)); return b }
func (b *gb) str(s string) *gb { b.u64(uint64(len(s))); b.WriteString(s); return b }
func (b *gb) header(version uint32, nTensors, nKV uint64) *gb {
	b.WriteString("GGUF")
	return b.u32(version).u64(nTensors).u64(nKV)
}
func (b *gb) kvU32(key string, v uint32) *gb { return b.str(key).u32(uint32(gguf.ValueUint32)).u32(v) }
func (b *gb) ti(name string, dims []uint64, typ gguf.Type, off uint64) *gb {
	b.str(name).u32(uint32(len(dims)))
	for _, d := range dims {
		b.u64(d)
	}
	return b.u32(uint32(typ)).u64(off)
}
func (b *gb) pad(align int) *gb {
	for b.Len()%align != 0 {
		b.WriteByte(0)
	}
	return b
}
func (b *gb) zeros(n int) *gb { b.Write(make([]byte, n)); return b }

type corruptCase struct {
	name  string
	data  []byte
	field string // expected FormatError.Field
}

// corruptCases are hand-made invalid files, each with the field the reader
// must blame.
func corruptCases(t testing.TB) []corruptCase {
	good := func() *gb { return new(gb).header(3, 1, 1).kvU32("k", 1) }
	validTail := func(b *gb) []byte { return b.ti("t", []uint64{4}, gguf.TypeF32, 0).pad(32).zeros(16).pad(32).Bytes() }
	if _, err := gguf.NewReader(bytes.NewReader(validTail(good())), int64(len(validTail(good()))), gguf.Limits{}); err != nil {
		t.Fatalf("the base of the corrupt cases is not valid: %v", err)
	}
	nested := new(gb).header(3, 0, 1).str("deep").u32(uint32(gguf.ValueArray))
	for range 10 {
		nested.u32(uint32(gguf.ValueArray)).u64(1)
	}
	nested.u32(uint32(gguf.ValueUint8)).u64(0)
	return []corruptCase{
		{"empty", nil, "header.magic"},
		{"bad magic", append([]byte("GGUG"), validTail(new(gb).header(3, 1, 1).kvU32("k", 1))[4:]...), "header.magic"},
		{"magic lowercase", append([]byte("gguf"), validTail(good())[4:]...), "header.magic"},
		{"version 1", validTail(new(gb).header(1, 1, 1).kvU32("k", 1)), "header.version"},
		{"version 4", validTail(new(gb).header(4, 1, 1).kvU32("k", 1)), "header.version"},
		{"big endian", validTail(new(gb).header(0x03000000, 1, 1).kvU32("k", 1)), "header.version"},
		{"truncated header", new(gb).header(3, 1, 1).Bytes()[:20], "header.kv_count"},
		{"2^60 KVs", new(gb).header(3, 0, 1<<60).kvU32("k", 1).Bytes(), "header.kv_count"},
		{"2^60 KVs within limit of bytes", new(gb).header(3, 0, 1000).kvU32("k", 1).Bytes(), "header.kv_count"},
		{"2^60 tensors", new(gb).header(3, 1<<60, 0).Bytes(), "header.tensor_count"},
		{"2^62-byte key", new(gb).header(3, 0, 1).u64(1 << 62).zeros(64).Bytes(), "kv[0].key"},
		{"2^62-byte string value", new(gb).header(3, 0, 1).str("s").u32(uint32(gguf.ValueString)).u64(1 << 62).u8(120).Bytes(), "kv[\"s\"].value"},
		{"string past EOF", new(gb).header(3, 0, 1).str("s").u32(uint32(gguf.ValueString)).u64(100).Bytes(), "kv[\"s\"].value"},
		{"2^60-element array", new(gb).header(3, 0, 1).str("a").u32(uint32(gguf.ValueArray)).u32(uint32(gguf.ValueUint64)).u64(1 << 60).Bytes(), "kv[\"a\"].value.count"},
		{"array larger than file", new(gb).header(3, 0, 1).str("a").u32(uint32(gguf.ValueArray)).u32(uint32(gguf.ValueUint32)).u64(1000).u32(1).Bytes(), "kv[\"a\"].value.count"},
		{"array of strings larger than file", new(gb).header(3, 0, 1).str("a").u32(uint32(gguf.ValueArray)).u32(uint32(gguf.ValueString)).u64(1000).str("x").Bytes(), "kv[\"a\"].value.count"},
		{"duplicate key", validTail(new(gb).header(3, 1, 2).kvU32("k", 1).kvU32("k", 2)), "kv[\"k\"].key"},
		{"unknown value type", validTail(new(gb).header(3, 1, 1).str("k").u32(13).u32(0)), "kv[\"k\"].value"},
		{"unknown array element type", validTail(new(gb).header(3, 1, 1).str("k").u32(uint32(gguf.ValueArray)).u32(99).u64(0)), "kv[\"k\"].value.elem_type"},
		{"bool 2", validTail(new(gb).header(3, 1, 1).str("k").u32(uint32(gguf.ValueBool)).u8(2)), "kv[\"k\"].value"},
		{"bool array 7", validTail(new(gb).header(3, 1, 1).str("k").u32(uint32(gguf.ValueArray)).u32(uint32(gguf.ValueBool)).u64(2).u8(1).u8(7)), "kv[\"k\"].value"},
		{"arrays nested too deep", nested.Bytes(), "kv[\"deep\"].value[0][0][0][0]"},
		{"alignment 48", validTail(new(gb).header(3, 1, 1).kvU32("general.alignment", 48)), "kv[\"general.alignment\"]"},
		{"alignment 0", validTail(new(gb).header(3, 1, 1).kvU32("general.alignment", 0)), "kv[\"general.alignment\"]"},
		{"alignment uint64", validTail(new(gb).header(3, 1, 1).str("general.alignment").u32(uint32(gguf.ValueUint64)).u64(32)), "kv[\"general.alignment\"]"},
		{"duplicate tensor", new(gb).header(3, 2, 1).kvU32("k", 1).ti("t", []uint64{4}, gguf.TypeF32, 0).ti("t", []uint64{4}, gguf.TypeF32, 32).pad(32).zeros(64).Bytes(), "tensor[\"t\"].name"},
		{"2^62-byte tensor name", good().u64(1 << 62).zeros(64).Bytes(), "tensor[0].name"},
		{"5 dims", good().ti("t", []uint64{1, 1, 1, 1, 1}, gguf.TypeF32, 0).pad(32).zeros(32).Bytes(), "tensor[\"t\"].n_dims"},
		{"dim beyond int64", good().ti("t", []uint64{1 << 63}, gguf.TypeF32, 0).pad(32).Bytes(), "tensor[\"t\"].dims"},
		{"element count overflow", good().ti("t", []uint64{1 << 32, 1 << 32}, gguf.TypeF32, 0).pad(32).Bytes(), "tensor[\"t\"].dims"},
		{"byte size overflow", good().ti("t", []uint64{1 << 62}, gguf.TypeF32, 0).pad(32).Bytes(), "tensor[\"t\"].dims"},
		{"removed type 4", good().ti("t", []uint64{32}, 4, 0).pad(32).zeros(32).Bytes(), "tensor[\"t\"].type"},
		{"removed type 31", good().ti("t", []uint64{32}, 31, 0).pad(32).zeros(32).Bytes(), "tensor[\"t\"].type"},
		{"type 40", good().ti("t", []uint64{32}, 40, 0).pad(32).zeros(32).Bytes(), "tensor[\"t\"].type"},
		{"row not whole blocks", good().ti("t", []uint64{33}, gguf.TypeQ4_0, 0).pad(32).zeros(64).Bytes(), "tensor[\"t\"].dims"},
		{"tensor past EOF", good().ti("t", []uint64{1024}, gguf.TypeF32, 0).pad(32).zeros(16).Bytes(), "tensor[\"t\"].offset"},
		{"tensor offset past EOF", good().ti("t", []uint64{4}, gguf.TypeF32, 1<<40).pad(32).zeros(16).Bytes(), "tensor[\"t\"].offset"},
		{"tensor offset overflow", good().ti("t", []uint64{4}, gguf.TypeF32, math.MaxUint64-31).pad(32).zeros(16).Bytes(), "tensor[\"t\"].offset"},
		{"tensor offset unaligned", good().ti("t", []uint64{4}, gguf.TypeF32, 8).pad(32).zeros(64).Bytes(), "tensor[\"t\"].offset"},
		{"tensors overlap", new(gb).header(3, 2, 0).ti("a", []uint64{16}, gguf.TypeF32, 0).ti("b", []uint64{16}, gguf.TypeF32, 32).pad(32).zeros(128).Bytes(), "data"},
		{"truncated tensor infos", good().ti("a-tensor-name-long-enough-to-pass-the-count-check", []uint64{4}, gguf.TypeF32, 0).Bytes()[:good().Len()+8+50+2], "tensor[\"a-tensor-name-long-enough-to-pass-the-count-check\"].n_dims"},
	}
}

func TestCorruptFiles(t *testing.T) {
	for _, c := range corruptCases(t) {
		t.Run(c.name, func(t *testing.T) {
			f, err := gguf.NewReader(bytes.NewReader(c.data), int64(len(c.data)), gguf.Limits{})
			if err == nil {
				t.Fatalf("accepted: %d KVs, %d tensors", len(f.KVs), len(f.Tensors))
			}
			if !errors.Is(err, gguf.ErrFormat) {
				t.Fatalf("error %v does not match ErrFormat", err)
			}
			var fe *gguf.FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T is not a *FormatError", err)
			}
			if !fe.InvalidInput() {
				t.Fatal("InvalidInput() is false")
			}
			if fe.Field != c.field {
				t.Errorf("Field = %q, want %q (%v)", fe.Field, c.field, err)
			}
			if fe.Offset < 0 || fe.Offset > int64(len(c.data)) {
				t.Errorf("Offset %d outside the %d-byte file", fe.Offset, len(c.data))
			}
		})
	}
}
