package gguf

import "io"

// ParseSpec returns the File that writing s would produce, without
// producing its tensor data: the header, KVs and tensor infos are encoded as
// Write encodes them and read back with NewReader (DefaultLimits), so every
// check of the reader, and any check over a *File, applies to a file before
// it is written. TensorData of the result reads zeros.
func ParseSpec(s *Spec) (*File, error) {
	meta, lay, err := encodeMeta(s)
	if err != nil {
		return nil, err
	}
	return NewReader(zeroTail(meta), lay.Size, DefaultLimits())
}

// zeroTail reads as its bytes followed by zeros.
type zeroTail []byte

func (z zeroTail) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, io.EOF
	}
	n := 0
	if off < int64(len(z)) {
		n = copy(p, z[off:])
	}
	clear(p[n:])
	return len(p), nil
}
