package quantize

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/half"
)

// ErrUnsupportedType is returned for a ggml type this package cannot
// quantize to or dequantize from (the IQ and TQ families but IQ4_NL and IQ4_XS, Q8_1, Q8_K, MXFP4).
var ErrUnsupportedType = errors.New("quantize: unsupported tensor type")

// Supported reports whether QuantizeRows and DequantizeRows handle t.
func Supported(t gguf.Type) bool {
	switch t {
	case gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16,
		gguf.TypeQ4_0, gguf.TypeQ4_1, gguf.TypeQ5_0, gguf.TypeQ5_1, gguf.TypeQ8_0,
		gguf.TypeQ2_K, gguf.TypeQ3_K, gguf.TypeQ4_K, gguf.TypeQ5_K, gguf.TypeQ6_K,
		gguf.TypeIQ4_NL, gguf.TypeIQ4_XS:
		return true
	}
	return false
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// rowShape checks the arguments of QuantizeRows and returns the number of
// rows and the bytes of one row.
func rowShape(t gguf.Type, nbytes, nvalues, ncols int) (nrows, rowSize int, err error) {
	if !Supported(t) {
		return 0, 0, fmt.Errorf("%w: %v", ErrUnsupportedType, t)
	}
	if ncols <= 0 {
		return 0, 0, fmt.Errorf("quantize: %d columns", ncols)
	}
	if ncols%t.BlockSize() != 0 {
		return 0, 0, fmt.Errorf("quantize: a row of %d values is not a multiple of %v's block of %d", ncols, t, t.BlockSize())
	}
	if nvalues%ncols != 0 {
		return 0, 0, fmt.Errorf("quantize: %d values are not whole rows of %d", nvalues, ncols)
	}
	nrows = nvalues / ncols
	rowSize = ncols / t.BlockSize() * t.TypeSize()
	if nbytes != nrows*rowSize {
		return 0, 0, fmt.Errorf("quantize: %d rows of %v need %d bytes, have %d", nrows, t, nrows*rowSize, nbytes)
	}
	return nrows, rowSize, nil
}

// RowSize is the number of bytes of a row of ncols values of type t, or an
// error when ncols is not a multiple of t's block.
func RowSize(t gguf.Type, ncols int) (int, error) {
	_, rs, err := rowShape(t, 0, 0, ncols)
	if err != nil {
		return 0, err
	}
	return rs, nil
}

// QuantizeRows converts the rows of src (len(src)/ncols rows of ncols values)
// to type t in dst, which must hold exactly that many rows of t. The bytes
// are those of ggml_quantize_chunk for the same input: with imatrix nil the
// _ref row quantizers, otherwise the importance-weighted ones (imatrix holds
// ncols weights, shared by every row). It runs on the calling goroutine and
// does not allocate; see QuantizeRowsParallel for many rows.
//
// QuantizeRows does not look for NaN or Inf; llama.cpp rejects such tensors
// before quantizing, and so does QuantizeFile (see CheckFinite).
func QuantizeRows(t gguf.Type, dst []byte, src []float32, ncols int, imatrix []float32) error {
	nrows, rowSize, err := rowShape(t, len(dst), len(src), ncols)
	if err != nil {
		return err
	}
	if imatrix != nil && len(imatrix) != ncols {
		return fmt.Errorf("quantize: importance matrix has %d values for rows of %d", len(imatrix), ncols)
	}
	s := scratchPool.Get().(*scratch)
	for r := 0; r < nrows; r++ {
		quantizeRow(t, dst[r*rowSize:(r+1)*rowSize], src[r*ncols:(r+1)*ncols], imatrix, s)
	}
	scratchPool.Put(s)
	return nil
}

// QuantizeRowsParallel is QuantizeRows spread over workers goroutines
// (0 means GOMAXPROCS), in chunks of rows. The result is identical.
func QuantizeRowsParallel(ctx context.Context, t gguf.Type, dst []byte, src []float32, ncols int, imatrix []float32, workers int) error {
	nrows, rowSize, err := rowShape(t, len(dst), len(src), ncols)
	if err != nil {
		return err
	}
	if imatrix != nil && len(imatrix) != ncols {
		return fmt.Errorf("quantize: importance matrix has %d values for rows of %d", len(imatrix), ncols)
	}
	return parallelRows(ctx, nrows, ncols, workers, func(r0, r1 int, s *scratch) {
		for r := r0; r < r1; r++ {
			quantizeRow(t, dst[r*rowSize:(r+1)*rowSize], src[r*ncols:(r+1)*ncols], imatrix, s)
		}
	})
}

// chunkValues is the work unit of parallelRows: about 64 Ki values (llama.cpp
// uses 16 Ki; larger chunks cost less coordination and still balance).
const chunkValues = 1 << 16

// parallelRows calls fn on consecutive row ranges from workers goroutines,
// each with its own scratch. It stops handing out work when ctx is done.
func parallelRows(ctx context.Context, nrows, ncols, workers int, fn func(r0, r1 int, s *scratch)) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	per := max(1, chunkValues/ncols)
	nchunks := (nrows + per - 1) / per
	workers = min(workers, nchunks)
	if workers <= 1 {
		s := scratchPool.Get().(*scratch)
		defer scratchPool.Put(s)
		for r := 0; r < nrows; r += per {
			if err := ctx.Err(); err != nil {
				return err
			}
			fn(r, min(nrows, r+per), s)
		}
		return nil
	}
	var next int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := scratchPool.Get().(*scratch)
			defer scratchPool.Put(s)
			for ctx.Err() == nil {
				mu.Lock()
				c := next
				next++
				mu.Unlock()
				r0 := int(c) * per
				if r0 >= nrows {
					return
				}
				fn(r0, min(nrows, r0+per), s)
			}
		}()
	}
	wg.Wait()
	return ctx.Err()
}

// quantizeRow quantizes one row; the lengths were checked by the caller.
func quantizeRow(t gguf.Type, y []byte, x []float32, qw []float32, s *scratch) {
	switch t {
	case gguf.TypeF32:
		for i, v := range x {
			binary.LittleEndian.PutUint32(y[4*i:], math.Float32bits(v))
		}
	case gguf.TypeF16:
		y = y[:2*len(x)]
		for i, v := range x {
			binary.LittleEndian.PutUint16(y[2*i:], half.FromFloat32GGML(v))
		}
	case gguf.TypeBF16:
		y = y[:2*len(x)]
		for i, v := range x {
			binary.LittleEndian.PutUint16(y[2*i:], half.BF16FromFloat32(v))
		}
	case gguf.TypeQ8_0:
		for i := 0; i < len(x)/32; i++ {
			gguf.QuantizeQ8_0GGML((*[32]float32)(x[32*i:]), (*[34]byte)(y[34*i:]))
		}
	case gguf.TypeQ4_0:
		if qw == nil {
			for i := 0; i < len(x)/32; i++ {
				quantizeBlockQ4_0((*[32]float32)(x[32*i:]), (*[18]byte)(y[18*i:]))
			}
			return
		}
		sigma2 := rowSigma2(x)
		for i := 0; i < len(x)/32; i++ {
			quantizeBlockQ4_0W((*[32]float32)(x[32*i:]), (*[18]byte)(y[18*i:]), (*[32]float32)(qw[32*i:]), sigma2, s)
		}
	case gguf.TypeQ4_1:
		if qw == nil {
			for i := 0; i < len(x)/32; i++ {
				quantizeBlockQ4_1((*[32]float32)(x[32*i:]), (*[20]byte)(y[20*i:]))
			}
			return
		}
		sigma2 := rowSigma2(x)
		for i := 0; i < len(x)/32; i++ {
			quantizeBlockQ4_1W((*[32]float32)(x[32*i:]), (*[20]byte)(y[20*i:]), (*[32]float32)(qw[32*i:]), sigma2, s)
		}
	case gguf.TypeQ5_0:
		if qw == nil {
			for i := 0; i < len(x)/32; i++ {
				quantizeBlockQ5_0((*[32]float32)(x[32*i:]), (*[22]byte)(y[22*i:]))
			}
			return
		}
		sigma2 := rowSigma2(x)
		for i := 0; i < len(x)/32; i++ {
			quantizeBlockQ5_0W((*[32]float32)(x[32*i:]), (*[22]byte)(y[22*i:]), (*[32]float32)(qw[32*i:]), sigma2, s)
		}
	case gguf.TypeQ5_1:
		if qw == nil {
			for i := 0; i < len(x)/32; i++ {
				quantizeBlockQ5_1((*[32]float32)(x[32*i:]), (*[24]byte)(y[24*i:]))
			}
			return
		}
		sigma2 := rowSigma2(x)
		for i := 0; i < len(x)/32; i++ {
			quantizeBlockQ5_1W((*[32]float32)(x[32*i:]), (*[24]byte)(y[24*i:]), (*[32]float32)(qw[32*i:]), sigma2, s)
		}
	case gguf.TypeQ2_K:
		for i := 0; i < len(x)/qkK; i++ {
			xb, yb := (*[qkK]float32)(x[qkK*i:]), (*[84]byte)(y[84*i:])
			if qw == nil {
				quantizeBlockQ2_K(xb, yb, s)
			} else {
				quantizeBlockQ2_KW(xb, yb, (*[qkK]float32)(qw[qkK*i:]), s)
			}
		}
	case gguf.TypeQ3_K:
		for i := 0; i < len(x)/qkK; i++ {
			xb, yb := (*[qkK]float32)(x[qkK*i:]), (*[110]byte)(y[110*i:])
			if qw == nil {
				quantizeBlockQ3_K(xb, yb, s)
			} else {
				quantizeBlockQ3_KW(xb, yb, (*[qkK]float32)(qw[qkK*i:]), s)
			}
		}
	case gguf.TypeQ4_K:
		for i := 0; i < len(x)/qkK; i++ {
			xb, yb := (*[qkK]float32)(x[qkK*i:]), (*[144]byte)(y[144*i:])
			if qw == nil {
				quantizeBlockQ4_K(xb, yb, s)
			} else {
				quantizeBlockQ4_KW(xb, yb, (*[qkK]float32)(qw[qkK*i:]), s)
			}
		}
	case gguf.TypeQ5_K:
		for i := 0; i < len(x)/qkK; i++ {
			xb, yb := (*[qkK]float32)(x[qkK*i:]), (*[176]byte)(y[176*i:])
			if qw == nil {
				quantizeBlockQ5_K(xb, yb, s)
			} else {
				quantizeBlockQ5_KW(xb, yb, (*[qkK]float32)(qw[qkK*i:]), s)
			}
		}
	case gguf.TypeQ6_K:
		for i := 0; i < len(x)/qkK; i++ {
			var w *[qkK]float32
			if qw != nil {
				w = (*[qkK]float32)(qw[qkK*i:])
			}
			quantizeBlockQ6_K((*[qkK]float32)(x[qkK*i:]), (*[210]byte)(y[210*i:]), w, s)
		}
	case gguf.TypeIQ4_NL:
		quantizeRowIQ4NL(y, x, qw, &s.iq4)
	case gguf.TypeIQ4_XS:
		quantizeRowIQ4XS(y, x, qw, &s.iq4)
	}
}

// DequantizeRows converts src, whole blocks of type t, to float32 values in
// dst (len(dst) values), as ggml's to_float functions do.
func DequantizeRows(t gguf.Type, dst []float32, src []byte) error {
	if !Supported(t) {
		return fmt.Errorf("%w: %v", ErrUnsupportedType, t)
	}
	bs, ts := t.BlockSize(), t.TypeSize()
	if len(dst)%bs != 0 || len(src) != len(dst)/bs*ts {
		return fmt.Errorf("quantize: %d bytes of %v are not %d values", len(src), t, len(dst))
	}
	x, y := src, dst
	switch t {
	case gguf.TypeF32:
		for i := range y {
			y[i] = math.Float32frombits(binary.LittleEndian.Uint32(x[4*i:]))
		}
	case gguf.TypeF16:
		decodeF16(y, x)
	case gguf.TypeBF16:
		for i := range y {
			y[i] = half.BF16ToFloat32(binary.LittleEndian.Uint16(x[2*i:]))
		}
	case gguf.TypeQ4_0:
		for i := 0; i < len(y)/32; i++ {
			dequantizeBlockQ4_0((*[18]byte)(x[18*i:]), (*[32]float32)(y[32*i:]))
		}
	case gguf.TypeQ4_1:
		for i := 0; i < len(y)/32; i++ {
			dequantizeBlockQ4_1((*[20]byte)(x[20*i:]), (*[32]float32)(y[32*i:]))
		}
	case gguf.TypeQ5_0:
		for i := 0; i < len(y)/32; i++ {
			dequantizeBlockQ5_0((*[22]byte)(x[22*i:]), (*[32]float32)(y[32*i:]))
		}
	case gguf.TypeQ5_1:
		for i := 0; i < len(y)/32; i++ {
			dequantizeBlockQ5_1((*[24]byte)(x[24*i:]), (*[32]float32)(y[32*i:]))
		}
	case gguf.TypeQ8_0:
		for i := 0; i < len(y)/32; i++ {
			gguf.DequantizeQ8_0((*[34]byte)(x[34*i:]), (*[32]float32)(y[32*i:]))
		}
	case gguf.TypeQ2_K:
		for i := 0; i < len(y)/qkK; i++ {
			dequantizeBlockQ2_K((*[84]byte)(x[84*i:]), (*[qkK]float32)(y[qkK*i:]))
		}
	case gguf.TypeQ3_K:
		for i := 0; i < len(y)/qkK; i++ {
			dequantizeBlockQ3_K((*[110]byte)(x[110*i:]), (*[qkK]float32)(y[qkK*i:]))
		}
	case gguf.TypeQ4_K:
		for i := 0; i < len(y)/qkK; i++ {
			dequantizeBlockQ4_K((*[144]byte)(x[144*i:]), (*[qkK]float32)(y[qkK*i:]))
		}
	case gguf.TypeQ5_K:
		for i := 0; i < len(y)/qkK; i++ {
			dequantizeBlockQ5_K((*[176]byte)(x[176*i:]), (*[qkK]float32)(y[qkK*i:]))
		}
	case gguf.TypeQ6_K:
		for i := 0; i < len(y)/qkK; i++ {
			dequantizeBlockQ6_K((*[210]byte)(x[210*i:]), (*[qkK]float32)(y[qkK*i:]))
		}
	case gguf.TypeIQ4_NL:
		dequantizeRowIQ4NL(x, y)
	case gguf.TypeIQ4_XS:
		dequantizeRowIQ4XS(x, y)
	}
	return nil
}

// CheckFinite returns the index of the first NaN or infinity in x, or -1.
func CheckFinite(x []float32) int {
	for i, v := range x {
		if math.Float32bits(v)&0x7f800000 == 0x7f800000 {
			return i
		}
	}
	return -1
}
