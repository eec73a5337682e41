package quantize

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime"
	"slices"
	"sync"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/half"
)

// qntVersion is GGML_QNT_VERSION, written as general.quantization_version.
const qntVersion = 2

// Options control QuantizeFile and QuantizeSpec. The zero value is
// llama-quantize's defaults.
type Options struct {
	Threads int // goroutines quantizing rows; 0 means GOMAXPROCS
	PlanOptions
	AllowRequantize bool     // accept already quantized input tensors (they are dequantized first)
	IMatrix         *IMatrix // importance matrix, or nil
	IMatrixPath     string   // recorded as quantize.imatrix.file when IMatrix is set
	// ExtraKVs are appended to the metadata after llama.cpp's own keys (each
	// replaces an earlier key of the same name).
	ExtraKVs []gguf.KV
	// Progress, if set, is called with bytes of the output file written so far
	// and its total size.
	Progress func(done, total int64)
	Logger   *slog.Logger // per-tensor decisions at Debug level; nil discards
}

// Summary describes a finished quantization.
type Summary struct {
	FileType    gguf.FileType
	Tensors     int
	Quantized   int // tensors whose data was converted
	Fallbacks   int // tensors that got a fallback type (rows not a multiple of 256)
	Params      int64
	BytesBefore int64 // tensor data of the input (as llama.cpp reports "model size")
	BytesAfter  int64 // tensor data of the output ("quant size")
	FileSize    int64 // bytes of the output file
	InputSize   int64 // bytes of the input file (0 when not from a file)
	TypeCounts  map[gguf.Type]int
	TensorPlans []TensorPlan
}

// BitsPerWeight is the output's tensor data in bits per parameter.
func (s *Summary) BitsPerWeight() float64 {
	if s.Params == 0 {
		return 0
	}
	return float64(s.BytesAfter) * 8 / float64(s.Params)
}

// InvalidDataError is a tensor with NaN or infinite values, which llama.cpp
// refuses to quantize ("tensor '…' has invalid data").
type InvalidDataError struct {
	Tensor string
	Index  int64 // element index of the first bad value
	Value  float32
}

func (e *InvalidDataError) Error() string {
	return fmt.Sprintf("quantize: tensor %q has invalid data: %v at element %d", e.Tensor, e.Value, e.Index)
}

// InvalidInput marks the error as a problem with the input file.
func (e *InvalidDataError) InvalidInput() bool { return true }

// InputError is a tensor of the input file that the requested quantization
// cannot take (already quantized without AllowRequantize, rows that no type
// of the plan can hold): a problem with the input, as llama.cpp's quantizer
// reports it, whichever engine ran.
type InputError struct {
	Tensor string
	Msg    string
}

func (e *InputError) Error() string { return "quantize: " + e.Msg }

// InvalidInput marks the error as a problem with the input file (exit 3).
func (e *InputError) InvalidInput() bool { return true }

// QuantizeFile writes a quantized copy of the GGUF model in to out
// (atomically), making the same per-tensor choices and the same bytes as
// llama.cpp's llama_model_quantize with the same options.
func QuantizeFile(ctx context.Context, in, out string, ft gguf.FileType, o Options) (*Summary, error) {
	f, err := gguf.Open(in)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	src := f.Spec()
	for i, ti := range f.Tensors {
		src.Tensors[i].Data = sectionSource{f.TensorData(ti)}
	}
	spec, sum, err := QuantizeSpec(src, ft, o)
	if err != nil {
		return nil, err
	}
	sum.InputSize = f.Size
	if err := gguf.WriteFile(ctx, out, spec, gguf.WriteOptions{Workers: 2, Progress: o.Progress}); err != nil {
		return nil, err
	}
	if st, err := os.Stat(out); err == nil {
		sum.FileSize = st.Size()
	}
	return sum, nil
}

// sectionSource is a tensor's bytes in a file; QuantizeSpec reads it
// directly instead of through a pipe.
type sectionSource struct{ sr *io.SectionReader }

func (s sectionSource) WriteTo(w io.Writer) (int64, error) {
	return io.Copy(w, io.NewSectionReader(s.sr, 0, s.sr.Size()))
}

// QuantizeSpec turns the description of a GGUF file (what convert or
// gguf.File.Spec produce, tensors in F32, F16 or BF16) into that of its
// quantized version: llama.cpp's tensor order and metadata, each tensor's
// Data converting its source on the fly when written. Nothing is read until
// the returned Spec is written; the Summary's BytesAfter and plan are final,
// FileSize is not filled in.
func QuantizeSpec(s *gguf.Spec, ft gguf.FileType, o Options) (*gguf.Spec, *Summary, error) {
	if _, err := ft.DefaultType(); err != nil {
		return nil, nil, err
	}
	if o.IMatrix != nil {
		if err := o.IMatrix.check(); err != nil {
			return nil, nil, err
		}
		o.HasIMatrix = true
	}
	infos := make([]gguf.TensorInfo, len(s.Tensors))
	for i, t := range s.Tensors {
		infos[i] = gguf.TensorInfo{Name: t.Name, Dims: t.Dims, Type: t.Type}
	}
	plans, err := PlanTensors(ModelInfoFromKVs(s.KVs), infos, ft, o.PlanOptions)
	if err != nil {
		return nil, nil, err
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sum := &Summary{FileType: ft, Tensors: len(plans), TypeCounts: map[gguf.Type]int{}, TensorPlans: plans}
	out := &gguf.Spec{Version: 3, Alignment: gguf.DefaultAlignment, KVs: outputKVs(s.KVs, ft, o)}
	for _, kv := range out.KVs {
		if kv.Key == gguf.KeyAlignment {
			// llama.cpp copies the key but pads to 32 regardless, which
			// leaves a file its own reader misreads unless the key says 32;
			// follow the key instead.
			out.Alignment = 0
		}
	}
	for _, p := range plans {
		t := s.Tensors[p.Index]
		n := infos[p.Index].NumElements()
		sizeIn, err := gguf.TensorSize(t.Type, t.Dims)
		if err != nil {
			return nil, nil, fmt.Errorf("quantize: tensor %s: %w", t.Name, err)
		}
		sum.Params += n
		sum.BytesBefore += sizeIn
		sum.TypeCounts[p.To]++
		if p.Fallback {
			sum.Fallbacks++
		}
		wt := gguf.WriteTensor{Name: p.Name, Dims: p.Dims, Type: p.To}
		if !p.Quantize {
			wt.Data = t.Data
			if isFloat(t.Type) {
				wt.Data = &checkedCopy{src: t.Data, name: t.Name, typ: t.Type}
			}
			sum.BytesAfter += sizeIn
			out.Tensors = append(out.Tensors, wt)
			log.Debug("copy", "tensor", p.Name, "type", p.To)
			continue
		}
		if !Supported(p.To) {
			return nil, nil, fmt.Errorf("quantize: tensor %s needs type %v, which the Go quantizer does not produce (try --engine llamacpp)", p.Name, p.To)
		}
		if t.Type.IsQuantized() && !o.AllowRequantize {
			return nil, nil, &InputError{Tensor: t.Name, Msg: fmt.Sprintf("requantizing from type %v is disabled (tensor %s; --allow-requantize accepts it)", t.Type, t.Name)}
		}
		if !Supported(t.Type) {
			return nil, nil, fmt.Errorf("quantize: cannot convert tensor %s from type %v", t.Name, t.Type)
		}
		ncols := int(t.Dims[0])
		var ne2 int64 = 1
		if len(t.Dims) > 2 {
			ne2 = int64(t.Dims[2])
		}
		var im []float32
		if o.IMatrix != nil {
			if e, ok := o.IMatrix.Entries[t.Name]; ok {
				if int64(len(e)) == int64(ncols)*ne2 {
					im = e
				} else if t.Name != "token_embd.weight" {
					return nil, nil, fmt.Errorf("quantize: imatrix size %d is different from tensor size %d for %s", len(e), int64(ncols)*ne2, t.Name)
				}
			}
		}
		if im == nil && p.To == gguf.TypeQ2_K && ft == gguf.MostlyQ2_K_S && t.Name != "token_embd.weight" {
			return nil, nil, fmt.Errorf("%w for tensor %s in a very low-bit quantization", errNoIMatrix, t.Name)
		}
		if ncols%p.To.BlockSize() != 0 {
			// llama.cpp aborts here (GGML_ASSERT); without --pure the plan
			// would have picked a fallback type.
			return nil, nil, fmt.Errorf("quantize: tensor %s has rows of %d, not a multiple of %v's block of %d", t.Name, ncols, p.To, p.To.BlockSize())
		}
		sizeOut, err := gguf.TensorSize(p.To, p.Dims)
		if err != nil {
			return nil, nil, err
		}
		sum.BytesAfter += sizeOut
		sum.Quantized++
		nrows := int(n / int64(ncols))
		rowsPerMat := nrows
		if len(t.Dims) > 1 {
			rowsPerMat = int(t.Dims[1])
		}
		wt.Data = &quantTensor{src: t.Data, name: t.Name, from: t.Type, to: p.To,
			ncols: ncols, nrows: nrows, rowsPerMat: rowsPerMat, imatrix: im, threads: o.Threads}
		out.Tensors = append(out.Tensors, wt)
		log.Debug("quantize", "tensor", p.Name, "from", t.Type, "to", p.To, "fallback", p.Fallback)
	}
	return out, sum, nil
}

// outputKVs is llama_model_quantize's metadata: the input's KVs in order,
// general.quantization_version and general.file_type moved to the end with
// new values, split keys removed, then the imatrix keys llama-quantize adds.
func outputKVs(in []gguf.KV, ft gguf.FileType, o Options) []gguf.KV {
	kvs := slices.Clone(in)
	set := func(kv gguf.KV) {
		kvs = slices.DeleteFunc(kvs, func(x gguf.KV) bool { return x.Key == kv.Key })
		kvs = append(kvs, kv)
	}
	del := func(key string) {
		kvs = slices.DeleteFunc(kvs, func(x gguf.KV) bool { return x.Key == key })
	}
	set(gguf.KV{Key: "general.quantization_version", Value: gguf.Uint32(qntVersion)})
	set(gguf.KV{Key: "general.file_type", Value: gguf.Uint32(uint32(ft))})
	del("split.no")
	del("split.count")
	del("split.tensors.count")
	if m := o.IMatrix; m != nil && len(m.Entries) > 0 {
		set(gguf.KV{Key: "quantize.imatrix.file", Value: gguf.String(truncate(o.IMatrixPath, 127))})
		if len(m.Datasets) > 0 {
			set(gguf.KV{Key: "quantize.imatrix.dataset", Value: gguf.String(truncate(m.Datasets[0], 127))})
		}
		set(gguf.KV{Key: "quantize.imatrix.entries_count", Value: gguf.Uint32(uint32(len(m.Entries)))})
		if m.ChunkCount > 0 {
			set(gguf.KV{Key: "quantize.imatrix.chunks_count", Value: gguf.Uint32(uint32(m.ChunkCount))})
		}
	}
	for _, kv := range o.ExtraKVs {
		set(kv)
	}
	return kvs
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func isFloat(t gguf.Type) bool {
	return t == gguf.TypeF32 || t == gguf.TypeF16 || t == gguf.TypeBF16
}

// openSource returns a reader of a tensor's source bytes.
func openSource(src io.WriterTo) io.ReadCloser {
	if s, ok := src.(sectionSource); ok {
		return io.NopCloser(io.NewSectionReader(s.sr, 0, s.sr.Size()))
	}
	pr, pw := io.Pipe()
	go func() {
		_, err := src.WriteTo(pw)
		pw.CloseWithError(err)
	}()
	return pr
}

// checkedCopy copies a float tensor unchanged, failing on NaN or Inf as
// llama.cpp's loader does for every tensor it reads.
type checkedCopy struct {
	src  io.WriterTo
	name string
	typ  gguf.Type
}

func (c *checkedCopy) WriteTo(w io.Writer) (int64, error) {
	r := openSource(c.src)
	defer r.Close()
	es := int64(c.typ.TypeSize())
	buf := make([]byte, 1<<20)
	var n int64
	for {
		k, err := io.ReadFull(r, buf)
		k -= k % int(es)
		if i := badFloat(c.typ, buf[:k]); i >= 0 {
			return n, &InvalidDataError{Tensor: c.name, Index: n/es + int64(i), Value: decodeOne(c.typ, buf[int64(i)*es:])}
		}
		if k > 0 {
			m, werr := w.Write(buf[:k])
			n += int64(m)
			if werr != nil {
				return n, werr
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// badFloat returns the index of the first NaN/Inf element of raw, or -1.
func badFloat(t gguf.Type, raw []byte) int {
	switch t {
	case gguf.TypeF32:
		for i := 0; i+4 <= len(raw); i += 4 {
			if binary.LittleEndian.Uint32(raw[i:])&0x7f800000 == 0x7f800000 {
				return i / 4
			}
		}
	case gguf.TypeF16:
		for i := 0; i+2 <= len(raw); i += 2 {
			if binary.LittleEndian.Uint16(raw[i:])&0x7c00 == 0x7c00 {
				return i / 2
			}
		}
	case gguf.TypeBF16:
		for i := 0; i+2 <= len(raw); i += 2 {
			if binary.LittleEndian.Uint16(raw[i:])&0x7f80 == 0x7f80 {
				return i / 2
			}
		}
	}
	return -1
}

func decodeOne(t gguf.Type, b []byte) float32 {
	switch t {
	case gguf.TypeF16:
		return half.ToFloat32GGML(binary.LittleEndian.Uint16(b))
	case gguf.TypeBF16:
		return half.BF16ToFloat32(binary.LittleEndian.Uint16(b))
	}
	return math.Float32frombits(binary.LittleEndian.Uint32(b))
}

// quantTensor is the Data of a tensor converted while it is written: its
// source is read in batches of rows; each batch is decoded, checked and
// quantized by Threads goroutines in parallel and written in order, while the
// next batch is being read.
type quantTensor struct {
	src          io.WriterTo
	name         string
	from, to     gguf.Type
	ncols, nrows int
	rowsPerMat   int // rows per expert matrix (imatrix has ncols weights per matrix)
	imatrix      []float32
	threads      int
}

// batchValues is the number of values read and quantized at once.
const batchValues = 8 << 20

type rawBatch struct {
	r0, r1 int
	buf    []byte
	err    error
}

func (q *quantTensor) WriteTo(w io.Writer) (int64, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := openSource(q.src)
	defer r.Close()

	inRow, err := q.from.RowSize(int64(q.ncols))
	if err != nil {
		return 0, err
	}
	outRow, err := q.to.RowSize(int64(q.ncols))
	if err != nil {
		return 0, err
	}
	rowsPer := min(q.nrows, max(1, batchValues/q.ncols))
	if q.rowsPerMat > 0 && q.imatrix != nil && len(q.imatrix) > q.ncols {
		// One batch never spans two expert matrices with different weights.
		rowsPer = min(rowsPer, q.rowsPerMat)
	}

	// Reader goroutine: two raw buffers in flight.
	free := make(chan []byte, 2)
	for range 2 {
		free <- make([]byte, int64(rowsPer)*inRow)
	}
	full := make(chan rawBatch, 1)
	go func() {
		defer close(full)
		for r0 := 0; r0 < q.nrows; {
			r1 := min(q.nrows, r0+rowsPer)
			if q.rowsPerMat > 0 && len(q.imatrix) > q.ncols {
				r1 = min(r1, (r0/q.rowsPerMat+1)*q.rowsPerMat)
			}
			var buf []byte
			select {
			case buf = <-free:
			case <-ctx.Done():
				return
			}
			buf = buf[:int64(r1-r0)*inRow]
			_, err := io.ReadFull(r, buf)
			select {
			case full <- rawBatch{r0: r0, r1: r1, buf: buf, err: err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
			r0 = r1
		}
	}()

	threads := q.threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	out := make([]byte, int64(rowsPer)*outRow)
	f32 := newF32Pool(q.ncols)
	var written int64
	for b := range full {
		if b.err != nil {
			return written, fmt.Errorf("quantize: reading tensor %s: %w", q.name, b.err)
		}
		var im []float32
		if q.imatrix != nil {
			mat := 0
			if q.rowsPerMat > 0 {
				mat = b.r0 / q.rowsPerMat
			}
			im = q.imatrix[mat*q.ncols : (mat+1)*q.ncols]
		}
		nr := b.r1 - b.r0
		dst := out[:int64(nr)*outRow]
		var bad *InvalidDataError
		var badMu sync.Mutex
		err := parallelRows(ctx, nr, q.ncols, threads, func(r0, r1 int, s *scratch) {
			x := f32.get(r1 - r0)
			defer f32.put(x)
			raw := b.buf[int64(r0)*inRow : int64(r1)*inRow]
			if i := badFloat(q.from, raw); i >= 0 {
				badMu.Lock()
				e := &InvalidDataError{Tensor: q.name, Index: int64(b.r0+r0)*int64(q.ncols) + int64(i), Value: decodeOne(q.from, raw[int64(i)*int64(q.from.TypeSize()):])}
				if bad == nil || e.Index < bad.Index {
					bad = e
				}
				badMu.Unlock()
				return
			}
			_ = DequantizeRows(q.from, x, raw)
			for r := r0; r < r1; r++ {
				quantizeRow(q.to, dst[int64(r)*outRow:int64(r+1)*outRow], x[(r-r0)*q.ncols:(r-r0+1)*q.ncols], im, s)
			}
		})
		free <- b.buf[:cap(b.buf)]
		if err != nil {
			return written, err
		}
		if bad != nil {
			return written, bad
		}
		n, err := w.Write(dst)
		written += int64(n)
		if err != nil {
			return written, err
		}
	}
	if want := int64(q.nrows) * outRow; written != want {
		return written, fmt.Errorf("quantize: tensor %s: source ended after %d of %d bytes", q.name, written, want)
	}
	return written, nil
}

// f32Pool hands out float32 buffers for chunks of rows.
type f32Pool struct {
	ncols int
	p     sync.Pool
}

func newF32Pool(ncols int) *f32Pool { return &f32Pool{ncols: ncols} }

func (p *f32Pool) get(rows int) []float32 {
	n := rows * p.ncols
	if b, ok := p.p.Get().(*[]float32); ok && cap(*b) >= n {
		return (*b)[:n]
	}
	return make([]float32, n)
}

func (p *f32Pool) put(b []float32) { p.p.Put(&b) }
