package gguf

import (
	"fmt"
	"math"
	"math/bits"
	"strings"
)

// Type is a ggml tensor type. The ids are exactly those of enum ggml_type in
// the pinned llama.cpp's ggml.h (vendored by github.com/ollama/ollama v0.24.0).
// Ids that ggml.h marks as removed (4, 5, 31–33, 36–38) are not valid types.
type Type uint32

// The ggml tensor types, ids as in ggml.h.
const (
	TypeF32     Type = 0
	TypeF16     Type = 1
	TypeQ4_0    Type = 2
	TypeQ4_1    Type = 3
	TypeQ5_0    Type = 6
	TypeQ5_1    Type = 7
	TypeQ8_0    Type = 8
	TypeQ8_1    Type = 9
	TypeQ2_K    Type = 10
	TypeQ3_K    Type = 11
	TypeQ4_K    Type = 12
	TypeQ5_K    Type = 13
	TypeQ6_K    Type = 14
	TypeQ8_K    Type = 15
	TypeIQ2_XXS Type = 16
	TypeIQ2_XS  Type = 17
	TypeIQ3_XXS Type = 18
	TypeIQ1_S   Type = 19
	TypeIQ4_NL  Type = 20
	TypeIQ3_S   Type = 21
	TypeIQ2_S   Type = 22
	TypeIQ4_XS  Type = 23
	TypeI8      Type = 24
	TypeI16     Type = 25
	TypeI32     Type = 26
	TypeI64     Type = 27
	TypeF64     Type = 28
	TypeIQ1_M   Type = 29
	TypeBF16    Type = 30
	TypeTQ1_0   Type = 34
	TypeTQ2_0   Type = 35
	TypeMXFP4   Type = 39

	// typeCount is GGML_TYPE_COUNT: every valid id is below it.
	typeCount = 40
)

// typeTraits mirrors the type_traits table of ggml.c: name (gguf-py's upper
// case spelling of ggml's type_name), elements per block and bytes per block
// (sizeof the block struct of ggml-common.h).
type typeTraits struct {
	name      string
	blockSize int
	typeSize  int
}

// traits is indexed by Type; a zero blockSize marks an id that is not a type.
var traits = [typeCount]typeTraits{
	TypeF32:     {"F32", 1, 4},
	TypeF16:     {"F16", 1, 2},
	TypeQ4_0:    {"Q4_0", 32, 18},
	TypeQ4_1:    {"Q4_1", 32, 20},
	TypeQ5_0:    {"Q5_0", 32, 22},
	TypeQ5_1:    {"Q5_1", 32, 24},
	TypeQ8_0:    {"Q8_0", 32, 34},
	TypeQ8_1:    {"Q8_1", 32, 36},
	TypeQ2_K:    {"Q2_K", 256, 84},
	TypeQ3_K:    {"Q3_K", 256, 110},
	TypeQ4_K:    {"Q4_K", 256, 144},
	TypeQ5_K:    {"Q5_K", 256, 176},
	TypeQ6_K:    {"Q6_K", 256, 210},
	TypeQ8_K:    {"Q8_K", 256, 292},
	TypeIQ2_XXS: {"IQ2_XXS", 256, 66},
	TypeIQ2_XS:  {"IQ2_XS", 256, 74},
	TypeIQ3_XXS: {"IQ3_XXS", 256, 98},
	TypeIQ1_S:   {"IQ1_S", 256, 50},
	TypeIQ4_NL:  {"IQ4_NL", 32, 18},
	TypeIQ3_S:   {"IQ3_S", 256, 110},
	TypeIQ2_S:   {"IQ2_S", 256, 82},
	TypeIQ4_XS:  {"IQ4_XS", 256, 136},
	TypeI8:      {"I8", 1, 1},
	TypeI16:     {"I16", 1, 2},
	TypeI32:     {"I32", 1, 4},
	TypeI64:     {"I64", 1, 8},
	TypeF64:     {"F64", 1, 8},
	TypeIQ1_M:   {"IQ1_M", 256, 56},
	TypeBF16:    {"BF16", 1, 2},
	TypeTQ1_0:   {"TQ1_0", 256, 54},
	TypeTQ2_0:   {"TQ2_0", 256, 66},
	TypeMXFP4:   {"MXFP4", 32, 17},
}

// Types returns every valid Type in id order.
func Types() []Type {
	var ts []Type
	for i := range traits {
		if traits[i].blockSize != 0 {
			ts = append(ts, Type(i))
		}
	}
	return ts
}

// Valid reports whether t is a type the pinned ggml knows.
func (t Type) Valid() bool { return t < typeCount && traits[t].blockSize != 0 }

// String returns the type's name as gguf-py spells it ("F32", "Q4_K",
// "IQ2_XXS"), or "Type(N)" for an unknown id.
func (t Type) String() string {
	if !t.Valid() {
		return fmt.Sprintf("Type(%d)", uint32(t))
	}
	return traits[t].name
}

// ParseType returns the Type named s, ignoring case ("q4_k", "Q8_0", "bf16").
func ParseType(s string) (Type, error) {
	for i := range traits {
		if traits[i].blockSize != 0 && strings.EqualFold(traits[i].name, s) {
			return Type(i), nil
		}
	}
	return 0, fmt.Errorf("gguf: unknown tensor type %q", s)
}

// BlockSize returns the number of elements per block (1 for plain types,
// 32 or 256 for quantized ones), or 0 for an unknown type.
func (t Type) BlockSize() int {
	if !t.Valid() {
		return 0
	}
	return traits[t].blockSize
}

// TypeSize returns the number of bytes per block, or 0 for an unknown type.
func (t Type) TypeSize() int {
	if !t.Valid() {
		return 0
	}
	return traits[t].typeSize
}

// IsQuantized reports whether t stores blocks of more than one element.
func (t Type) IsQuantized() bool { return t.BlockSize() > 1 }

// ErrUnknownType is returned (wrapped, naming the id) for a tensor type id the
// pinned ggml does not know.
var ErrUnknownType = fmt.Errorf("gguf: unknown tensor type")

func unknownType(t Type) error {
	return fmt.Errorf("%w id %d", ErrUnknownType, uint32(t))
}

// RowSize returns the bytes of a row of ne elements of type t. It is an error
// if t is unknown, ne is negative or not a multiple of t.BlockSize().
func (t Type) RowSize(ne int64) (int64, error) {
	if !t.Valid() {
		return 0, unknownType(t)
	}
	bs := int64(traits[t].blockSize)
	if ne < 0 || ne%bs != 0 {
		return 0, fmt.Errorf("gguf: %d elements of %s are not a whole number of %d-element blocks", ne, t, bs)
	}
	hi, lo := bits.Mul64(uint64(ne/bs), uint64(traits[t].typeSize))
	if hi != 0 || lo > math.MaxInt64 {
		return 0, fmt.Errorf("gguf: a row of %d elements of %s overflows int64 bytes", ne, t)
	}
	return int64(lo), nil
}

// TensorSize returns the bytes of a tensor of type t with dims in GGUF order
// (dims[0] is the row length). It checks what ggml checks: a known type, a row
// length that is a multiple of the block size, and no overflow of int64 in the
// element count or the byte size. No dims means a scalar (one element).
func TensorSize(t Type, dims []uint64) (int64, error) {
	if !t.Valid() {
		return 0, unknownType(t)
	}
	n, err := numElements(dims)
	if err != nil {
		return 0, err
	}
	ne0 := int64(1)
	if len(dims) > 0 {
		ne0 = int64(dims[0])
	}
	row, err := t.RowSize(ne0)
	if err != nil {
		return 0, err
	}
	if ne0 == 0 {
		return 0, nil
	}
	rows := uint64(n / ne0)
	hi, lo := bits.Mul64(rows, uint64(row))
	if hi != 0 || lo > math.MaxInt64 {
		return 0, fmt.Errorf("gguf: tensor of %d elements of %s overflows int64 bytes", n, t)
	}
	return int64(lo), nil
}

// numElements returns the product of dims, or an error if it exceeds int64.
func numElements(dims []uint64) (int64, error) {
	n := uint64(1)
	for _, d := range dims {
		if d > math.MaxInt64 {
			return 0, fmt.Errorf("gguf: dimension %d exceeds int64", d)
		}
		hi, lo := bits.Mul64(n, d)
		if hi != 0 || lo > math.MaxInt64 {
			return 0, fmt.Errorf("gguf: element count of shape %v overflows int64", dims)
		}
		n = lo
	}
	return int64(n), nil
}
