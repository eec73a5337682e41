package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"github.com/sattva/sattva/internal/fileguard"
)

// Magic is the first four bytes of every GGUF file.
const Magic = "GGUF"

// DefaultAlignment is the data alignment when general.alignment is absent.
const DefaultAlignment = 32

// KeyAlignment is the metadata key that sets the data alignment (uint32, a power of two).
const KeyAlignment = "general.alignment"

// KV is one metadata key and its value.
type KV struct {
	Key   string
	Value Value
}

// TensorInfo describes one tensor of a GGUF file.
type TensorInfo struct {
	Name   string
	Dims   []uint64 // GGUF order: Dims[0] is the fastest-varying (PyTorch's last) dimension
	Type   Type
	Offset uint64 // relative to the start of the data section
}

// NumElements returns the product of Dims (1 for no dims), or -1 if it
// overflows int64. It is never -1 for a TensorInfo read from a File.
func (ti TensorInfo) NumElements() int64 {
	n, err := numElements(ti.Dims)
	if err != nil {
		return -1
	}
	return n
}

// Size returns the tensor's bytes, or -1 if the type is unknown, the row
// length is not a multiple of the block size or the size overflows int64
// (TensorSize says which). It is never -1 for a TensorInfo read from a File.
func (ti TensorInfo) Size() int64 {
	n, err := TensorSize(ti.Type, ti.Dims)
	if err != nil {
		return -1
	}
	return n
}

// Limits bound what a reader accepts from an untrusted file. A zero field
// means its default (see DefaultLimits). Every length read from a file is
// checked against its limit and against the bytes left in the file before
// anything is allocated, so memory stays proportional to the file's real size
// and never exceeds what the limits allow.
type Limits struct {
	MaxStringLen     uint64 // bytes of one string (key, string value, tensor name); default 64 MiB
	MaxArrayLen      uint64 // elements of one array; default 2^24
	MaxKVs           uint64 // metadata key-value pairs; default 2^16
	MaxTensors       uint64 // tensors; default 2^20
	MaxDims          uint64 // dimensions of one tensor; default 4 (ggml's GGML_MAX_DIMS)
	MaxMetadataBytes uint64 // bytes of header, KVs and tensor infos together; default 256 MiB
	MaxArrayDepth    uint64 // nesting of arrays of arrays (1: no nesting); default 4
}

// DefaultLimits returns the limits Open uses. They admit every real model
// (Llama 3's 128,256-token vocabulary and 280,147 merges take about 10 MB of
// metadata) while bounding what a hostile file can make the reader allocate.
func DefaultLimits() Limits {
	return Limits{
		MaxStringLen:     64 << 20,
		MaxArrayLen:      1 << 24,
		MaxKVs:           1 << 16,
		MaxTensors:       1 << 20,
		MaxDims:          4,
		MaxMetadataBytes: 256 << 20,
		MaxArrayDepth:    4,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	set := func(p *uint64, def uint64) {
		if *p == 0 {
			*p = def
		}
	}
	set(&l.MaxStringLen, d.MaxStringLen)
	set(&l.MaxArrayLen, d.MaxArrayLen)
	set(&l.MaxKVs, d.MaxKVs)
	set(&l.MaxTensors, d.MaxTensors)
	set(&l.MaxDims, d.MaxDims)
	set(&l.MaxMetadataBytes, d.MaxMetadataBytes)
	set(&l.MaxArrayDepth, d.MaxArrayDepth)
	return l
}

// File is a parsed GGUF file: its metadata in memory, its tensor data left in
// the underlying io.ReaderAt and read on demand through TensorData. A File is
// safe for concurrent use once NewReader returns (if its ReaderAt is, as
// *os.File is). Its exported fields are the file's content; callers may read
// them but should not change them.
type File struct {
	Version    uint32       // 2 or 3
	Alignment  uint64       // data alignment (general.alignment or 32)
	DataOffset int64        // file offset of the data section
	Size       int64        // file size in bytes
	KVs        []KV         // metadata in file order
	Tensors    []TensorInfo // tensor infos in file order

	r       io.ReaderAt
	closer  io.Closer
	kvIdx   map[string]int
	tensIdx map[string]int
	kvAt    []int64 // file offset of each KV (its key length)
	tiAt    []int64 // file offset of each tensor info (its name length)
}

// KeyOffset returns the file offset where the key-value pair of key starts,
// or -1 when the key is absent or the File was not read from a file.
func (f *File) KeyOffset(key string) int64 {
	i, ok := f.kvIdx[key]
	if !ok || i >= len(f.kvAt) {
		return -1
	}
	return f.kvAt[i]
}

// TensorInfoOffset returns the file offset where the tensor info of the
// tensor called name starts, or -1.
func (f *File) TensorInfoOffset(name string) int64 {
	i, ok := f.tensIdx[name]
	if !ok || i >= len(f.tiAt) {
		return -1
	}
	return f.tiAt[i]
}

// Open opens and parses the GGUF file at path with DefaultLimits. The File
// owns the open file; Close closes it. On error nothing is left open. A path
// that is not a regular file (a directory, a FIFO, /dev/zero) is refused
// before it is opened, with an error that errors.Is(fileguard.ErrNotRegular).
func Open(path string) (*File, error) {
	fh, err := fileguard.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, err
	}
	f, err := NewReader(fh, st.Size(), DefaultLimits())
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f.closer = fh
	return f, nil
}

// Close closes the file opened by Open. For a File from NewReader it does
// nothing: the caller owns the ReaderAt. Close is idempotent.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	c := f.closer
	f.closer = nil
	return c.Close()
}

// NewReader parses the GGUF file of size bytes in r: header, metadata and
// tensor infos are read now and validated (see Limits and FormatError); the
// tensor data are read later through TensorData. The caller keeps ownership
// of r and must keep it open while the File is used.
func NewReader(r io.ReaderAt, size int64, lim Limits) (*File, error) {
	if size < 0 {
		return nil, fmt.Errorf("gguf: negative size %d", size)
	}
	lim = lim.withDefaults()
	end := size
	if lim.MaxMetadataBytes < uint64(end) {
		end = int64(lim.MaxMetadataBytes)
	}
	d := &decoder{
		br:   bufio.NewReaderSize(io.NewSectionReader(r, 0, end), 64<<10),
		size: size,
		end:  end,
		lim:  lim,
	}
	f := &File{Size: size, r: r, Alignment: DefaultAlignment}
	if err := d.readFile(f); err != nil {
		return nil, err
	}
	return f, nil
}

// decoder reads the metadata part of a file sequentially, tracking the offset.
type decoder struct {
	br      *bufio.Reader
	off     int64 // offset of the next byte br returns
	size    int64 // file size
	end     int64 // min(size, MaxMetadataBytes): metadata may not reach past it
	lim     Limits
	scratch []byte
	tiAt    []int64 // file offset of each tensor info's offset field
}

func (d *decoder) errAt(off int64, field, format string, args ...any) error {
	return &FormatError{Offset: off, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// remaining returns the bytes the metadata may still use.
func (d *decoder) remaining() uint64 { return uint64(d.end - d.off) }

// need checks that n more bytes of metadata exist before anything is read or allocated.
func (d *decoder) need(n uint64, field string) error {
	if n <= d.remaining() {
		return nil
	}
	if d.end < d.size {
		return d.errAt(d.off, field, "metadata would exceed the limit of %d bytes (Limits.MaxMetadataBytes)", d.lim.MaxMetadataBytes)
	}
	return d.errAt(d.off, field, "file truncated: %d bytes needed, %d left", n, d.remaining())
}

// read returns the next n bytes (n <= len of the scratch it grows to); the
// slice is valid until the next read.
func (d *decoder) read(n int, field string) ([]byte, error) {
	if err := d.need(uint64(n), field); err != nil {
		return nil, err
	}
	if cap(d.scratch) < n {
		d.scratch = make([]byte, n)
	}
	b := d.scratch[:n]
	if _, err := io.ReadFull(d.br, b); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, d.errAt(d.off, field, "file truncated while reading %d bytes", n)
		}
		return nil, err
	}
	d.off += int64(n)
	return b, nil
}

func (d *decoder) u32(field string) (uint32, error) {
	b, err := d.read(4, field)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (d *decoder) u64(field string) (uint64, error) {
	b, err := d.read(8, field)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// str reads a GGUF string: a uint64 length and that many bytes.
func (d *decoder) str(field string) (string, error) {
	n, err := d.strLen(field)
	if err != nil {
		return "", err
	}
	if n <= 1<<20 {
		b, err := d.read(int(n), field)
		if err != nil {
			return "", err
		}
		return string(b), nil
	}
	// Large strings are read in chunks into a builder that grows with what
	// really arrives.
	var sb strings.Builder
	for left := n; left > 0; {
		c := min(left, 1<<20)
		b, err := d.read(int(c), field)
		if err != nil {
			return "", err
		}
		sb.Write(b)
		left -= c
	}
	return sb.String(), nil
}

// strLen reads a string's length and checks it against the limit and the
// bytes left.
func (d *decoder) strLen(field string) (uint64, error) {
	start := d.off
	n, err := d.u64(field)
	if err != nil {
		return 0, err
	}
	if n > d.lim.MaxStringLen {
		return 0, d.errAt(start, field, "string length %d exceeds the limit of %d (Limits.MaxStringLen)", n, d.lim.MaxStringLen)
	}
	if err := d.need(n, field); err != nil {
		return 0, err
	}
	return n, nil
}

// strs reads n strings into one shared backing string: one allocation
// for the text instead of one per string (a vocabulary has 10^5 of them).
func (d *decoder) strs(n uint64, field string) ([]string, error) {
	ends := make([]int, n)
	var arena []byte
	for i := range ends {
		k, err := d.strLen(field)
		if err != nil {
			return nil, err
		}
		// Grow with what really arrives, in chunks of at most 1 MiB.
		for left := k; left > 0; {
			c := min(left, 1<<20)
			b, err := d.read(int(c), field)
			if err != nil {
				return nil, err
			}
			arena = append(arena, b...)
			left -= c
		}
		ends[i] = len(arena)
	}
	all := string(arena)
	out := make([]string, n)
	start := 0
	for i, end := range ends {
		out[i] = all[start:end]
		start = end
	}
	return out, nil
}

func (d *decoder) readFile(f *File) error {
	b, err := d.read(4, "header.magic")
	if err != nil {
		return err
	}
	if string(b) != Magic {
		return d.errAt(0, "header.magic", "bad magic %q, want %q", b, Magic)
	}
	if f.Version, err = d.u32("header.version"); err != nil {
		return err
	}
	switch v := f.Version; {
	case v == 2 || v == 3:
	case v == 1:
		return d.errAt(4, "header.version", "GGUF version 1 is not supported")
	case bits.ReverseBytes32(v) == 2 || bits.ReverseBytes32(v) == 3:
		return d.errAt(4, "header.version", "big-endian GGUF (version %d byte-swapped) is not supported", bits.ReverseBytes32(v))
	default:
		return d.errAt(4, "header.version", "unsupported GGUF version %d (want 2 or 3)", v)
	}
	nTensors, err := d.u64("header.tensor_count")
	if err != nil {
		return err
	}
	nKV, err := d.u64("header.kv_count")
	if err != nil {
		return err
	}
	// Smallest encodings: a KV is a key length, a type and one byte; a tensor
	// info is a name length, n_dims, type and offset.
	const minKV, minTensorInfo = 8 + 4 + 1, 8 + 4 + 4 + 8
	if nKV > d.lim.MaxKVs {
		return d.errAt(16, "header.kv_count", "%d key-value pairs exceed the limit of %d (Limits.MaxKVs)", nKV, d.lim.MaxKVs)
	}
	if nTensors > d.lim.MaxTensors {
		return d.errAt(8, "header.tensor_count", "%d tensors exceed the limit of %d (Limits.MaxTensors)", nTensors, d.lim.MaxTensors)
	}
	if nKV > d.remaining()/minKV {
		return d.errAt(16, "header.kv_count", "%d key-value pairs cannot fit in the %d bytes left (truncated or corrupt)", nKV, d.remaining())
	}
	if nTensors > (d.remaining()-nKV*minKV)/minTensorInfo {
		return d.errAt(8, "header.tensor_count", "%d tensors cannot fit in the %d bytes left (truncated or corrupt)", nTensors, d.remaining())
	}

	f.KVs = make([]KV, 0, nKV)
	f.kvIdx = make(map[string]int, nKV)
	for i := range nKV {
		start := d.off
		field := "kv[" + strconv.FormatUint(i, 10) + "]"
		key, err := d.str(field + ".key")
		if err != nil {
			return err
		}
		field = "kv[" + strconv.Quote(key) + "]"
		if j, dup := f.kvIdx[key]; dup {
			return d.errAt(start, field+".key", "duplicate key (also kv[%d])", j)
		}
		vt, err := d.u32(field + ".type")
		if err != nil {
			return err
		}
		v, err := d.value(ValueType(vt), field+".value", d.off-4, 1)
		if err != nil {
			return err
		}
		if key == KeyAlignment {
			if v.Type != ValueUint32 {
				return d.errAt(start, field, "%s must be UINT32, not %s", KeyAlignment, v.TypeName())
			}
			a := v.V.(uint32)
			if a == 0 || a&(a-1) != 0 {
				return d.errAt(start, field, "alignment %d is not a power of two", a)
			}
			f.Alignment = uint64(a)
		}
		f.kvIdx[key] = len(f.KVs)
		f.KVs = append(f.KVs, KV{Key: key, Value: v})
		f.kvAt = append(f.kvAt, start)
	}

	f.Tensors = make([]TensorInfo, 0, nTensors)
	f.tensIdx = make(map[string]int, nTensors)
	for i := range nTensors {
		start := d.off
		field := "tensor[" + strconv.FormatUint(i, 10) + "]"
		name, err := d.str(field + ".name")
		if err != nil {
			return err
		}
		field = "tensor[" + strconv.Quote(name) + "]"
		if j, dup := f.tensIdx[name]; dup {
			return d.errAt(start, field+".name", "duplicate tensor name (also tensor[%d])", j)
		}
		dimsAt := d.off
		nDims, err := d.u32(field + ".n_dims")
		if err != nil {
			return err
		}
		if uint64(nDims) > d.lim.MaxDims {
			return d.errAt(dimsAt, field+".n_dims", "%d dimensions exceed the limit of %d (Limits.MaxDims)", nDims, d.lim.MaxDims)
		}
		if err := d.need(uint64(nDims)*8, field+".dims"); err != nil {
			return err
		}
		dims := make([]uint64, nDims)
		for j := range dims {
			if dims[j], err = d.u64(field + ".dims"); err != nil {
				return err
			}
			if dims[j] > math.MaxInt64 {
				return d.errAt(d.off-8, field+".dims", "dimension %d is %d, more than int64 allows", j, dims[j])
			}
		}
		typeAt := d.off
		t, err := d.u32(field + ".type")
		if err != nil {
			return err
		}
		if !Type(t).Valid() {
			return d.errAt(typeAt, field+".type", "unknown ggml tensor type id %d", t)
		}
		if _, err := TensorSize(Type(t), dims); err != nil {
			return d.errAt(dimsAt, field+".dims", "shape %v of %s: %v", dims, Type(t), strings.TrimPrefix(err.Error(), "gguf: "))
		}
		d.tiAt = append(d.tiAt, d.off)
		offset, err := d.u64(field + ".offset")
		if err != nil {
			return err
		}
		f.tensIdx[name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, TensorInfo{Name: name, Dims: dims, Type: Type(t), Offset: offset})
		f.tiAt = append(f.tiAt, start)
	}
	return d.checkData(f)
}

// checkData places the data section and checks every tensor's extent.
func (d *decoder) checkData(f *File) error {
	metaEnd := uint64(d.off)
	dataOff := (metaEnd + f.Alignment - 1) &^ (f.Alignment - 1)
	if dataOff < metaEnd || dataOff > math.MaxInt64 {
		return d.errAt(d.off, "data", "data offset overflows")
	}
	f.DataOffset = int64(dataOff)
	type extent struct{ start, end uint64 }
	ext := make([]extent, 0, len(f.Tensors))
	for i, ti := range f.Tensors {
		field := "tensor[" + strconv.Quote(ti.Name) + "].offset"
		at := d.tiAt[i]
		if ti.Offset%f.Alignment != 0 {
			return d.errAt(at, field, "offset %d is not a multiple of the alignment %d", ti.Offset, f.Alignment)
		}
		size := uint64(ti.Size()) // validated when read
		start, c1 := bits.Add64(dataOff, ti.Offset, 0)
		stop, c2 := bits.Add64(start, size, 0)
		if c1 != 0 || c2 != 0 || stop > uint64(f.Size) {
			return d.errAt(at, field, "data [%d, +%d) of %d bytes extends past the end of the %d-byte file", ti.Offset, size, size, f.Size)
		}
		if size > 0 {
			ext = append(ext, extent{start, stop})
		}
	}
	slices.SortFunc(ext, func(a, b extent) int {
		switch {
		case a.start < b.start:
			return -1
		case a.start > b.start:
			return 1
		}
		return 0
	})
	for i := 1; i < len(ext); i++ {
		if ext[i].start < ext[i-1].end {
			return d.errAt(int64(ext[i].start), "data", "tensor data overlap at file offset %d", ext[i].start)
		}
	}
	return nil
}

// value reads a value of type t. at is the offset of its type field (for
// errors); depth is the array nesting level (1 outside any array).
func (d *decoder) value(t ValueType, field string, at int64, depth uint64) (Value, error) {
	if !t.Valid() {
		return Value{}, d.errAt(at, field, "unknown value type %d", uint32(t))
	}
	if t == ValueArray {
		return d.array(field, depth)
	}
	if t == ValueString {
		s, err := d.str(field)
		return String(s), err
	}
	b, err := d.read(fixedSize[t], field)
	if err != nil {
		return Value{}, err
	}
	switch t {
	case ValueUint8:
		return Uint8(b[0]), nil
	case ValueInt8:
		return Int8(int8(b[0])), nil
	case ValueUint16:
		return Uint16(binary.LittleEndian.Uint16(b)), nil
	case ValueInt16:
		return Int16(int16(binary.LittleEndian.Uint16(b))), nil
	case ValueUint32:
		return Uint32(binary.LittleEndian.Uint32(b)), nil
	case ValueInt32:
		return Int32(int32(binary.LittleEndian.Uint32(b))), nil
	case ValueFloat32:
		return Float32(math.Float32frombits(binary.LittleEndian.Uint32(b))), nil
	case ValueBool:
		if b[0] > 1 {
			return Value{}, d.errAt(d.off-1, field, "bool byte is %d, not 0 or 1", b[0])
		}
		return Bool(b[0] == 1), nil
	case ValueUint64:
		return Uint64(binary.LittleEndian.Uint64(b)), nil
	case ValueInt64:
		return Int64(int64(binary.LittleEndian.Uint64(b))), nil
	default: // ValueFloat64
		return Float64(math.Float64frombits(binary.LittleEndian.Uint64(b))), nil
	}
}

// array reads an array: element type, count, elements.
func (d *decoder) array(field string, depth uint64) (Value, error) {
	if depth > d.lim.MaxArrayDepth {
		return Value{}, d.errAt(d.off, field, "arrays nested deeper than %d (Limits.MaxArrayDepth)", d.lim.MaxArrayDepth)
	}
	typeAt := d.off
	et, err := d.u32(field + ".elem_type")
	if err != nil {
		return Value{}, err
	}
	elem := ValueType(et)
	if !elem.Valid() {
		return Value{}, d.errAt(typeAt, field+".elem_type", "unknown array element type %d", et)
	}
	countAt := d.off
	n, err := d.u64(field + ".count")
	if err != nil {
		return Value{}, err
	}
	if n > d.lim.MaxArrayLen {
		return Value{}, d.errAt(countAt, field+".count", "array of %d elements exceeds the limit of %d (Limits.MaxArrayLen)", n, d.lim.MaxArrayLen)
	}
	minElem := uint64(fixedSize[elem])
	switch elem {
	case ValueString:
		minElem = 8
	case ValueArray:
		minElem = 12
	}
	if n > d.remaining()/minElem {
		return Value{}, d.errAt(countAt, field+".count", "array of %d %s elements cannot fit in the %d bytes left", n, elem, d.remaining())
	}
	switch elem {
	case ValueString:
		s, err := d.strs(n, field)
		if err != nil {
			return Value{}, err
		}
		return Strings(s), nil
	case ValueArray:
		s := make([]Value, n)
		for i := range s {
			if s[i], err = d.array(field+"["+strconv.Itoa(i)+"]", depth+1); err != nil {
				return Value{}, err
			}
		}
		return Arrays(s), nil
	case ValueBool:
		s := make([]bool, n)
		err := d.fixed(n, 1, field, func(i int, at int64, b []byte) error {
			if b[0] > 1 {
				return d.errAt(at, field, "bool byte %d of element %d is not 0 or 1", b[0], i)
			}
			s[i] = b[0] == 1
			return nil
		})
		return Bools(s), err
	}
	le := binary.LittleEndian
	var v Value
	var set func(i int, b []byte)
	switch elem {
	case ValueUint8:
		s := make([]uint8, n)
		v, set = Uint8s(s), func(i int, b []byte) { s[i] = b[0] }
	case ValueInt8:
		s := make([]int8, n)
		v, set = Int8s(s), func(i int, b []byte) { s[i] = int8(b[0]) }
	case ValueUint16:
		s := make([]uint16, n)
		v, set = Uint16s(s), func(i int, b []byte) { s[i] = le.Uint16(b) }
	case ValueInt16:
		s := make([]int16, n)
		v, set = Int16s(s), func(i int, b []byte) { s[i] = int16(le.Uint16(b)) }
	case ValueUint32:
		s := make([]uint32, n)
		v, set = Uint32s(s), func(i int, b []byte) { s[i] = le.Uint32(b) }
	case ValueInt32:
		s := make([]int32, n)
		v, set = Int32s(s), func(i int, b []byte) { s[i] = int32(le.Uint32(b)) }
	case ValueFloat32:
		s := make([]float32, n)
		v, set = Float32s(s), func(i int, b []byte) { s[i] = math.Float32frombits(le.Uint32(b)) }
	case ValueUint64:
		s := make([]uint64, n)
		v, set = Uint64s(s), func(i int, b []byte) { s[i] = le.Uint64(b) }
	case ValueInt64:
		s := make([]int64, n)
		v, set = Int64s(s), func(i int, b []byte) { s[i] = int64(le.Uint64(b)) }
	default: // ValueFloat64
		s := make([]float64, n)
		v, set = Float64s(s), func(i int, b []byte) { s[i] = math.Float64frombits(le.Uint64(b)) }
	}
	err = d.fixed(n, fixedSize[elem], field, func(i int, _ int64, b []byte) error { set(i, b); return nil })
	return v, err
}

// fixed reads n elements of size bytes each in chunks, calling set for each.
// at is the element's file offset.
func (d *decoder) fixed(n uint64, size int, field string, set func(i int, at int64, b []byte) error) error {
	const chunk = 64 << 10
	per := chunk / size
	for i := 0; uint64(i) < n; {
		k := min(int(n-uint64(i)), per)
		at := d.off
		b, err := d.read(k*size, field)
		if err != nil {
			return err
		}
		for j := range k {
			if err := set(i+j, at+int64(j*size), b[j*size:(j+1)*size]); err != nil {
				return err
			}
		}
		i += k
	}
	return nil
}
