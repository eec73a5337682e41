package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/bits"
)

// TensorSpec names a tensor to be written: its dtype and shape.
type TensorSpec struct {
	Name  string
	DType string
	Shape []int64
}

// Layout plans a safetensors file holding specs in the given order. It returns
// the file's header (the 8-byte length followed by the JSON header, padded with
// spaces to a multiple of 8 bytes), the absolute file offset of each tensor's
// data and the total file size. The caller writes header at offset 0 and each
// tensor's bytes at its offset (in any order, from any goroutine).
func Layout(specs []TensorSpec, metadata map[string]string) (header []byte, offsets []int64, size int64, err error) {
	var js bytes.Buffer
	js.WriteByte('{')
	first := true
	if len(metadata) > 0 {
		b, err := json.Marshal(metadata)
		if err != nil {
			return nil, nil, 0, err
		}
		js.WriteString(`"__metadata__":`)
		js.Write(b)
		first = false
	}
	rel := make([]int64, len(specs))
	var pos int64
	seen := map[string]bool{}
	for i, s := range specs {
		if seen[s.Name] || s.Name == "__metadata__" {
			return nil, nil, 0, fmt.Errorf("safetensors: tensor name %q used twice", s.Name)
		}
		seen[s.Name] = true
		es, ok := DTypeSize(s.DType)
		if !ok {
			return nil, nil, 0, fmt.Errorf("safetensors: tensor %q: unknown dtype %q", s.Name, s.DType)
		}
		n := uint64(es)
		for _, d := range s.Shape {
			if d < 0 {
				return nil, nil, 0, fmt.Errorf("safetensors: tensor %q: negative dimension in %v", s.Name, s.Shape)
			}
			hi, lo := bits.Mul64(n, uint64(d))
			if hi != 0 || lo > 1<<62 {
				return nil, nil, 0, fmt.Errorf("safetensors: tensor %q: shape %v overflows", s.Name, s.Shape)
			}
			n = lo
		}
		if !first {
			js.WriteByte(',')
		}
		first = false
		name, _ := json.Marshal(s.Name)
		shape, _ := json.Marshal(s.Shape)
		if s.Shape == nil {
			shape = []byte("[]")
		}
		fmt.Fprintf(&js, `%s:{"dtype":%q,"shape":%s,"data_offsets":[%d,%d]}`, name, s.DType, shape, pos, pos+int64(n))
		rel[i] = pos
		pos += int64(n)
	}
	js.WriteByte('}')
	for js.Len()%8 != 0 {
		js.WriteByte(' ')
	}
	header = make([]byte, 8+js.Len())
	binary.LittleEndian.PutUint64(header, uint64(js.Len()))
	copy(header[8:], js.Bytes())
	offsets = make([]int64, len(specs))
	for i := range rel {
		offsets[i] = int64(len(header)) + rel[i]
	}
	return header, offsets, int64(len(header)) + pos, nil
}
