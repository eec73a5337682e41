package gguf

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/sattva/sattva/internal/atomicfile"
)

// maxTensorName is ggml's GGML_MAX_NAME: llama.cpp refuses names of 64 bytes or more.
const maxTensorName = 64

// maxDims is ggml's GGML_MAX_DIMS.
const maxDims = 4

// WriteTensor is one tensor to write.
type WriteTensor struct {
	Name string
	Dims []uint64 // GGUF order: Dims[0] is the fastest-varying dimension
	Type Type
	// Data writes exactly the tensor's bytes (TensorSize(Type, Dims)). It may
	// be called from any goroutine, concurrently with other tensors' Data.
	Data io.WriterTo
}

// Spec is the content of a GGUF file to write. The writer keeps the order of
// KVs and Tensors as given and never modifies them.
type Spec struct {
	Version   uint32 // 2 or 3; 0 means 3
	Alignment uint32 // power of two; 0 means general.alignment from KVs, else 32
	KVs       []KV
	Tensors   []WriteTensor
}

// WriteOptions tune Write and WriteFile.
type WriteOptions struct {
	Workers int // tensors written at once; 0 means GOMAXPROCS
	// Progress, if set, is called with bytes of the file written so far and
	// the file's total size. Calls are serialized but may come from any goroutine.
	Progress func(done, total int64)
}

// Layout is where Write puts everything: the offset of the data section, the
// offset of each tensor relative to it (as in the tensor infos) and the file size.
type Layout struct {
	Alignment  uint64
	DataOffset int64
	Offsets    []uint64
	Size       int64
}

// WriteFile writes s to path atomically: into a temporary file beside path,
// synced and renamed over path only when everything succeeded. On error or
// cancellation nothing is left under path or beside it.
func WriteFile(ctx context.Context, path string, s *Spec, o WriteOptions) error {
	f, err := atomicfile.CreateContext(ctx, path, 0o644)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := Write(ctx, f, s, o); err != nil {
		return err
	}
	return f.Commit()
}

// Write writes s to w: the header, KVs and tensor infos from offset 0, then
// each tensor at its precomputed aligned offset, with Workers tensors written
// in parallel through io.NewOffsetWriter, and zero padding after each one.
// Memory use does not depend on tensor sizes. It returns the file size; bytes
// of w beyond it are left as they were, so w should start empty. It stops at
// the first error or when ctx is done. w is not closed or synced.
func Write(ctx context.Context, w io.WriterAt, s *Spec, o WriteOptions) (int64, error) {
	meta, lay, err := encodeMeta(s)
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	prog := newProgress(o.Progress, lay.Size)
	if _, err := w.WriteAt(meta, 0); err != nil {
		return 0, err
	}
	prog.add(int64(len(meta)))

	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for i := range s.Tensors {
		t := &s.Tensors[i]
		start := lay.DataOffset + int64(lay.Offsets[i])
		size, _ := TensorSize(t.Type, t.Dims) // validated by encodeMeta
		end := lay.Size
		if i+1 < len(s.Tensors) {
			end = lay.DataOffset + int64(lay.Offsets[i+1])
		}
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			return writeTensor(gctx, w, t, start, size, end, prog)
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return lay.Size, nil
}

// writeTensor writes one tensor's data at start and zero padding up to end.
func writeTensor(ctx context.Context, w io.WriterAt, t *WriteTensor, start, size, end int64, prog *progress) error {
	if t.Data == nil {
		return fmt.Errorf("gguf: tensor %q has no Data", t.Name)
	}
	lw := &tensorWriter{ctx: ctx, w: io.NewOffsetWriter(w, start), left: size, prog: prog}
	if _, err := writeData(t, lw); err != nil {
		if errors.Is(err, errTooMuch) {
			return fmt.Errorf("gguf: tensor %q: Data wrote more than its %d bytes", t.Name, size)
		}
		return fmt.Errorf("gguf: tensor %q: %w", t.Name, err)
	}
	if lw.left != 0 {
		return fmt.Errorf("gguf: tensor %q: Data wrote %d bytes, want %d", t.Name, size-lw.left, size)
	}
	if pad := end - start - size; pad > 0 {
		if _, err := w.WriteAt(make([]byte, pad), start+size); err != nil {
			return err
		}
		prog.add(pad)
	}
	return nil
}

var errTooMuch = errors.New("gguf: tensor data longer than its size")

// writeData calls t.Data.WriteTo on a worker goroutine. A panic there (a
// source whose shape disagrees with its Dims, say) would kill the process
// and leave the temporary file behind; it becomes this tensor's error, so
// the write fails and cleans up like any other.
func writeData(t *WriteTensor, w io.Writer) (n int64, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("tensor data source failed: %v", r)
		}
	}()
	return t.Data.WriteTo(w)
}

// tensorWriter passes at most left bytes to w, checking ctx and reporting progress.
type tensorWriter struct {
	ctx  context.Context
	w    io.Writer
	left int64
	prog *progress
}

func (t *tensorWriter) Write(p []byte) (int, error) {
	if err := t.ctx.Err(); err != nil {
		return 0, err
	}
	if int64(len(p)) > t.left {
		return 0, errTooMuch
	}
	n, err := t.w.Write(p)
	t.left -= int64(n)
	t.prog.add(int64(n))
	return n, err
}

// progress serializes calls of the user's callback.
type progress struct {
	fn    func(done, total int64)
	total int64
	done  atomic.Int64
	mu    sync.Mutex
}

func newProgress(fn func(done, total int64), total int64) *progress {
	return &progress{fn: fn, total: total}
}

func (p *progress) add(n int64) {
	if p.fn == nil || n == 0 {
		return
	}
	p.done.Add(n)
	p.mu.Lock()
	p.fn(p.done.Load(), p.total)
	p.mu.Unlock()
}

// PlanLayout validates s and returns where Write would put everything,
// without writing.
func PlanLayout(s *Spec) (*Layout, error) {
	_, lay, err := encodeMeta(s)
	return lay, err
}

// encodeMeta validates s and encodes its header, KVs and tensor infos with
// the padding that follows them.
func encodeMeta(s *Spec) ([]byte, *Layout, error) {
	version := s.Version
	if version == 0 {
		version = 3
	}
	if version != 2 && version != 3 {
		return nil, nil, fmt.Errorf("gguf: cannot write version %d (want 2 or 3)", version)
	}
	align := uint64(DefaultAlignment)
	kvAlign := false
	seen := make(map[string]bool, len(s.KVs))
	for i, kv := range s.KVs {
		if seen[kv.Key] {
			return nil, nil, fmt.Errorf("gguf: duplicate key %q (KVs[%d])", kv.Key, i)
		}
		seen[kv.Key] = true
		if err := kv.Value.check(); err != nil {
			return nil, nil, fmt.Errorf("gguf: key %q: %w", kv.Key, err)
		}
		if kv.Key == KeyAlignment {
			a, ok := kv.Value.V.(uint32)
			if kv.Value.Type != ValueUint32 || !ok {
				return nil, nil, fmt.Errorf("gguf: %s must be UINT32, not %s", KeyAlignment, kv.Value.TypeName())
			}
			align, kvAlign = uint64(a), true
		}
	}
	kvs := s.KVs
	if s.Alignment != 0 {
		if kvAlign && uint64(s.Alignment) != align {
			return nil, nil, fmt.Errorf("gguf: Spec.Alignment %d disagrees with %s %d", s.Alignment, KeyAlignment, align)
		}
		if !kvAlign && s.Alignment != DefaultAlignment {
			// The reader needs the KV to find the alignment: append it,
			// on a copy so that the caller's slice is untouched.
			kvs = append(kvs[:len(kvs):len(kvs)], KV{Key: KeyAlignment, Value: Uint32(s.Alignment)})
		}
		align = uint64(s.Alignment)
	}
	if align == 0 || align&(align-1) != 0 {
		return nil, nil, fmt.Errorf("gguf: alignment %d is not a power of two", align)
	}

	e := &metaEncoder{}
	if err := e.header(version, uint64(len(s.Tensors)), uint64(len(kvs))); err != nil {
		return nil, nil, err
	}
	for _, kv := range kvs {
		if err := e.kv(kv); err != nil {
			return nil, nil, err
		}
	}
	lay := &Layout{Alignment: align, Offsets: make([]uint64, len(s.Tensors))}
	names := make(map[string]bool, len(s.Tensors))
	var off uint64
	for i, t := range s.Tensors {
		if names[t.Name] {
			return nil, nil, fmt.Errorf("gguf: duplicate tensor name %q (Tensors[%d])", t.Name, i)
		}
		names[t.Name] = true
		if len(t.Name) >= maxTensorName {
			return nil, nil, fmt.Errorf("gguf: tensor name %q is %d bytes; llama.cpp allows at most %d", t.Name, len(t.Name), maxTensorName-1)
		}
		if len(t.Dims) > maxDims {
			return nil, nil, fmt.Errorf("gguf: tensor %q has %d dimensions; ggml allows at most %d", t.Name, len(t.Dims), maxDims)
		}
		size, err := TensorSize(t.Type, t.Dims)
		if err != nil {
			return nil, nil, fmt.Errorf("gguf: tensor %q: %w", t.Name, err)
		}
		lay.Offsets[i] = off
		if err := e.tensorInfo(TensorInfo{Name: t.Name, Dims: t.Dims, Type: t.Type, Offset: off}); err != nil {
			return nil, nil, err
		}
		padded := (uint64(size) + align - 1) &^ (align - 1)
		if off+padded < off || off+padded > math.MaxInt64 {
			return nil, nil, errors.New("gguf: total tensor size overflows int64")
		}
		off += padded
	}
	meta, err := e.finish(align)
	if err != nil {
		return nil, nil, err
	}
	lay.DataOffset = int64(len(meta))
	if uint64(lay.DataOffset)+off > math.MaxInt64 {
		return nil, nil, errors.New("gguf: file size overflows int64")
	}
	lay.Size = lay.DataOffset + int64(off)
	return meta, lay, nil
}

// writeState is the metaEncoder's position in the format's fixed order:
// header, then KVs, then tensor infos, then (padding and) data.
type writeState int

const (
	stateEmpty writeState = iota
	stateHeader
	stateKV
	stateTensorInfo
	stateData
)

// metaEncoder encodes the metadata part of a file in the order the format
// requires, refusing any step out of order or beyond the counts in the header.
type metaEncoder struct {
	buf        bytes.Buffer
	state      writeState
	nKV, nTI   uint64
	kvs, infos uint64
}

func (e *metaEncoder) header(version uint32, nTensors, nKV uint64) error {
	if e.state != stateEmpty {
		return errors.New("gguf: header written twice")
	}
	e.buf.WriteString(Magic)
	e.u32(version)
	e.u64(nTensors)
	e.u64(nKV)
	e.nKV, e.nTI = nKV, nTensors
	e.state = stateHeader
	return nil
}

func (e *metaEncoder) kv(kv KV) error {
	if e.state != stateHeader && e.state != stateKV {
		return errors.New("gguf: KV written out of order")
	}
	if e.kvs == e.nKV {
		return errors.New("gguf: more KVs than the header says")
	}
	e.str(kv.Key)
	e.u32(uint32(kv.Value.Type))
	e.value(kv.Value)
	e.kvs++
	e.state = stateKV
	return nil
}

func (e *metaEncoder) tensorInfo(ti TensorInfo) error {
	if e.kvs != e.nKV || (e.state != stateHeader && e.state != stateKV && e.state != stateTensorInfo) {
		return errors.New("gguf: tensor info written out of order")
	}
	if e.infos == e.nTI {
		return errors.New("gguf: more tensor infos than the header says")
	}
	e.str(ti.Name)
	e.u32(uint32(len(ti.Dims)))
	for _, d := range ti.Dims {
		e.u64(d)
	}
	e.u32(uint32(ti.Type))
	e.u64(ti.Offset)
	e.infos++
	e.state = stateTensorInfo
	return nil
}

// finish pads to the alignment and returns the encoded metadata.
func (e *metaEncoder) finish(align uint64) ([]byte, error) {
	if e.state == stateEmpty || e.kvs != e.nKV || e.infos != e.nTI {
		return nil, errors.New("gguf: metadata incomplete")
	}
	for uint64(e.buf.Len())%align != 0 {
		e.buf.WriteByte(0)
	}
	e.state = stateData
	return e.buf.Bytes(), nil
}

func (e *metaEncoder) u32(v uint32) { e.buf.Write(binary.LittleEndian.AppendUint32(nil, v)) }
func (e *metaEncoder) u64(v uint64) { e.buf.Write(binary.LittleEndian.AppendUint64(nil, v)) }
func (e *metaEncoder) str(s string) {
	e.u64(uint64(len(s)))
	e.buf.WriteString(s)
}

// value encodes v (already checked) without its type tag.
func (e *metaEncoder) value(v Value) {
	le := binary.LittleEndian
	b := e.buf.AvailableBuffer()
	switch x := v.V.(type) {
	case uint8:
		b = append(b, x)
	case int8:
		b = append(b, byte(x))
	case uint16:
		b = le.AppendUint16(b, x)
	case int16:
		b = le.AppendUint16(b, uint16(x))
	case uint32:
		b = le.AppendUint32(b, x)
	case int32:
		b = le.AppendUint32(b, uint32(x))
	case uint64:
		b = le.AppendUint64(b, x)
	case int64:
		b = le.AppendUint64(b, uint64(x))
	case float32:
		b = le.AppendUint32(b, math.Float32bits(x))
	case float64:
		b = le.AppendUint64(b, math.Float64bits(x))
	case bool:
		if x {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	case string:
		e.str(x)
		return
	default:
		e.array(v)
		return
	}
	e.buf.Write(b)
}

func (e *metaEncoder) array(v Value) {
	e.u32(uint32(v.Elem))
	e.u64(uint64(v.Len()))
	switch s := v.V.(type) {
	case []string:
		for _, x := range s {
			e.str(x)
		}
	case []Value:
		for _, x := range s {
			e.array(x)
		}
	case []uint8:
		e.buf.Write(s)
	case []int8:
		appendEach(e, s, func(b []byte, x int8) []byte { return append(b, byte(x)) })
	case []uint16:
		appendEach(e, s, binary.LittleEndian.AppendUint16)
	case []int16:
		appendEach(e, s, func(b []byte, x int16) []byte { return binary.LittleEndian.AppendUint16(b, uint16(x)) })
	case []uint32:
		appendEach(e, s, binary.LittleEndian.AppendUint32)
	case []int32:
		appendEach(e, s, func(b []byte, x int32) []byte { return binary.LittleEndian.AppendUint32(b, uint32(x)) })
	case []uint64:
		appendEach(e, s, binary.LittleEndian.AppendUint64)
	case []int64:
		appendEach(e, s, func(b []byte, x int64) []byte { return binary.LittleEndian.AppendUint64(b, uint64(x)) })
	case []float32:
		appendEach(e, s, func(b []byte, x float32) []byte { return binary.LittleEndian.AppendUint32(b, math.Float32bits(x)) })
	case []float64:
		appendEach(e, s, func(b []byte, x float64) []byte { return binary.LittleEndian.AppendUint64(b, math.Float64bits(x)) })
	case []bool:
		appendEach(e, s, func(b []byte, x bool) []byte {
			if x {
				return append(b, 1)
			}
			return append(b, 0)
		})
	}
}

// appendEach encodes the elements of s with enc, in 64 KiB pieces.
func appendEach[T any](e *metaEncoder, s []T, enc func([]byte, T) []byte) {
	b := make([]byte, 0, 64<<10)
	for _, x := range s {
		b = enc(b, x)
		if len(b) >= 64<<10-8 {
			e.buf.Write(b)
			b = b[:0]
		}
	}
	e.buf.Write(b)
}

// BytesData returns an io.WriterTo that writes b. b is not copied: the
// caller must not change it until the write is done.
func BytesData(b []byte) io.WriterTo { return bytesData(b) }

type bytesData []byte

func (b bytesData) WriteTo(w io.Writer) (int64, error) {
	const chunk = 8 << 20 // so that cancellation and progress are seen during big tensors
	var n int64
	for p := []byte(b); len(p) > 0; {
		k, err := w.Write(p[:min(len(p), chunk)])
		n += int64(k)
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}

// SectionData returns an io.WriterTo that copies the bytes of sr (for example
// a File's TensorData) through a 1 MiB buffer. Each WriteTo reads the whole
// section from its start, so the result may be used again and concurrently.
func SectionData(sr *io.SectionReader) io.WriterTo {
	r, off, n := sr.Outer()
	return sectionData{r: r, off: off, n: n}
}

type sectionData struct {
	r      io.ReaderAt
	off, n int64
}

// copyBuffers holds the 1 MiB buffers of SectionData, so that copying a
// model of many tensors allocates a few buffers, not one per tensor.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

func (s sectionData) WriteTo(w io.Writer) (int64, error) {
	if s.n <= 0 {
		return 0, nil
	}
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	return io.CopyBuffer(struct{ io.Writer }{w}, io.NewSectionReader(s.r, s.off, s.n), *bp)
}

// Spec returns a Spec that writes f again: its version, alignment, a copy of
// its KV list and its tensors, whose Data read from f (so f must stay open
// until the write is done). Written with Write, a file laid out canonically
// (as llama.cpp's and gguf-py's writers do) comes out byte for byte the same.
func (f *File) Spec() *Spec {
	s := &Spec{
		Version:   f.Version,
		Alignment: uint32(f.Alignment),
		KVs:       append([]KV(nil), f.KVs...),
		Tensors:   make([]WriteTensor, len(f.Tensors)),
	}
	for i, ti := range f.Tensors {
		s.Tensors[i] = WriteTensor{Name: ti.Name, Dims: ti.Dims, Type: ti.Type, Data: SectionData(f.TensorData(ti))}
	}
	return s
}

// SetKV sets key to v in s: in place when the key exists, else appended. It
// replaces s.KVs with a new slice rather than writing into the old one, so
// that a slice shared with a File or a caller is left alone. Setting
// general.alignment also sets s.Alignment.
func (s *Spec) SetKV(key string, v Value) {
	kvs := slices.Clone(s.KVs)
	i := slices.IndexFunc(kvs, func(kv KV) bool { return kv.Key == key })
	if i >= 0 {
		kvs[i].Value = v
	} else {
		kvs = append(kvs, KV{Key: key, Value: v})
	}
	s.KVs = kvs
	if a, ok := v.V.(uint32); key == KeyAlignment && ok && v.Type == ValueUint32 {
		s.Alignment = a
	}
}

// DeleteKV removes key from s (on a new slice, as SetKV) and reports whether it was there.
func (s *Spec) DeleteKV(key string) bool {
	i := slices.IndexFunc(s.KVs, func(kv KV) bool { return kv.Key == key })
	if i < 0 {
		return false
	}
	s.KVs = slices.Delete(slices.Clone(s.KVs), i, i+1)
	if key == KeyAlignment {
		s.Alignment = 0
	}
	return true
}

// Rewrite writes a copy of the GGUF file at in to out after edit has changed
// its Spec (edit may be nil). The copy is atomic: out, which may be in
// itself, is replaced only once the new file is complete and synced; on any
// error it is untouched. The new file keeps in's permissions.
func Rewrite(ctx context.Context, in, out string, edit func(*Spec) error, o WriteOptions) error {
	f, err := Open(in)
	if err != nil {
		return err
	}
	defer f.Close()
	perm := os.FileMode(0o644)
	if st, err := os.Stat(in); err == nil {
		perm = st.Mode().Perm()
	}
	s := f.Spec()
	if edit != nil {
		if err := edit(s); err != nil {
			return err
		}
	}
	af, err := atomicfile.CreateContext(ctx, out, perm)
	if err != nil {
		return err
	}
	defer af.Abort()
	if _, err := Write(ctx, af, s, o); err != nil {
		return err
	}
	// Close the source before the rename: on Windows an open file cannot be replaced.
	if err := f.Close(); err != nil {
		return err
	}
	return af.Commit()
}

// Compile-time checks.
var (
	_ io.WriterTo = bytesData(nil)
	_ io.WriterTo = sectionData{}
	_ io.Writer   = (*tensorWriter)(nil)
)
