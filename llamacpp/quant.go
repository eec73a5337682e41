//go:build cgo

package llamacpp

/*
#include "helpers.h"

static int sattva_to_float(enum ggml_type t, const void *src, float *dst, int64_t n) {
	const struct ggml_type_traits *tr = ggml_get_type_traits(t);
	if (!tr || !tr->to_float) return -1;
	tr->to_float(src, dst, n);
	return 0;
}
*/
import "C"

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"unsafe"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/gguf/modelcheck"
	"github.com/sattva/sattva/internal/atomicfile"
)

// quantizable lists the types ggml_quantize_chunk handles (others abort).
var quantizable = map[gguf.Type]bool{
	gguf.TypeF32: true, gguf.TypeF16: true, gguf.TypeBF16: true,
	gguf.TypeQ4_0: true, gguf.TypeQ4_1: true, gguf.TypeQ5_0: true, gguf.TypeQ5_1: true, gguf.TypeQ8_0: true,
	gguf.TypeQ2_K: true, gguf.TypeQ3_K: true, gguf.TypeQ4_K: true, gguf.TypeQ5_K: true, gguf.TypeQ6_K: true,
	gguf.TypeIQ2_XXS: true, gguf.TypeIQ2_XS: true, gguf.TypeIQ3_XXS: true, gguf.TypeIQ1_S: true,
	gguf.TypeIQ4_NL: true, gguf.TypeIQ3_S: true, gguf.TypeIQ2_S: true, gguf.TypeIQ4_XS: true, gguf.TypeIQ1_M: true,
	gguf.TypeTQ1_0: true, gguf.TypeTQ2_0: true, gguf.TypeMXFP4: true,
}

// QuantizeRows quantizes nrows rows of ncols floats from src to type t with
// ggml's own C code (ggml_quantize_chunk: the reference path, or the
// importance-weighted one when imatrix, ncols weights, is given). It is the
// bit-exact reference for the pure-Go quantize package. Every value of src
// and imatrix must be finite, as llama_model_quantize requires of a model's
// tensors: ggml's IQ1, IQ2 and IQ3 quantizers abort the process or read out
// of bounds on NaN or infinity.
func QuantizeRows(t gguf.Type, src []float32, nrows, ncols int, imatrix []float32) ([]byte, error) {
	if !quantizable[t] {
		return nil, errorf("quantize: ggml cannot quantize to %v", t)
	}
	if nrows < 0 || ncols <= 0 || len(src) != nrows*ncols {
		return nil, errorf("quantize: %d floats are not %d rows of %d", len(src), nrows, ncols)
	}
	if ncols%t.BlockSize() != 0 {
		return nil, errorf("quantize: row of %d is not a multiple of %v's block of %d", ncols, t, t.BlockSize())
	}
	if imatrix != nil && len(imatrix) != ncols {
		return nil, errorf("quantize: imatrix has %d weights for rows of %d", len(imatrix), ncols)
	}
	for _, x := range []struct {
		what string
		v    []float32
	}{{"value", src}, {"imatrix weight", imatrix}} {
		if i := firstNonFinite(x.v); i >= 0 {
			return nil, errorf("quantize: %s %d is %v; ggml quantizes finite numbers only", x.what, i, x.v[i])
		}
	}
	if imatrix == nil && bool(C.ggml_quantize_requires_imatrix(C.enum_ggml_type(t))) {
		return nil, errorf("quantize: %v needs an importance matrix", t)
	}
	rs, err := t.RowSize(int64(ncols))
	if err != nil {
		return nil, err
	}
	dst := make([]byte, int64(nrows)*rs)
	if nrows == 0 {
		return dst, nil
	}
	var im *C.float
	if imatrix != nil {
		im = (*C.float)(unsafe.Pointer(&imatrix[0]))
	}
	n := C.ggml_quantize_chunk(C.enum_ggml_type(t), (*C.float)(unsafe.Pointer(&src[0])), unsafe.Pointer(&dst[0]),
		0, C.int64_t(nrows), C.int64_t(ncols), im)
	if int(n) != len(dst) {
		return nil, errorf("quantize: ggml wrote %d bytes, want %d", int(n), len(dst))
	}
	return dst, nil
}

// firstNonFinite returns the index of the first NaN or infinity in v, or -1.
func firstNonFinite(v []float32) int {
	for i, x := range v {
		if x-x != 0 { // NaN - NaN and Inf - Inf are NaN
			return i
		}
	}
	return -1
}

// Dequantize turns n elements of type t in src back into floats with ggml's
// own to_float.
func Dequantize(t gguf.Type, src []byte, n int) ([]float32, error) {
	if !t.Valid() {
		return nil, errorf("dequantize: unknown type %v", t)
	}
	if n < 0 || n%t.BlockSize() != 0 {
		return nil, errorf("dequantize: %d elements are not whole %v blocks of %d", n, t, t.BlockSize())
	}
	rs, err := t.RowSize(int64(n))
	if err != nil {
		return nil, err
	}
	if int64(len(src)) != rs {
		return nil, errorf("dequantize: %d bytes of %v hold %d bytes' worth, not %d elements", len(src), t, len(src), n)
	}
	dst := make([]float32, n)
	if n == 0 {
		return dst, nil
	}
	if t == gguf.TypeF32 {
		copy(dst, unsafe.Slice((*float32)(unsafe.Pointer(&src[0])), n))
		return dst, nil
	}
	if C.sattva_to_float(C.enum_ggml_type(t), unsafe.Pointer(&src[0]), (*C.float)(unsafe.Pointer(&dst[0])), C.int64_t(n)) != 0 {
		return nil, errorf("dequantize: ggml has no to_float for %v", t)
	}
	return dst, nil
}

// fileTypes maps llama-quantize's names to llama_ftype.
var fileTypes = map[string]C.enum_llama_ftype{
	"F32": C.LLAMA_FTYPE_ALL_F32, "F16": C.LLAMA_FTYPE_MOSTLY_F16, "BF16": C.LLAMA_FTYPE_MOSTLY_BF16,
	"Q4_0": C.LLAMA_FTYPE_MOSTLY_Q4_0, "Q4_1": C.LLAMA_FTYPE_MOSTLY_Q4_1,
	"Q5_0": C.LLAMA_FTYPE_MOSTLY_Q5_0, "Q5_1": C.LLAMA_FTYPE_MOSTLY_Q5_1, "Q8_0": C.LLAMA_FTYPE_MOSTLY_Q8_0,
	"Q2_K": C.LLAMA_FTYPE_MOSTLY_Q2_K, "Q2_K_S": C.LLAMA_FTYPE_MOSTLY_Q2_K_S,
	"Q3_K_S": C.LLAMA_FTYPE_MOSTLY_Q3_K_S, "Q3_K_M": C.LLAMA_FTYPE_MOSTLY_Q3_K_M, "Q3_K_L": C.LLAMA_FTYPE_MOSTLY_Q3_K_L,
	"Q4_K_S": C.LLAMA_FTYPE_MOSTLY_Q4_K_S, "Q4_K_M": C.LLAMA_FTYPE_MOSTLY_Q4_K_M, "Q4_K": C.LLAMA_FTYPE_MOSTLY_Q4_K_M,
	"Q5_K_S": C.LLAMA_FTYPE_MOSTLY_Q5_K_S, "Q5_K_M": C.LLAMA_FTYPE_MOSTLY_Q5_K_M, "Q5_K": C.LLAMA_FTYPE_MOSTLY_Q5_K_M,
	"Q6_K":   C.LLAMA_FTYPE_MOSTLY_Q6_K,
	"IQ4_NL": C.LLAMA_FTYPE_MOSTLY_IQ4_NL, "IQ4_XS": C.LLAMA_FTYPE_MOSTLY_IQ4_XS,
	"TQ1_0": C.LLAMA_FTYPE_MOSTLY_TQ1_0, "TQ2_0": C.LLAMA_FTYPE_MOSTLY_TQ2_0,
}

// Quantize writes a quantized copy of the GGUF in to out with
// llama_model_quantize, atomically (a temporary file in out's folder is
// renamed when complete). ctx is checked before the work starts and again
// before the rename: the C call itself cannot be interrupted, but a
// cancelled Quantize never replaces out.
func Quantize(ctx context.Context, in, out string, o QuantizeOptions) error {
	ft, ok := fileTypes[strings.ToUpper(o.FileType)]
	if !ok {
		return errorf("quantize: unknown file type %q", o.FileType)
	}
	if err := preflight(in, modelcheck.Quantize); err != nil {
		return err
	}
	if _, err := ggufArchitecture(in); err != nil {
		return err
	}
	p := C.llama_model_quantize_default_params()
	p.ftype = ft
	p.nthread = C.int32_t(o.Threads)
	if o.Threads <= 0 {
		p.nthread = C.int32_t(runtime.NumCPU())
	}
	p.pure = cBool(o.Pure)
	p.quantize_output_tensor = cBool(!o.LeaveOutputTensor)
	p.allow_requantize = cBool(o.AllowRequantize)
	for _, x := range []struct {
		name string
		dst  *C.enum_ggml_type
	}{{o.OutputTensorType, &p.output_tensor_type}, {o.TokenEmbeddingType, &p.token_embedding_type}} {
		if x.name == "" {
			continue
		}
		t, err := gguf.ParseType(x.name)
		if err != nil {
			return errorf("quantize: %v", err)
		}
		*x.dst = C.enum_ggml_type(t)
	}
	if o.IMatrix != nil {
		im, kvo, free := quantizeIMatrix(o.IMatrix)
		defer free()
		p.imatrix, p.kv_overrides = im, kvo
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	af, err := atomicfile.CreateContext(ctx, out, 0o644)
	if err != nil {
		return err
	}
	defer af.Abort()
	tmpName := af.Name()
	cin, cout := C.CString(in), C.CString(tmpName)
	defer C.free(unsafe.Pointer(cin))
	defer C.free(unsafe.Pointer(cout))
	e := initEngine("", nil)
	e.loadMu.Lock()
	e.sink.takeLastError()
	rc := C.llama_model_quantize(cin, cout, &p)
	why := e.sink.takeLastError()
	e.loadMu.Unlock()
	if rc != 0 {
		return &LoadError{Path: in, Msg: fmt.Sprintf("llama_model_quantize failed (%d): %s", int(rc), why), Invalid: true}
	}
	// llama_model_quantize wrote the temporary file through its own handle;
	// Commit syncs ours (the same file), then renames it unless ctx was
	// cancelled meanwhile: an interrupted quantization leaves no output.
	return af.Commit()
}
