package gguf

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// ParseValue parses text as a value of type t (for arrays, of element type
// elem): decimal integers checked against the type's range, floats as Go
// parses them ("1e-5", "NaN", "Inf"), "true"/"false" (also 1/0), strings as
// given. An array is a JSON array of elements of type elem ("[1, 2, 3]",
// "[\"a\", \"b\"]"); arrays of arrays are not accepted.
func ParseValue(t, elem ValueType, text string) (Value, error) {
	if t != ValueArray {
		return parseScalar(t, text)
	}
	if elem == ValueArray || !elem.Valid() {
		return Value{}, fmt.Errorf("gguf: cannot parse an array of %s", elem)
	}
	var items []json.RawMessage
	if err := json.Unmarshal([]byte(text), &items); err != nil {
		return Value{}, fmt.Errorf("gguf: an ARRAY[%s] value must be a JSON array: %v", elem, err)
	}
	parts := make([]Value, len(items))
	for i, it := range items {
		s := strings.TrimSpace(string(it))
		if elem == ValueString {
			if err := json.Unmarshal(it, &s); err != nil {
				return Value{}, fmt.Errorf("gguf: item %d: want a JSON string: %v", i, err)
			}
		}
		v, err := parseScalar(elem, s)
		if err != nil {
			return Value{}, fmt.Errorf("item %d: %w", i, err)
		}
		parts[i] = v
	}
	return collect(elem, parts), nil
}

// collect builds a typed array from scalar values of type elem.
func collect(elem ValueType, parts []Value) Value {
	switch elem {
	case ValueUint8:
		return Uint8s(gather[uint8](parts))
	case ValueInt8:
		return Int8s(gather[int8](parts))
	case ValueUint16:
		return Uint16s(gather[uint16](parts))
	case ValueInt16:
		return Int16s(gather[int16](parts))
	case ValueUint32:
		return Uint32s(gather[uint32](parts))
	case ValueInt32:
		return Int32s(gather[int32](parts))
	case ValueUint64:
		return Uint64s(gather[uint64](parts))
	case ValueInt64:
		return Int64s(gather[int64](parts))
	case ValueFloat32:
		return Float32s(gather[float32](parts))
	case ValueFloat64:
		return Float64s(gather[float64](parts))
	case ValueBool:
		return Bools(gather[bool](parts))
	default:
		return Strings(gather[string](parts))
	}
}

func gather[T any](parts []Value) []T {
	out := make([]T, len(parts))
	for i, p := range parts {
		out[i] = p.V.(T)
	}
	return out
}

func parseScalar(t ValueType, s string) (Value, error) {
	bad := func(err error) (Value, error) {
		return Value{}, fmt.Errorf("gguf: %q is not a %s: %v", s, t, err)
	}
	switch t {
	case ValueString:
		return String(s), nil
	case ValueBool:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true", "1":
			return Bool(true), nil
		case "false", "0":
			return Bool(false), nil
		}
		return Value{}, fmt.Errorf("gguf: %q is not a BOOL (true or false)", s)
	case ValueFloat32, ValueFloat64:
		bitSize := 64
		if t == ValueFloat32 {
			bitSize = 32
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(s), bitSize)
		if err != nil {
			return bad(err)
		}
		if t == ValueFloat32 {
			return Float32(float32(f)), nil
		}
		return Float64(f), nil
	case ValueUint8, ValueUint16, ValueUint32, ValueUint64:
		bitSize := map[ValueType]int{ValueUint8: 8, ValueUint16: 16, ValueUint32: 32, ValueUint64: 64}[t]
		u, err := strconv.ParseUint(strings.TrimSpace(s), 10, bitSize)
		if err != nil {
			return bad(err)
		}
		switch t {
		case ValueUint8:
			return Uint8(uint8(u)), nil
		case ValueUint16:
			return Uint16(uint16(u)), nil
		case ValueUint32:
			return Uint32(uint32(u)), nil
		}
		return Uint64(u), nil
	case ValueInt8, ValueInt16, ValueInt32, ValueInt64:
		bitSize := map[ValueType]int{ValueInt8: 8, ValueInt16: 16, ValueInt32: 32, ValueInt64: 64}[t]
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, bitSize)
		if err != nil {
			return bad(err)
		}
		switch t {
		case ValueInt8:
			return Int8(int8(n)), nil
		case ValueInt16:
			return Int16(int16(n)), nil
		case ValueInt32:
			return Int32(int32(n)), nil
		}
		return Int64(n), nil
	}
	return Value{}, fmt.Errorf("gguf: cannot parse a value of type %s", t)
}

// ParseTypeName parses a value type as Value.TypeName writes it, ignoring
// case: "uint32", "STRING", "array[int32]". It returns the type and, for
// arrays, the element type.
func ParseTypeName(s string) (t, elem ValueType, err error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	if inner, ok := strings.CutPrefix(u, "ARRAY["); ok && strings.HasSuffix(inner, "]") {
		e, err := ParseValueType(strings.TrimSuffix(inner, "]"))
		if err != nil {
			return 0, 0, err
		}
		return ValueArray, e, nil
	}
	v, err := ParseValueType(u)
	if err != nil {
		return 0, 0, err
	}
	if v == ValueArray {
		return 0, 0, fmt.Errorf("gguf: say the element type: ARRAY[INT32], ARRAY[STRING], …")
	}
	return v, 0, nil
}
