//go:build cgo

package llamacpp

/*
#cgo CXXFLAGS: -std=c++17 -O2
#include "helpers.h"
#include "imatrix.h"
*/
import "C"

import (
	"context"
	"runtime/cgo"
	"unsafe"
)

// CollectIMatrix runs the model over tokens in chunks, as llama-imatrix
// does, and returns for every matrix multiplication's weight the sum of
// squared activations per input column and the rows counted: the numbers
// llama-imatrix writes as NAME.in_sum2 and NAME.counts. The collection is
// done in C inside llama.cpp's graph-evaluation callback (cb_eval), the
// expert-routed MUL_MAT_ID case included. Activations on a GPU are reduced
// there to their column sums, once per activation: attn_k and attn_v reuse
// attn_q's sums, ffn_up ffn_gate's, so the scheduler stops four times a
// layer instead of seven.
//
// Chunking follows llama-imatrix's compute_imatrix: tokens[i*C:(i+1)*C] for
// each whole chunk i, the first token replaced by BOS when the vocabulary
// adds one, every position's logits requested (so the last layer sees every
// token). When ctx is cancelled between chunks, the statistics of the
// chunks done so far are returned with ctx's error.
func (m *Model) CollectIMatrix(ctx context.Context, tokens []int32, o IMatrixOptions) (*IMatrixStats, error) {
	if err := m.use(); err != nil {
		return nil, err
	}
	chunk := o.ChunkSize
	if chunk == 0 {
		chunk = 512
	}
	if chunk < 16 {
		return nil, errorf("imatrix: chunks of %d tokens are too small (llama-imatrix ignores batches under 16 tokens)", chunk)
	}
	if err := m.checkTokens(tokens); err != nil {
		m.done()
		return nil, err
	}
	nchunk := len(tokens) / chunk
	if o.Chunks > 0 {
		nchunk = min(nchunk, o.Chunks)
	}
	if nchunk < 1 {
		m.done()
		return nil, errorf("imatrix: %d tokens make no whole chunk of %d", len(tokens), chunk)
	}
	addBOS := bool(C.llama_vocab_get_add_bos(m.vocab))
	bos := int32(C.llama_vocab_bos(m.vocab))
	m.done()

	im := C.sattva_imatrix_new(C.int(btoi(o.ProcessOutput)), C.int(o.reduceMode))
	defer C.sattva_imatrix_free(im)
	c, err := m.newContext(ContextOptions{ContextSize: chunk, BatchSize: chunk, UBatchSize: min(chunk, 512),
		Threads: o.Threads, BatchThreads: o.Threads}, C.ggml_backend_sched_eval_callback(C.sattva_imatrix_cb), unsafe.Pointer(im))
	if err != nil {
		return nil, err
	}
	defer c.Close()

	st := &IMatrixStats{ChunkSize: chunk}
	buf := make([]int32, chunk)
	var runErr error
	for i := 0; i < nchunk; i++ {
		if err := ctx.Err(); err != nil {
			runErr = err
			break
		}
		copy(buf, tokens[i*chunk:(i+1)*chunk])
		if addBOS && bos >= 0 {
			buf[0] = bos
		}
		C.sattva_imatrix_graph_begin(im)
		if err := c.evalAll(buf); err != nil {
			return nil, err
		}
		var name [256]C.char
		if e := C.sattva_imatrix_error(im, &name[0], C.int(len(name))); e != 0 {
			what := "inconsistent shapes"
			if e == 1 {
				what = "a non-finite sum"
			}
			return nil, errorf("imatrix: %s in %s", what, C.GoString(&name[0]))
		}
		st.Chunks = i + 1
		if o.Progress != nil {
			o.Progress(i+1, nchunk)
		}
	}
	st.Entries = imatrixEntries(im)
	st.DeviceReduced = int64(C.sattva_imatrix_device_calls(im))
	st.SharedReduced = int64(C.sattva_imatrix_shared_calls(im))
	return st, runErr
}

// evalAll decodes toks as sequence 0 from an empty cache with every
// position's logits requested.
func (c *Context) evalAll(toks []int32) error { return c.evalChunk(toks, true) }

// evalChunk decodes toks as sequence 0 from an empty cache, with every
// position's logits requested or (all false) the last one's.
func (c *Context) evalChunk(toks []int32, all bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil {
		return ErrClosed
	}
	C.llama_memory_clear(c.mem, cBool(true))
	c.cached = c.cached[:0]
	_, err := c.prefill(toks, 0, 0, all, nil)
	C.llama_synchronize(c.ctx)
	return err
}

func imatrixEntries(im *C.sattva_imatrix) []IMatrixEntry {
	n := int(C.sattva_imatrix_snapshot(im))
	out := make([]IMatrixEntry, 0, n)
	for i := 0; i < n; i++ {
		var nval, nmat C.int64_t
		name := C.sattva_imatrix_entry(im, C.int(i), &nval, &nmat)
		if name == nil || nmat <= 0 || nval <= 0 {
			continue
		}
		e := IMatrixEntry{Name: C.GoString(name), Cols: int(nval / nmat),
			Sums: make([]float32, nval), Counts: make([]int64, nmat)}
		C.sattva_imatrix_copy(im, C.int(i), (*C.float)(unsafe.Pointer(&e.Sums[0])), (*C.int64_t)(unsafe.Pointer(&e.Counts[0])))
		out = append(out, e)
	}
	return out
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// quantizeIMatrix makes the C++ containers llama_model_quantize_params
// points to: the importance matrix (name → weights) and the kv_overrides
// vector with llama-quantize's quantize.imatrix.* keys. free releases both.
func quantizeIMatrix(im *QuantizeIMatrix) (imatrix, kvo unsafe.Pointer, free func()) {
	mp := C.sattva_imatrix_map_new()
	for name, w := range im.Entries {
		if len(w) == 0 {
			continue
		}
		cs := C.CString(name)
		C.sattva_imatrix_map_add(mp, cs, (*C.float)(unsafe.Pointer(&w[0])), C.int64_t(len(w)))
		C.free(unsafe.Pointer(cs))
	}
	v := C.sattva_kvo_new()
	str := func(k, val string) {
		ck, cv := C.CString(k), C.CString(val)
		C.sattva_kvo_add_str(v, ck, cv)
		C.free(unsafe.Pointer(ck))
		C.free(unsafe.Pointer(cv))
	}
	num := func(k string, val int64) {
		ck := C.CString(k)
		C.sattva_kvo_add_int(v, ck, C.int64_t(val))
		C.free(unsafe.Pointer(ck))
	}
	if len(im.Entries) > 0 {
		// The order and conditions of llama-quantize's main (tools/quantize/quantize.cpp).
		str("quantize.imatrix.file", im.File)
		if im.Dataset != "" {
			str("quantize.imatrix.dataset", im.Dataset)
		}
		num("quantize.imatrix.entries_count", int64(len(im.Entries)))
		if im.Chunks > 0 {
			num("quantize.imatrix.chunks_count", int64(im.Chunks))
		}
	}
	kv := C.sattva_kvo_finish(v)
	return mp, kv, func() {
		C.sattva_imatrix_map_free(mp)
		C.sattva_kvo_free(v)
	}
}

// tapMatMuls evaluates tokens in chunks exactly as CollectIMatrix does, but
// with a callback that hands every MUL_MAT's input to fn instead of
// accumulating: the independent path the tests check the collector against.
func (m *Model) tapMatMuls(tokens []int32, chunk int, fn func(matMulInput)) error {
	h := cgo.NewHandle(fn)
	defer h.Delete()
	// The callback's user data points to the handle in C memory: the handle
	// itself (a small integer) as an unsafe.Pointer on a goroutine stack is
	// an invalid pointer, which the runtime throws on when it copies the
	// stack.
	hp := (*C.uintptr_t)(C.malloc(C.size_t(unsafe.Sizeof(C.uintptr_t(0)))))
	defer C.free(unsafe.Pointer(hp))
	*hp = C.uintptr_t(h)
	c, err := m.newContext(ContextOptions{ContextSize: chunk, BatchSize: chunk, UBatchSize: min(chunk, 512), Threads: 2},
		C.ggml_backend_sched_eval_callback(C.sattva_tap_cb), unsafe.Pointer(hp))
	if err != nil {
		return err
	}
	defer c.Close()
	addBOS := bool(C.llama_vocab_get_add_bos(m.vocab))
	bos := int32(C.llama_vocab_bos(m.vocab))
	buf := make([]int32, chunk)
	for i := 0; i+chunk <= len(tokens); i += chunk {
		copy(buf, tokens[i:i+chunk])
		if addBOS && bos >= 0 {
			buf[0] = bos
		}
		if err := c.evalAll(buf); err != nil {
			return err
		}
	}
	return nil
}
