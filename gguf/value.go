package gguf

import (
	"fmt"
	"strconv"
	"strings"
)

// ValueType is the type of a metadata value, ids as gguf-py's GGUFValueType
// and gguf.h's enum gguf_type.
type ValueType uint32

// The metadata value types.
const (
	ValueUint8   ValueType = 0
	ValueInt8    ValueType = 1
	ValueUint16  ValueType = 2
	ValueInt16   ValueType = 3
	ValueUint32  ValueType = 4
	ValueInt32   ValueType = 5
	ValueFloat32 ValueType = 6
	ValueBool    ValueType = 7
	ValueString  ValueType = 8
	ValueArray   ValueType = 9
	ValueUint64  ValueType = 10
	ValueInt64   ValueType = 11
	ValueFloat64 ValueType = 12

	valueTypeCount = 13
)

var valueTypeNames = [valueTypeCount]string{
	"UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32", "FLOAT32",
	"BOOL", "STRING", "ARRAY", "UINT64", "INT64", "FLOAT64",
}

// fixedSize is the encoded size in bytes of each scalar type; 0 for STRING
// and ARRAY, whose size depends on their content.
var fixedSize = [valueTypeCount]int{1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8}

// Valid reports whether t is one of the thirteen GGUF value types.
func (t ValueType) Valid() bool { return t < valueTypeCount }

// String returns gguf-py's name of the type ("UINT32", "STRING", "ARRAY"),
// or "ValueType(N)" for an unknown id.
func (t ValueType) String() string {
	if !t.Valid() {
		return fmt.Sprintf("ValueType(%d)", uint32(t))
	}
	return valueTypeNames[t]
}

// ParseValueType returns the ValueType named s, ignoring case ("uint32", "STRING").
func ParseValueType(s string) (ValueType, error) {
	for i, n := range valueTypeNames {
		if strings.EqualFold(n, s) {
			return ValueType(i), nil
		}
	}
	return 0, fmt.Errorf("gguf: unknown value type %q", s)
}

// Value is one metadata value. V holds, by Type: uint8, int8, uint16, int16,
// uint32, int32, uint64, int64, float32, float64, bool or string; for
// Type == ValueArray a typed slice whose element type is Elem ([]uint8 …
// []float64, []bool, []string), or []Value for arrays of arrays (Elem ==
// ValueArray, each element itself an array Value). Elem is meaningful only for
// arrays. Values read from a File share nothing with the file; callers must
// not mutate slices they did not create.
type Value struct {
	Type ValueType
	Elem ValueType
	V    any
}

// Scalar constructors.

func Uint8(v uint8) Value     { return Value{Type: ValueUint8, V: v} }
func Int8(v int8) Value       { return Value{Type: ValueInt8, V: v} }
func Uint16(v uint16) Value   { return Value{Type: ValueUint16, V: v} }
func Int16(v int16) Value     { return Value{Type: ValueInt16, V: v} }
func Uint32(v uint32) Value   { return Value{Type: ValueUint32, V: v} }
func Int32(v int32) Value     { return Value{Type: ValueInt32, V: v} }
func Uint64(v uint64) Value   { return Value{Type: ValueUint64, V: v} }
func Int64(v int64) Value     { return Value{Type: ValueInt64, V: v} }
func Float32(v float32) Value { return Value{Type: ValueFloat32, V: v} }
func Float64(v float64) Value { return Value{Type: ValueFloat64, V: v} }
func Bool(v bool) Value       { return Value{Type: ValueBool, V: v} }
func String(s string) Value   { return Value{Type: ValueString, V: s} }

// Array constructors. The Value holds the slice itself (no copy); the caller
// must not change it while the Value is in use.

func Uint8s(v []uint8) Value     { return arr(ValueUint8, v) }
func Int8s(v []int8) Value       { return arr(ValueInt8, v) }
func Uint16s(v []uint16) Value   { return arr(ValueUint16, v) }
func Int16s(v []int16) Value     { return arr(ValueInt16, v) }
func Uint32s(v []uint32) Value   { return arr(ValueUint32, v) }
func Int32s(v []int32) Value     { return arr(ValueInt32, v) }
func Uint64s(v []uint64) Value   { return arr(ValueUint64, v) }
func Int64s(v []int64) Value     { return arr(ValueInt64, v) }
func Float32s(v []float32) Value { return arr(ValueFloat32, v) }
func Float64s(v []float64) Value { return arr(ValueFloat64, v) }
func Bools(v []bool) Value       { return arr(ValueBool, v) }
func Strings(v []string) Value   { return arr(ValueString, v) }

// Arrays returns an array of arrays; every element must be an array Value.
// GGUF and gguf-py allow them, but the pinned llama.cpp refuses to load any
// file that holds one (gguf/differential tests this): keep them out of models.
func Arrays(v []Value) Value { return arr(ValueArray, v) }

func arr(elem ValueType, v any) Value { return Value{Type: ValueArray, Elem: elem, V: v} }

// Len returns the number of elements of an array value, or -1 if v is not a
// well-formed array.
func (v Value) Len() int {
	if v.Type != ValueArray {
		return -1
	}
	switch s := v.V.(type) {
	case []uint8:
		return len(s)
	case []int8:
		return len(s)
	case []uint16:
		return len(s)
	case []int16:
		return len(s)
	case []uint32:
		return len(s)
	case []int32:
		return len(s)
	case []uint64:
		return len(s)
	case []int64:
		return len(s)
	case []float32:
		return len(s)
	case []float64:
		return len(s)
	case []bool:
		return len(s)
	case []string:
		return len(s)
	case []Value:
		return len(s)
	}
	return -1
}

// Index returns element i of an array value as a Value (ok false when v is
// not an array or i is out of range).
func (v Value) Index(i int) (Value, bool) {
	if i < 0 || i >= v.Len() {
		return Value{}, false
	}
	switch s := v.V.(type) {
	case []uint8:
		return Uint8(s[i]), true
	case []int8:
		return Int8(s[i]), true
	case []uint16:
		return Uint16(s[i]), true
	case []int16:
		return Int16(s[i]), true
	case []uint32:
		return Uint32(s[i]), true
	case []int32:
		return Int32(s[i]), true
	case []uint64:
		return Uint64(s[i]), true
	case []int64:
		return Int64(s[i]), true
	case []float32:
		return Float32(s[i]), true
	case []float64:
		return Float64(s[i]), true
	case []bool:
		return Bool(s[i]), true
	case []string:
		return String(s[i]), true
	case []Value:
		return s[i], true
	}
	return Value{}, false
}

// check reports whether V holds what Type and Elem say, recursively.
func (v Value) check() error {
	if !v.Type.Valid() {
		return fmt.Errorf("gguf: invalid value type %d", uint32(v.Type))
	}
	ok := false
	switch v.Type {
	case ValueUint8:
		_, ok = v.V.(uint8)
	case ValueInt8:
		_, ok = v.V.(int8)
	case ValueUint16:
		_, ok = v.V.(uint16)
	case ValueInt16:
		_, ok = v.V.(int16)
	case ValueUint32:
		_, ok = v.V.(uint32)
	case ValueInt32:
		_, ok = v.V.(int32)
	case ValueUint64:
		_, ok = v.V.(uint64)
	case ValueInt64:
		_, ok = v.V.(int64)
	case ValueFloat32:
		_, ok = v.V.(float32)
	case ValueFloat64:
		_, ok = v.V.(float64)
	case ValueBool:
		_, ok = v.V.(bool)
	case ValueString:
		_, ok = v.V.(string)
	case ValueArray:
		return v.checkArray()
	}
	if !ok {
		return fmt.Errorf("gguf: value of type %s holds %T", v.Type, v.V)
	}
	return nil
}

func (v Value) checkArray() error {
	ok := false
	switch v.Elem {
	case ValueUint8:
		_, ok = v.V.([]uint8)
	case ValueInt8:
		_, ok = v.V.([]int8)
	case ValueUint16:
		_, ok = v.V.([]uint16)
	case ValueInt16:
		_, ok = v.V.([]int16)
	case ValueUint32:
		_, ok = v.V.([]uint32)
	case ValueInt32:
		_, ok = v.V.([]int32)
	case ValueUint64:
		_, ok = v.V.([]uint64)
	case ValueInt64:
		_, ok = v.V.([]int64)
	case ValueFloat32:
		_, ok = v.V.([]float32)
	case ValueFloat64:
		_, ok = v.V.([]float64)
	case ValueBool:
		_, ok = v.V.([]bool)
	case ValueString:
		_, ok = v.V.([]string)
	case ValueArray:
		s, isVals := v.V.([]Value)
		if !isVals {
			break
		}
		for i, e := range s {
			if e.Type != ValueArray {
				return fmt.Errorf("gguf: element %d of an array of arrays has type %s", i, e.Type)
			}
			if err := e.check(); err != nil {
				return fmt.Errorf("element %d: %w", i, err)
			}
		}
		return nil
	default:
		return fmt.Errorf("gguf: invalid array element type %d", uint32(v.Elem))
	}
	if !ok {
		return fmt.Errorf("gguf: array of %s holds %T", v.Elem, v.V)
	}
	return nil
}

// TypeName returns the value's type as text: "UINT32", or "ARRAY[STRING]",
// "ARRAY[ARRAY]" for arrays.
func (v Value) TypeName() string {
	if v.Type == ValueArray {
		return "ARRAY[" + v.Elem.String() + "]"
	}
	return v.Type.String()
}

// summaryItems is how many leading elements Value.String shows of a long array.
const summaryItems = 8

// String returns a human form of v: numbers as Go prints them, strings quoted,
// arrays of more than 8 elements as their first 8 and the count
// ("[1, 2, 3, 4, 5, 6, 7, 8, … (512 items)]").
func (v Value) String() string {
	var b strings.Builder
	v.format(&b, true)
	return b.String()
}

func (v Value) format(b *strings.Builder, summarise bool) {
	if v.Type != ValueArray {
		switch x := v.V.(type) {
		case string:
			b.WriteString(strconv.Quote(x))
		case float32:
			b.WriteString(strconv.FormatFloat(float64(x), 'g', -1, 32))
		case float64:
			b.WriteString(strconv.FormatFloat(x, 'g', -1, 64))
		default:
			fmt.Fprint(b, x)
		}
		return
	}
	n := v.Len()
	if n < 0 {
		fmt.Fprintf(b, "<invalid array %T>", v.V)
		return
	}
	shown := n
	if summarise && n > summaryItems {
		shown = summaryItems
	}
	b.WriteByte('[')
	for i := 0; i < shown; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		e, _ := v.Index(i)
		e.format(b, summarise)
	}
	if shown < n {
		fmt.Fprintf(b, ", … (%d items)", n)
	}
	b.WriteByte(']')
}
