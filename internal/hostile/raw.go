// Package hostile makes malformed and adversarial input files for sattva's
// robustness tests: a tiny valid llama GGUF, and a catalogue of GGUF,
// safetensors, JSONL and YAML files, each breaking one rule. The GGUF files are
// written by an encoder of its own (Raw) that, unlike gguf.Write, lets a case
// write anything the format can hold: an empty key, a zero dimension, an
// alignment of 1, a string length of 2^63.
package hostile

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/sattva/sattva/gguf"
)

// Raw is a GGUF file to encode byte for byte.
type Raw struct {
	Version   uint32 // 0 means 3
	Alignment uint64 // the padding used for the data section; 0 means 32
	KVs       []gguf.KV
	Tensors   []RawTensor
}

// RawTensor is one tensor: its info and its bytes.
type RawTensor struct {
	Name   string
	Dims   []uint64
	Type   gguf.Type
	Offset *uint64 // nil: the next aligned offset
	Data   []byte  // written at Offset; shorter or longer than the shape is allowed
}

// Clone returns a deep enough copy of r that a case may change its KVs and
// tensors without touching r.
func (r *Raw) Clone() *Raw {
	c := *r
	c.KVs = append([]gguf.KV(nil), r.KVs...)
	c.Tensors = append([]RawTensor(nil), r.Tensors...)
	for i := range c.Tensors {
		c.Tensors[i].Dims = append([]uint64(nil), r.Tensors[i].Dims...)
	}
	return &c
}

// Set replaces the value of key, or appends it.
func (r *Raw) Set(key string, v gguf.Value) {
	for i := range r.KVs {
		if r.KVs[i].Key == key {
			r.KVs[i].Value = v
			return
		}
	}
	r.KVs = append(r.KVs, gguf.KV{Key: key, Value: v})
}

// Delete removes key.
func (r *Raw) Delete(key string) {
	for i := range r.KVs {
		if r.KVs[i].Key == key {
			r.KVs = append(r.KVs[:i], r.KVs[i+1:]...)
			return
		}
	}
}

// Get returns the value of key.
func (r *Raw) Get(key string) (gguf.Value, bool) {
	for _, kv := range r.KVs {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return gguf.Value{}, false
}

// Tensor returns a pointer to the tensor called name, or nil.
func (r *Raw) Tensor(name string) *RawTensor {
	for i := range r.Tensors {
		if r.Tensors[i].Name == name {
			return &r.Tensors[i]
		}
	}
	return nil
}

// DropTensor removes the tensor called name.
func (r *Raw) DropTensor(name string) {
	for i := range r.Tensors {
		if r.Tensors[i].Name == name {
			r.Tensors = append(r.Tensors[:i], r.Tensors[i+1:]...)
			return
		}
	}
}

// Bytes encodes r.
func (r *Raw) Bytes() []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	u32 := func(v uint32) { b.Write(le.AppendUint32(nil, v)) }
	u64 := func(v uint64) { b.Write(le.AppendUint64(nil, v)) }
	str := func(s string) { u64(uint64(len(s))); b.WriteString(s) }
	v := r.Version
	if v == 0 {
		v = 3
	}
	b.WriteString(gguf.Magic)
	u32(v)
	u64(uint64(len(r.Tensors)))
	u64(uint64(len(r.KVs)))
	for _, kv := range r.KVs {
		str(kv.Key)
		u32(uint32(kv.Value.Type))
		encodeValue(&b, kv.Value)
	}
	align := r.Alignment
	if align == 0 {
		align = 32
	}
	offs := make([]uint64, len(r.Tensors))
	var next uint64
	for i, t := range r.Tensors {
		str(t.Name)
		u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			u64(d)
		}
		u32(uint32(t.Type))
		off := next
		if t.Offset != nil {
			off = *t.Offset
		}
		offs[i] = off
		u64(off)
		// An explicit offset far away (a case pointing past the end) does
		// not grow the file.
		if end := off + uint64(len(t.Data)); t.Offset == nil || end <= 1<<24 {
			next = max(next, (end+align-1)/align*align)
		}
	}
	for uint64(b.Len())%align != 0 {
		b.WriteByte(0)
	}
	data := make([]byte, next)
	for i, t := range r.Tensors {
		if offs[i] < uint64(len(data)) {
			copy(data[offs[i]:], t.Data)
		}
	}
	b.Write(data)
	return b.Bytes()
}

func encodeValue(b *bytes.Buffer, v gguf.Value) {
	le := binary.LittleEndian
	switch x := v.V.(type) {
	case uint8:
		b.WriteByte(x)
	case int8:
		b.WriteByte(byte(x))
	case uint16:
		b.Write(le.AppendUint16(nil, x))
	case int16:
		b.Write(le.AppendUint16(nil, uint16(x)))
	case uint32:
		b.Write(le.AppendUint32(nil, x))
	case int32:
		b.Write(le.AppendUint32(nil, uint32(x)))
	case uint64:
		b.Write(le.AppendUint64(nil, x))
	case int64:
		b.Write(le.AppendUint64(nil, uint64(x)))
	case float32:
		b.Write(le.AppendUint32(nil, math.Float32bits(x)))
	case float64:
		b.Write(le.AppendUint64(nil, math.Float64bits(x)))
	case bool:
		if x {
			b.WriteByte(1)
		} else {
			b.WriteByte(0)
		}
	case string:
		b.Write(le.AppendUint64(nil, uint64(len(x))))
		b.WriteString(x)
	default:
		if v.Type != gguf.ValueArray {
			panic(fmt.Sprintf("hostile: cannot encode %T", v.V))
		}
		b.Write(le.AppendUint32(nil, uint32(v.Elem)))
		n := v.Len()
		b.Write(le.AppendUint64(nil, uint64(n)))
		for i := range n {
			e, _ := v.Index(i)
			encodeValue(b, e)
		}
	}
}
