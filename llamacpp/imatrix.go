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
	"path/filepath"
	"runtime"
	"runtime/cgo"
	"unsafe"
)

// CollectIMatrix runs the model over tokens in chunks, as llama-imatrix
// does, and returns for every matrix multiplication's weight the sum of
// squared activations per input column and the rows counted: the numbers
// llama-imatrix writes as NAME.in_sum2 and NAME.counts. The collection is
// done in C (imatrix.cpp). Activations on a GPU are reduced on the device,
// once per activation (attn_q, attn_k and attn_v share one, as do ffn_gate
// and ffn_up), on a second stream that runs beside the graph's, into sums
// that stay on the device until the end: the pass never waits for the host.
// The others, and the expert-routed MUL_MAT_ID case, are summed on the host
// in llama.cpp's graph-evaluation callback (cb_eval).
//
// Chunking follows llama-imatrix's compute_imatrix: tokens[i*C:(i+1)*C] for
// each whole chunk i, the first token replaced by BOS when the vocabulary
// adds one, every position's logits requested (so the last layer sees every
// token). Unless ProcessOutput is set, each pass then stops after the last
// weight, before the output layer, on a GPU or a CPU (IMatrixStats.
// OutputSkipped counts the passes stopped): the logits are neither computed
// nor copied. When ctx is cancelled between chunks, the statistics of the
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

	// sattva's own CUDA kernel for the device sums (llamacpp/cuda), where it
	// was built beside ggml's CUDA plugin; without it ggml's kernels do.
	if kern := filepath.Join(initEngine("", nil).dir, "libsattva-cuda"+soExt); fileExists(kern) {
		ck := C.CString(kern)
		C.sattva_imatrix_kernels(ck)
		C.free(unsafe.Pointer(ck))
	}
	im := C.sattva_imatrix_new(C.int(btoi(o.ProcessOutput)), C.int(o.reduceMode))
	defer C.sattva_imatrix_free(im)
	ubatch := min(chunk, 512)
	if o.uBatchSize > 0 {
		ubatch = min(chunk, o.uBatchSize)
	}
	threads := o.Threads
	if threads == 0 && m.opts.GPULayers <= 0 && m.Device().Kind != "CPU" {
		// Every layer on a GPU: the CPU only looks the tokens' embeddings up;
		// all its threads polling can slow the host's launches (8B, H100,
		// BenchmarkIMatrixChunk, 4 against 16 threads in three calls: 31.7
		// against 39.3 ms a chunk, 31.5 against 32.1, 29.2 against 28.5).
		threads = min(4, runtime.NumCPU())
	}
	c, err := m.newContext(ContextOptions{ContextSize: chunk, BatchSize: chunk, UBatchSize: ubatch,
		Threads: threads, BatchThreads: threads},
		C.ggml_backend_sched_eval_callback(C.sattva_imatrix_cb), unsafe.Pointer(im))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	C.sattva_imatrix_attach(im, c.ctx, C.int((chunk+ubatch-1)/ubatch))
	defer C.sattva_imatrix_detach(im) // before c.Close: the hooked backends are the context's
	sink := initEngine("", nil).sink
	sink.stopping.Add(1)
	defer sink.stopping.Add(-1)

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
		stopped, err := c.evalIMatrixChunk(buf, im)
		if err != nil {
			return nil, err
		}
		if stopped {
			st.OutputSkipped++
		}
		// The device sums are read back and checked after the first chunk
		// and at the end; the host sums are checked as they are added.
		if i == 0 {
			C.sattva_imatrix_sync(im)
		}
		if err := imatrixError(im); err != nil {
			return nil, err
		}
		st.Chunks = i + 1
		if o.Progress != nil {
			o.Progress(i+1, nchunk)
		}
	}
	C.sattva_imatrix_sync(im)
	if err := imatrixError(im); err != nil {
		return nil, err
	}
	st.graphsReused = int(C.llama_perf_context(c.ctx).n_reused)
	st.Entries = imatrixEntries(im)
	var n [5]C.int64_t
	C.sattva_imatrix_counts(im, &n[0])
	st.DeviceReduced, st.SharedReduced = int64(n[0]), int64(n[1])
	st.schedReduced, st.sideReduced, st.kernelReduced = int64(n[2]), int64(n[3]), int64(n[4])
	return st, runErr
}

// imatrixError is the collector's first error (a size that changed, a
// non-finite sum) as a Go error naming the weight, or nil.
func imatrixError(im *C.sattva_imatrix) error {
	var name [256]C.char
	e := C.sattva_imatrix_error(im, &name[0], C.int(len(name)))
	if e == 0 {
		return nil
	}
	what := "inconsistent shapes"
	if e == 1 {
		what = "a non-finite sum"
	}
	return errorf("imatrix: %s in %s", what, C.GoString(&name[0]))
}

// evalIMatrixChunk decodes toks as sequence 0 from an empty cache with
// every position's logits requested, for the collector im. It reports
// whether the collector stopped the decode after its last weight
// (llama_decode's 2, which is then no error).
func (c *Context) evalIMatrixChunk(toks []int32, im *C.sattva_imatrix) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil {
		return false, ErrClosed
	}
	C.llama_memory_clear(c.mem, cBool(true))
	c.cached = c.cached[:0]
	if len(toks) > c.nBatch {
		return false, errorf("imatrix: a chunk of %d tokens exceeds the batch of %d", len(toks), c.nBatch)
	}
	for j, t := range toks {
		C.sattva_batch_set(&c.batch, C.int32_t(j), C.llama_token(t), C.llama_pos(j), 0, 1)
	}
	c.batch.n_tokens = C.int32_t(len(toks))
	C.sattva_imatrix_graph_begin(im)
	rc := C.llama_decode(c.ctx, c.batch)
	C.llama_synchronize(c.ctx)
	if rc == 2 && bool(C.sattva_imatrix_stopped(im)) {
		return true, nil
	}
	if rc != 0 {
		c.batch.n_tokens = 0
		return false, c.decodeError(rc, len(toks))
	}
	return false, nil
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
// ubatch is the context's ubatch (0: min(chunk, 512), as CollectIMatrix's
// default): a GPU computes a ubatch of another size with other kernels.
func (m *Model) tapMatMuls(tokens []int32, chunk, ubatch int, fn func(matMulInput)) error {
	h := cgo.NewHandle(fn)
	defer h.Delete()
	// The callback's user data points to the handle in C memory: the handle
	// itself (a small integer) as an unsafe.Pointer on a goroutine stack is
	// an invalid pointer, which the runtime throws on when it copies the
	// stack.
	hp := (*C.uintptr_t)(C.malloc(C.size_t(unsafe.Sizeof(C.uintptr_t(0)))))
	defer C.free(unsafe.Pointer(hp))
	*hp = C.uintptr_t(h)
	if ubatch <= 0 {
		ubatch = 512
	}
	c, err := m.newContext(ContextOptions{ContextSize: chunk, BatchSize: chunk, UBatchSize: min(chunk, ubatch), Threads: 2},
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
