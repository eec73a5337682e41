// Package safetensors reads Hugging Face safetensors files and sharded
// checkpoints (model.safetensors.index.json) without loading tensor data:
// the JSON header is parsed and checked against the file eagerly, tensor bytes
// are read lazily through io.ReaderAt.
//
// The header is untrusted input: its length is capped (Limits), every dtype must
// be known, every shape's byte size must equal its data_offsets span, and every
// span must lie inside the file without overlapping another.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"slices"
	"strings"
)

// ErrFormat is matched (errors.Is) by every *FormatError: the input is not a
// valid safetensors file or checkpoint.
var ErrFormat = errors.New("safetensors: invalid file")

// FormatError reports an invalid safetensors file or index. File is the file's
// name as given to the opener, Field the header field at fault
// (`tensor "model.norm.weight".data_offsets`), Offset the byte offset in the
// file where the header (or the bad field's data) starts.
type FormatError struct {
	File   string
	Offset int64
	Field  string
	Msg    string
}

func (e *FormatError) Error() string {
	var b strings.Builder
	b.WriteString("safetensors: ")
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Offset > 0 {
		fmt.Fprintf(&b, " (at byte %d)", e.Offset)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrFormat) true for every *FormatError.
func (e *FormatError) Is(target error) bool { return target == ErrFormat }

// InvalidInput marks the error as "this input file is invalid" (exit code 3).
func (e *FormatError) InvalidInput() bool { return true }

// Limits bound what a header may ask for.
type Limits struct {
	// MaxHeaderBytes caps the JSON header length (default 100 MiB, the
	// limit of the reference implementation).
	MaxHeaderBytes int64
	// MaxTensors caps the number of tensors in one file (default 1<<20).
	MaxTensors int
	// MaxDims caps the rank of a tensor (default 8).
	MaxDims int
}

// DefaultLimits returns the limits Open uses.
func DefaultLimits() Limits {
	return Limits{MaxHeaderBytes: 100 << 20, MaxTensors: 1 << 20, MaxDims: 8}
}

// DTypeSize returns the bytes per element of a safetensors dtype and whether
// the dtype is known. Sub-byte and block dtypes are not supported.
func DTypeSize(dtype string) (int, bool) {
	switch dtype {
	case "F64", "I64", "U64":
		return 8, true
	case "F32", "I32", "U32":
		return 4, true
	case "F16", "BF16", "I16", "U16":
		return 2, true
	case "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2":
		return 1, true
	}
	return 0, false
}

// Tensor describes one tensor of a file. Offset is absolute in the file;
// Size is its length in bytes (product of Shape times the dtype size).
type Tensor struct {
	Name   string
	DType  string
	Shape  []int64
	Offset int64
	Size   int64

	file *File
}

// NumElements is the product of Shape (1 for a scalar).
func (t *Tensor) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// FileName is the name of the file holding the tensor.
func (t *Tensor) FileName() string { return t.file.Name }

// Reader returns the tensor's bytes as a section of the underlying file.
// It is safe for concurrent use (reads go through io.ReaderAt).
func (t *Tensor) Reader() *io.SectionReader {
	return io.NewSectionReader(t.file.r, t.Offset, t.Size)
}

// ReadAt reads len(p) bytes of the tensor's data starting at off (relative to
// the tensor). A read past the tensor's end is io.ErrUnexpectedEOF; a file
// that ends early (truncated after it was opened) is reported as a
// *FormatError naming the file and tensor.
func (t *Tensor) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off > t.Size || int64(len(p)) > t.Size-off {
		return 0, io.ErrUnexpectedEOF
	}
	n, err := t.file.r.ReadAt(p, t.Offset+off)
	if n == len(p) {
		return n, nil
	}
	if err == nil || err == io.EOF {
		return n, &FormatError{File: t.file.Name, Offset: t.Offset + off + int64(n),
			Field: fmt.Sprintf("tensor %q", t.Name), Msg: "file ends inside the tensor's data"}
	}
	return n, fmt.Errorf("safetensors: %s: reading tensor %q: %w", t.file.Name, t.Name, err)
}

// File is one parsed safetensors file. Tensors are sorted by name (the order
// of the reference safetensors library and of llama.cpp's converter).
type File struct {
	Name       string
	Tensors    []*Tensor
	Metadata   map[string]string
	DataOffset int64 // start of the data section: 8 + header length
	Size       int64

	r      io.ReaderAt
	closer io.Closer
	byName map[string]*Tensor
}

// Tensor returns the tensor called name.
func (f *File) Tensor(name string) (*Tensor, bool) {
	t, ok := f.byName[name]
	return t, ok
}

// Close closes the underlying file if the File was made by Open. It is
// idempotent.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	c := f.closer
	f.closer = nil
	return c.Close()
}

// Open opens and parses the safetensors file at path with DefaultLimits.
// The caller must Close the File.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, err
	}
	f, err := NewFile(fh, st.Size(), path, DefaultLimits())
	if err != nil {
		fh.Close()
		return nil, err
	}
	f.closer = fh
	return f, nil
}

// NewFile parses the safetensors file held by r (size bytes long). name is
// used in errors only. The File does not own r.
func NewFile(r io.ReaderAt, size int64, name string, lim Limits) (*File, error) {
	ferr := func(off int64, field, format string, args ...any) error {
		return &FormatError{File: name, Offset: off, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	if size < 8 {
		return nil, ferr(0, "header length", "file is %d bytes, shorter than the 8-byte header length", size)
	}
	var lenBuf [8]byte
	if _, err := r.ReadAt(lenBuf[:], 0); err != nil {
		return nil, fmt.Errorf("safetensors: %s: reading header length: %w", name, err)
	}
	hlen := binary.LittleEndian.Uint64(lenBuf[:])
	if lim.MaxHeaderBytes > 0 && hlen > uint64(lim.MaxHeaderBytes) {
		return nil, ferr(0, "header length", "header of %d bytes exceeds the limit of %d", hlen, lim.MaxHeaderBytes)
	}
	if hlen > uint64(size-8) {
		return nil, ferr(0, "header length", "header of %d bytes does not fit in a file of %d bytes (truncated?)", hlen, size)
	}
	hdr := make([]byte, hlen) // bounded by the file size and MaxHeaderBytes
	if _, err := r.ReadAt(hdr, 8); err != nil && !(err == io.EOF && len(hdr) == 0) {
		return nil, fmt.Errorf("safetensors: %s: reading header: %w", name, err)
	}
	f := &File{Name: name, r: r, DataOffset: 8 + int64(hlen), Size: size}
	if err := f.parseHeader(hdr, lim); err != nil {
		return nil, err
	}
	return f, nil
}

// parseHeader decodes the JSON header and checks every entry against the
// data section.
func (f *File) parseHeader(hdr []byte, lim Limits) error {
	ferr := func(field, format string, args ...any) error {
		return &FormatError{File: f.Name, Offset: 8, Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	// Trailing spaces are allowed by the format (alignment padding).
	trimmed := bytes.TrimRight(hdr, " \x00")
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return ferr("header", "not JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return ferr("header", "not a JSON object")
	}
	dataLen := f.Size - f.DataOffset
	f.byName = make(map[string]*Tensor)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ferr("header", "not JSON: %v", err)
		}
		key, ok := tok.(string)
		if !ok {
			return ferr("header", "object key is not a string")
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return ferr(fmt.Sprintf("tensor %q", key), "not JSON: %v", err)
		}
		if key == "__metadata__" {
			if f.Metadata != nil {
				return ferr("__metadata__", "appears twice")
			}
			md := map[string]string{}
			if err := json.Unmarshal(raw, &md); err != nil {
				return ferr("__metadata__", "must map strings to strings: %v", err)
			}
			f.Metadata = md
			continue
		}
		field := fmt.Sprintf("tensor %q", key)
		if _, dup := f.byName[key]; dup {
			return ferr(field, "appears twice in the header")
		}
		if lim.MaxTensors > 0 && len(f.Tensors) >= lim.MaxTensors {
			return ferr("header", "more than %d tensors", lim.MaxTensors)
		}
		var e struct {
			DType       *string        `json:"dtype"`
			Shape       *[]json.Number `json:"shape"`
			DataOffsets *[]json.Number `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			return ferr(field, "entry is not {dtype, shape, data_offsets}: %v", err)
		}
		if e.DType == nil {
			return ferr(field+".dtype", "missing")
		}
		esize, known := DTypeSize(*e.DType)
		if !known {
			return ferr(field+".dtype", "unknown dtype %q", *e.DType)
		}
		if e.Shape == nil {
			return ferr(field+".shape", "missing")
		}
		if lim.MaxDims > 0 && len(*e.Shape) > lim.MaxDims {
			return ferr(field+".shape", "%d dimensions exceed the limit of %d", len(*e.Shape), lim.MaxDims)
		}
		shape := make([]int64, len(*e.Shape))
		nbytes := uint64(esize)
		for i, n := range *e.Shape {
			d, err := n.Int64()
			if err != nil || d < 0 {
				return ferr(field+".shape", "dimension %d is %s, not a non-negative integer", i, n)
			}
			shape[i] = d
			hi, lo := bits.Mul64(nbytes, uint64(d))
			if hi != 0 || lo > 1<<62 {
				return ferr(field+".shape", "shape %v overflows", *e.Shape)
			}
			nbytes = lo
		}
		if e.DataOffsets == nil || len(*e.DataOffsets) != 2 {
			return ferr(field+".data_offsets", "must be [begin, end]")
		}
		begin, err1 := (*e.DataOffsets)[0].Int64()
		end, err2 := (*e.DataOffsets)[1].Int64()
		if err1 != nil || err2 != nil || begin < 0 || end < begin {
			return ferr(field+".data_offsets", "%v is not a valid [begin, end]", *e.DataOffsets)
		}
		if uint64(end-begin) != nbytes {
			return ferr(field+".data_offsets", "[%d, %d] spans %d bytes but %s%v needs %d", begin, end, end-begin, *e.DType, shape, nbytes)
		}
		if end > dataLen {
			return &FormatError{File: f.Name, Offset: f.DataOffset + begin, Field: field + ".data_offsets",
				Msg: fmt.Sprintf("[%d, %d] ends past the data section of %d bytes (file truncated?)", begin, end, dataLen)}
		}
		t := &Tensor{Name: key, DType: *e.DType, Shape: shape, Offset: f.DataOffset + begin, Size: end - begin, file: f}
		f.Tensors = append(f.Tensors, t)
		f.byName[key] = t
	}
	if _, err := dec.Token(); err != nil {
		return ferr("header", "not JSON: %v", err)
	}
	if dec.More() {
		return ferr("header", "trailing data after the JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return ferr("header", "trailing data after the JSON object")
	}
	// Spans must not overlap.
	spans := slices.Clone(f.Tensors)
	slices.SortFunc(spans, func(a, b *Tensor) int {
		if a.Offset != b.Offset {
			if a.Offset < b.Offset {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	for i := 1; i < len(spans); i++ {
		p, t := spans[i-1], spans[i]
		if p.Size > 0 && t.Size > 0 && t.Offset < p.Offset+p.Size {
			return &FormatError{File: f.Name, Offset: t.Offset, Field: fmt.Sprintf("tensor %q.data_offsets", t.Name),
				Msg: fmt.Sprintf("overlaps tensor %q", p.Name)}
		}
	}
	slices.SortFunc(f.Tensors, func(a, b *Tensor) int { return strings.Compare(a.Name, b.Name) })
	return nil
}
