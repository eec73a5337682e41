package differential_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/fixture"
	"github.com/sattva/sattva/llamacpp"
)

// cString renders a scalar as llama.cpp's gguf_kv_to_str does (what
// llama_model_meta_val_str returns): std::to_string for numbers, which is
// "%f" for floats, "true"/"false", strings as they are.
func cString(v gguf.Value) string {
	switch x := v.V.(type) {
	case float32:
		return fmt.Sprintf("%f", float64(x))
	case float64:
		return fmt.Sprintf("%f", x)
	case string:
		return x
	}
	return fmt.Sprint(v.V)
}

func load(t *testing.T, path string) (*llamacpp.Model, error) {
	t.Helper()
	m, err := llamacpp.Load(path, llamacpp.ModelOptions{VocabOnly: true})
	if errors.Is(err, llamacpp.ErrNoEngine) {
		t.Skip("built without cgo: no llama.cpp to compare with")
	}
	return m, err
}

// TestLlamaCppReadsWhatWeWrite rewrites the stories260K reference with a KV
// of every scalar type and every (non-nested) array type added, loads it with
// llama.cpp and compares every scalar llama.cpp reports with ours.
func TestLlamaCppReadsWhatWeWrite(t *testing.T) {
	f, err := gguf.Open(fixture.Path(t, "stories260K/ref/stories260K-f32.ref.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	spec := f.Spec()
	extra := []gguf.KV{
		{Key: "sattva.u8", Value: gguf.Uint8(200)},
		{Key: "sattva.i8", Value: gguf.Int8(-100)},
		{Key: "sattva.u16", Value: gguf.Uint16(60000)},
		{Key: "sattva.i16", Value: gguf.Int16(-30000)},
		{Key: "sattva.u32", Value: gguf.Uint32(4000000000)},
		{Key: "sattva.i32", Value: gguf.Int32(-2000000000)},
		{Key: "sattva.u64", Value: gguf.Uint64(math.MaxUint64)},
		{Key: "sattva.i64", Value: gguf.Int64(math.MinInt64)},
		{Key: "sattva.f32", Value: gguf.Float32(-1.25e-3)},
		{Key: "sattva.f64", Value: gguf.Float64(123456.789)},
		{Key: "sattva.bool", Value: gguf.Bool(true)},
		{Key: "sattva.str", Value: gguf.String("tab\there, ünïcode, \"quotes\"")},
		{Key: "sattva.a.u8", Value: gguf.Uint8s([]uint8{1, 2})},
		{Key: "sattva.a.i8", Value: gguf.Int8s([]int8{-1})},
		{Key: "sattva.a.u16", Value: gguf.Uint16s([]uint16{1})},
		{Key: "sattva.a.i16", Value: gguf.Int16s([]int16{-1})},
		{Key: "sattva.a.u32", Value: gguf.Uint32s([]uint32{1})},
		{Key: "sattva.a.i32", Value: gguf.Int32s([]int32{-1})},
		{Key: "sattva.a.u64", Value: gguf.Uint64s([]uint64{1})},
		{Key: "sattva.a.i64", Value: gguf.Int64s([]int64{-1})},
		{Key: "sattva.a.f32", Value: gguf.Float32s([]float32{0.5})},
		{Key: "sattva.a.f64", Value: gguf.Float64s([]float64{0.25})},
		{Key: "sattva.a.bool", Value: gguf.Bools([]bool{true, false})},
		{Key: "sattva.a.str", Value: gguf.Strings([]string{"x", ""})},
		{Key: "sattva.a.empty", Value: gguf.Strings(nil)},
	}
	for _, kv := range extra {
		spec.SetKV(kv.Key, kv.Value)
	}
	out := filepath.Join(t.TempDir(), "all-types.gguf")
	if err := gguf.WriteFile(context.Background(), out, spec, gguf.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	m, err := load(t, out)
	if err != nil {
		t.Fatalf("llama.cpp refused our file: %v", err)
	}
	defer m.Close()
	scalars := 0
	for _, kv := range spec.KVs {
		got, ok := m.Meta(kv.Key)
		if kv.Value.Type == gguf.ValueArray {
			continue // llama.cpp keeps only scalars as strings
		}
		scalars++
		if want := cString(kv.Value); !ok || got != want {
			t.Errorf("%s: llama.cpp reads %q (present %v), we wrote %q", kv.Key, got, ok, want)
		}
	}
	if scalars < 30 {
		t.Errorf("compared only %d scalars", scalars)
	}
}

// TestLlamaCppRejectsNestedArrays pins a documented limit: GGUF allows arrays
// of arrays (gguf-py and package gguf read and write them) but the pinned
// llama.cpp refuses any file that has one.
func TestLlamaCppRejectsNestedArrays(t *testing.T) {
	f, err := gguf.Open(fixture.Path(t, "stories260K/ref/stories260K-f32.ref.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	spec := f.Spec()
	spec.SetKV("sattva.nested", gguf.Arrays([]gguf.Value{gguf.Int32s([]int32{1})}))
	out := filepath.Join(t.TempDir(), "nested.gguf")
	if err := gguf.WriteFile(context.Background(), out, spec, gguf.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := gguf.Open(out); err != nil {
		t.Fatalf("our reader: %v", err)
	}
	m, err := load(t, out)
	if err == nil {
		m.Close()
		t.Fatal("llama.cpp loaded a file with an array of arrays; update Arrays' doc comment")
	}
}
