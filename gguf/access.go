package gguf

import (
	"fmt"
	"io"
)

// Get returns the value of key and whether it is present.
func (f *File) Get(key string) (Value, bool) {
	i, ok := f.kvIdx[key]
	if !ok {
		return Value{}, false
	}
	return f.KVs[i].Value, true
}

// Architecture returns general.architecture, or "" when it is missing or not a string.
func (f *File) Architecture() string {
	s, _ := f.String("general.architecture")
	return s
}

// Tensor returns the info of the tensor called name and whether it exists.
func (f *File) Tensor(name string) (TensorInfo, bool) {
	i, ok := f.tensIdx[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.Tensors[i], true
}

// TensorData returns a reader of ti's bytes in the file, read lazily from the
// File's ReaderAt. ti should come from f.Tensors or f.Tensor; for a
// TensorInfo whose size is invalid or whose extent lies outside the file the
// reader is empty.
func (f *File) TensorData(ti TensorInfo) *io.SectionReader {
	size := ti.Size()
	if size < 0 || ti.Offset > uint64(f.Size) || f.DataOffset+int64(ti.Offset) > f.Size-size {
		return io.NewSectionReader(f.r, 0, 0)
	}
	return io.NewSectionReader(f.r, f.DataOffset+int64(ti.Offset), size)
}

// ReaderAt returns the io.ReaderAt the File reads from.
func (f *File) ReaderAt() io.ReaderAt { return f.r }

// ParameterCount returns the sum of the tensors' element counts.
func (f *File) ParameterCount() int64 {
	var n int64
	for _, ti := range f.Tensors {
		n += ti.NumElements()
	}
	return n
}

// TensorBytes returns the sum of the tensors' sizes in bytes (without padding).
func (f *File) TensorBytes() int64 {
	var n int64
	for _, ti := range f.Tensors {
		n += ti.Size()
	}
	return n
}

// typed returns the value of key as T, or ErrKeyNotFound / *TypeError.
func typed[T any](f *File, key string, want Value) (T, error) {
	var zero T
	v, ok := f.Get(key)
	if !ok {
		return zero, fmt.Errorf("%w: %q", ErrKeyNotFound, key)
	}
	if v.Type != want.Type || (v.Type == ValueArray && v.Elem != want.Elem) {
		return zero, &TypeError{Key: key, Want: want.TypeName(), Got: v.TypeName()}
	}
	x, ok := v.V.(T)
	if !ok {
		return zero, &TypeError{Key: key, Want: want.TypeName(), Got: fmt.Sprintf("%s holding %T", v.TypeName(), v.V)}
	}
	return x, nil
}

// String returns the STRING value of key; ErrKeyNotFound (wrapped) when it is
// missing, *TypeError when it has another type. The other typed accessors
// work the same way; none converts between types.
func (f *File) String(key string) (string, error) {
	return typed[string](f, key, Value{Type: ValueString})
}

// Uint8 returns the UINT8 value of key.
func (f *File) Uint8(key string) (uint8, error) { return typed[uint8](f, key, Value{Type: ValueUint8}) }

// Uint32 returns the UINT32 value of key.
func (f *File) Uint32(key string) (uint32, error) {
	return typed[uint32](f, key, Value{Type: ValueUint32})
}

// Int32 returns the INT32 value of key.
func (f *File) Int32(key string) (int32, error) { return typed[int32](f, key, Value{Type: ValueInt32}) }

// Uint64 returns the UINT64 value of key.
func (f *File) Uint64(key string) (uint64, error) {
	return typed[uint64](f, key, Value{Type: ValueUint64})
}

// Int64 returns the INT64 value of key.
func (f *File) Int64(key string) (int64, error) { return typed[int64](f, key, Value{Type: ValueInt64}) }

// Float32 returns the FLOAT32 value of key.
func (f *File) Float32(key string) (float32, error) {
	return typed[float32](f, key, Value{Type: ValueFloat32})
}

// Float64 returns the FLOAT64 value of key.
func (f *File) Float64(key string) (float64, error) {
	return typed[float64](f, key, Value{Type: ValueFloat64})
}

// Bool returns the BOOL value of key.
func (f *File) Bool(key string) (bool, error) { return typed[bool](f, key, Value{Type: ValueBool}) }

// Strings returns the ARRAY[STRING] value of key. The slice is the File's:
// do not modify it.
func (f *File) Strings(key string) ([]string, error) {
	return typed[[]string](f, key, Value{Type: ValueArray, Elem: ValueString})
}

// Float32s returns the ARRAY[FLOAT32] value of key (the File's slice: do not modify).
func (f *File) Float32s(key string) ([]float32, error) {
	return typed[[]float32](f, key, Value{Type: ValueArray, Elem: ValueFloat32})
}

// Int32s returns the ARRAY[INT32] value of key (the File's slice: do not modify).
func (f *File) Int32s(key string) ([]int32, error) {
	return typed[[]int32](f, key, Value{Type: ValueArray, Elem: ValueInt32})
}

// Uint32s returns the ARRAY[UINT32] value of key (the File's slice: do not modify).
func (f *File) Uint32s(key string) ([]uint32, error) {
	return typed[[]uint32](f, key, Value{Type: ValueArray, Elem: ValueUint32})
}
