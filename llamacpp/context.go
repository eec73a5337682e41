//go:build cgo

package llamacpp

/*
#include "helpers.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/sattva/sattva/gguf"
)

// Context is a llama.cpp context over a Model: a KV cache of Parallel
// sequences of ContextSize tokens each, a token batch and a sampling buffer.
// Its methods lock it, so one runs at a time; Close frees it (idempotent).
type Context struct {
	mu      sync.Mutex
	m       *Model
	ctx     *C.struct_llama_context
	mem     C.llama_memory_t
	batch   C.struct_llama_batch
	cand    *C.llama_token_data       // n_vocab candidates for sampling
	tp, tpb *C.struct_ggml_threadpool // CPU threadpools (generation, batches); tpb may equal tp
	nBatch  int
	nCtxSeq int
	nSeq    int
	nvocab  int
	busy    bool    // a Generate iterator is running
	cached  []int32 // tokens whose KV cells sequence 0 holds, positions 0..len-1
	// argmaxMinVocab is the vocabulary size from which GenerateBatch scans
	// greedy logits on several threads (tests lower it).
	argmaxMinVocab int
}

// NewContext makes a Context over the model with the model's LoRA adapters
// applied. The Context belongs to the model: Model.Close closes it too.
func (m *Model) NewContext(o ContextOptions) (*Context, error) {
	return m.newContext(o, nil, nil)
}

// newContext is NewContext with llama.cpp's graph-evaluation callback (cb_eval)
// set when cb is not nil.
func (m *Model) newContext(o ContextOptions, cb C.ggml_backend_sched_eval_callback, cbData unsafe.Pointer) (*Context, error) {
	if err := m.use(); err != nil {
		return nil, err
	}
	defer m.done()
	if m.opts.VocabOnly {
		return nil, errorf("model %s was loaded with VocabOnly: it has no weights to run", m.path)
	}
	if o.ContextSize < 0 || o.BatchSize < 0 || o.UBatchSize < 0 || o.Parallel < 0 || o.Threads < 0 || o.BatchThreads < 0 {
		return nil, errorf("negative context option: %+v", o)
	}
	nseq := max(o.Parallel, 1)
	nctx := o.ContextSize
	if nctx == 0 {
		nctx = min(4096, int(C.llama_model_n_ctx_train(m.model)))
		if nctx <= 0 {
			nctx = 4096
		}
	}
	if nctx*nseq > 1<<24 {
		return nil, errorf("context of %d sequences × %d tokens is too large", nseq, nctx)
	}
	nbatch := o.BatchSize
	if nbatch == 0 {
		nbatch = 2048
	}
	nbatch = max(nbatch, nseq)
	nubatch := o.UBatchSize
	if nubatch == 0 {
		nubatch = 512
	}
	nubatch = min(nubatch, nbatch)
	threads := o.Threads
	if threads == 0 {
		threads = runtime.NumCPU()
	}
	bthreads := o.BatchThreads
	if bthreads == 0 {
		bthreads = threads
	}

	p := C.llama_context_default_params()
	p.n_ctx = C.uint32_t(nctx * nseq)
	p.n_batch = C.uint32_t(nbatch)
	p.n_ubatch = C.uint32_t(nubatch)
	p.n_seq_max = C.uint32_t(nseq)
	p.n_threads = C.int32_t(threads)
	p.n_threads_batch = C.int32_t(bthreads)
	p.kv_unified = cBool(o.UnifiedKV)
	p.no_perf = cBool(true)
	p.cb_eval, p.cb_eval_user_data = cb, cbData
	if o.KVCacheType != "" {
		kt, err := gguf.ParseType(o.KVCacheType)
		if err != nil {
			return nil, errorf("KV cache type: %v", err)
		}
		p.type_k = C.enum_ggml_type(kt)
		p.type_v = C.enum_ggml_type(kt)
	}
	switch o.FlashAttention {
	case FlashAttentionOn:
		p.flash_attn_type = C.LLAMA_FLASH_ATTN_TYPE_ENABLED
	case FlashAttentionOff:
		p.flash_attn_type = C.LLAMA_FLASH_ATTN_TYPE_DISABLED
	default:
		p.flash_attn_type = C.LLAMA_FLASH_ATTN_TYPE_AUTO
	}

	e := initEngine("", nil)
	e.loadMu.Lock()
	e.sink.takeLastError()
	cctx := C.llama_init_from_model(m.model, p)
	why := e.sink.takeLastError()
	e.loadMu.Unlock()
	if cctx == nil {
		return nil, errorf("llama.cpp could not make a context of %d×%d tokens: %s", nseq, nctx, why)
	}
	c := &Context{
		m: m, ctx: cctx, mem: C.llama_get_memory(cctx),
		nBatch: int(C.llama_n_batch(cctx)), nCtxSeq: int(C.llama_n_ctx_seq(cctx)), nSeq: nseq, nvocab: m.nvocab,
		argmaxMinVocab: 16384,
	}
	for _, a := range m.adapters {
		if C.llama_set_adapter_lora(cctx, a.a, C.float(a.scale)) != 0 {
			C.sattva_llama_free(cctx)
			return nil, errorf("llama_set_adapter_lora failed")
		}
	}
	// Persistent threadpools, as llama-bench and llama-cli attach: without
	// them ggml starts and joins its threads on every graph it computes.
	c.tp = C.sattva_threadpool_new(C.int(threads), 50)
	c.tpb = c.tp
	if bthreads != threads {
		c.tpb = C.sattva_threadpool_new(C.int(bthreads), 50)
	}
	if c.tp != nil && c.tpb != nil {
		C.llama_attach_threadpool(cctx, c.tp, c.tpb)
	}
	c.batch = C.llama_batch_init(C.int32_t(c.nBatch), 0, 1)
	c.cand = (*C.llama_token_data)(C.malloc(C.size_t(m.nvocab) * C.size_t(unsafe.Sizeof(C.llama_token_data{}))))
	m.ctxMu.Lock()
	if m.ctxs == nil {
		m.ctxMu.Unlock()
		c.free()
		return nil, ErrClosed
	}
	m.ctxs[c] = struct{}{}
	m.ctxMu.Unlock()
	m.genPieces()
	return c, nil
}

// free releases the C objects; c.mu must be held or c unshared.
func (c *Context) free() {
	if c.ctx == nil {
		return
	}
	C.llama_batch_free(c.batch)
	C.free(unsafe.Pointer(c.cand))
	C.llama_detach_threadpool(c.ctx)
	C.sattva_llama_free(c.ctx)
	if c.tpb != c.tp {
		C.sattva_threadpool_free(c.tpb)
	}
	C.sattva_threadpool_free(c.tp)
	c.ctx, c.cand, c.mem, c.tp, c.tpb = nil, nil, nil, nil, nil
	c.cached = nil
}

// Close frees the context. It is idempotent; a running Generate then ends
// with ErrClosed.
func (c *Context) Close() error {
	c.mu.Lock()
	c.free()
	c.mu.Unlock()
	c.m.ctxMu.Lock()
	if c.m.ctxs != nil {
		delete(c.m.ctxs, c)
	}
	c.m.ctxMu.Unlock()
	return nil
}

// ContextSize is the number of tokens each sequence holds; Parallel the
// number of sequences; BatchSize the most tokens one decode takes.
func (c *Context) ContextSize() int { return c.nCtxSeq }

// Parallel is the number of sequences.
func (c *Context) Parallel() int { return c.nSeq }

// BatchSize is the most tokens one decode takes.
func (c *Context) BatchSize() int { return c.nBatch }

// Model is the model the context runs.
func (c *Context) Model() *Model { return c.m }

// Reset forgets every sequence's tokens.
func (c *Context) Reset() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil {
		return ErrClosed
	}
	c.clearCache()
	c.cached = c.cached[:0]
	return nil
}

func (c *Context) decode(n int) error {
	c.batch.n_tokens = C.int32_t(n)
	return c.decodeError(C.llama_decode(c.ctx, c.batch), n)
}

// decodeError is llama_decode's return code rc for n tokens as an error.
func (c *Context) decodeError(rc C.int32_t, n int) error {
	switch {
	case rc == 0:
		return nil
	case rc == 1:
		return fmt.Errorf("%w: llama_decode found no KV slot for %d tokens", ErrContextFull, n)
	case rc == 2:
		return errorf("llama_decode aborted")
	default:
		return errorf("llama_decode failed (%d)", int(rc))
	}
}

// prefill decodes toks into sequence seq from position pos0, in chunks of
// the batch size, asking for logits only at the last token (batch index
// returned). c.mu is held.
func (c *Context) prefill(toks []int32, pos0 int, seq int32, allLogits bool, onChunk func(first, n int)) (int, error) {
	last := -1
	for i := 0; i < len(toks); {
		n := min(c.nBatch, len(toks)-i)
		for j := 0; j < n; j++ {
			out := allLogits || i+j == len(toks)-1
			var lg C.int8_t
			if out {
				lg = 1
			}
			C.sattva_batch_set(&c.batch, C.int32_t(j), C.llama_token(toks[i+j]), C.llama_pos(pos0+i+j), C.llama_seq_id(seq), lg)
		}
		if err := c.decode(n); err != nil {
			return -1, err
		}
		if onChunk != nil {
			onChunk(i, n)
		}
		last = n - 1
		i += n
	}
	return last, nil
}

// Logits runs tokens as one sequence from an empty cache and returns the
// logits of every position: len(tokens) rows of NVocab floats.
func (c *Context) Logits(tokens []int32) ([][]float32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil {
		return nil, ErrClosed
	}
	if c.busy {
		return nil, errBusy
	}
	if err := c.m.checkTokens(tokens); err != nil {
		return nil, err
	}
	if len(tokens) > c.nCtxSeq {
		return nil, fmt.Errorf("%w: %d tokens do not fit a context of %d", ErrContextFull, len(tokens), c.nCtxSeq)
	}
	c.clearCache()
	c.cached = c.cached[:0]
	out := make([][]float32, 0, len(tokens))
	_, err := c.prefill(tokens, 0, 0, true, func(first, n int) {
		for j := 0; j < n; j++ {
			p := C.llama_get_logits_ith(c.ctx, C.int32_t(j))
			row := make([]float32, c.nvocab)
			if p != nil {
				copy(row, unsafe.Slice((*float32)(unsafe.Pointer(p)), c.nvocab))
			}
			out = append(out, row)
		}
	})
	if err != nil {
		c.clearCache()
		return nil, err
	}
	c.cached = append(c.cached, tokens...)
	return out, nil
}

var errBusy = errors.New("llamacpp: context is busy with another generation")

// sampler is a sampler chain, or nil for plain greedy (argmax, no penalty).
type sampler struct{ chain *C.struct_llama_sampler }

func newSampler(o SamplingOptions) sampler {
	penalty := o.RepeatPenalty != 0 && o.RepeatPenalty != 1
	if o.Temperature <= 0 && !penalty {
		return sampler{}
	}
	cp := C.llama_sampler_chain_default_params()
	cp.no_perf = cBool(true)
	ch := C.llama_sampler_chain_init(cp)
	if penalty {
		n := o.RepeatLastN
		if n == 0 {
			n = 64
		}
		C.llama_sampler_chain_add(ch, C.llama_sampler_init_penalties(C.int32_t(n), C.float(o.RepeatPenalty), 0, 0))
	}
	if o.Temperature <= 0 {
		C.llama_sampler_chain_add(ch, C.llama_sampler_init_greedy())
		return sampler{ch}
	}
	if o.TopK > 0 {
		C.llama_sampler_chain_add(ch, C.llama_sampler_init_top_k(C.int32_t(o.TopK)))
	}
	if o.TopP > 0 && o.TopP < 1 {
		C.llama_sampler_chain_add(ch, C.llama_sampler_init_top_p(C.float(o.TopP), 1))
	}
	if o.MinP > 0 {
		C.llama_sampler_chain_add(ch, C.llama_sampler_init_min_p(C.float(o.MinP), 1))
	}
	C.llama_sampler_chain_add(ch, C.llama_sampler_init_temp(C.float(o.Temperature)))
	C.llama_sampler_chain_add(ch, C.llama_sampler_init_dist(C.uint32_t(o.Seed)))
	return sampler{ch}
}

func (s *sampler) free() {
	if s.chain != nil {
		C.llama_sampler_free(s.chain)
		s.chain = nil
	}
}

// accept feeds prompt tokens to the penalty history.
func (s sampler) accept(toks []int32) {
	if s.chain == nil {
		return
	}
	for _, t := range toks {
		C.llama_sampler_accept(s.chain, C.llama_token(t))
	}
}

// sample picks the token from batch output idx. c.mu is held.
func (c *Context) sample(s sampler, idx int) (int32, error) {
	var t C.int32_t
	if s.chain == nil {
		t = C.sattva_argmax(c.ctx, C.int32_t(idx), C.int32_t(c.nvocab))
	} else {
		t = C.sattva_sample(s.chain, c.ctx, C.int32_t(idx), c.cand, C.int32_t(c.nvocab))
	}
	if t < 0 {
		return -1, errorf("sampling failed: no logits at batch index %d", idx)
	}
	return int32(t), nil
}

// Generate streams the tokens generated after prompt in sequence 0. The
// prompt is the whole token sequence (for a chat: every turn so far); the
// KV cells of the longest prefix it shares with what sequence 0 already
// holds are reused, so a growing chat only processes its new tokens.
//
// The sequence yields each token as it is sampled (with stop strings, text
// that may begin a stop string is held back until it cannot). It ends
// without error at an end-of-generation token, MaxTokens or a stop string;
// with ctx's error when ctx is done; with ErrContextFull when the sequence is
// full. Breaking out of the loop stops generation.
func (c *Context) Generate(ctx context.Context, prompt []int32, o GenerateOptions) iter.Seq2[Token, error] {
	return func(yield func(Token, error) bool) {
		if err := c.acquire(); err != nil {
			yield(Token{}, err)
			return
		}
		defer c.release()
		c.generate(ctx, prompt, o, yield)
	}
}

func (c *Context) acquire() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil {
		return ErrClosed
	}
	if c.busy {
		return errBusy
	}
	c.busy = true
	return nil
}

func (c *Context) release() {
	c.mu.Lock()
	c.busy = false
	c.mu.Unlock()
}

// generate runs one generation; c.busy is set, c.mu is not held.
func (c *Context) generate(ctx context.Context, prompt []int32, o GenerateOptions, yield func(Token, error) bool) {
	if len(prompt) == 0 {
		yield(Token{}, errorf("empty prompt"))
		return
	}
	if err := c.m.checkTokens(prompt); err != nil {
		yield(Token{}, err)
		return
	}
	if len(prompt) > c.nCtxSeq {
		yield(Token{}, fmt.Errorf("%w: prompt of %d tokens does not fit a context of %d", ErrContextFull, len(prompt), c.nCtxSeq))
		return
	}
	if err := ctx.Err(); err != nil {
		yield(Token{}, err)
		return
	}
	pieces := c.m.genPieces()
	stopPieces := c.m.stopPieces
	st := newStopper(o.Stop)
	bare := c.m.allBare(prompt)

	c.mu.Lock()
	if c.ctx == nil {
		c.mu.Unlock()
		yield(Token{}, ErrClosed)
		return
	}
	smp := newSampler(o.Sampling)
	defer func() {
		c.mu.Lock()
		smp.free()
		c.mu.Unlock()
	}()
	// Reuse the cached prefix; at least one token must be decoded for logits.
	n := 0
	for n < len(c.cached) && n < len(prompt) && c.cached[n] == prompt[n] {
		n++
	}
	if n == len(prompt) {
		n--
	}
	if !C.llama_memory_seq_rm(c.mem, 0, C.llama_pos(n), -1) {
		C.llama_memory_seq_rm(c.mem, 0, -1, -1)
		n = 0
	}
	c.cached = append(c.cached[:n], prompt[n:]...)
	smp.accept(prompt)
	idx, err := c.prefill(prompt[n:], n, 0, false, nil)
	if err != nil {
		C.llama_memory_seq_rm(c.mem, 0, -1, -1)
		c.cached = c.cached[:0]
	}
	c.mu.Unlock()
	if err != nil {
		yield(Token{}, err)
		return
	}

	for generated := 0; ; generated++ {
		c.mu.Lock()
		if c.ctx == nil {
			c.mu.Unlock()
			yield(Token{}, ErrClosed)
			return
		}
		tok, err := c.sample(smp, idx)
		c.mu.Unlock()
		if err != nil {
			yield(Token{}, err)
			return
		}
		if c.m.IsEOG(tok) && !o.IgnoreEOS {
			st.flush(yield)
			return
		}
		text := pieces[tok]
		if generated == 0 && bare {
			text = c.m.firstPiece(tok)
		}
		match := text
		if text == "" {
			match = stopPieces[tok]
		}
		if done, ok := st.add(Token{ID: tok, Text: text}, match, yield); done || !ok {
			return
		}
		if o.MaxTokens > 0 && generated+1 >= o.MaxTokens {
			st.flush(yield)
			return
		}
		if err := ctx.Err(); err != nil {
			st.flush(yield)
			yield(Token{}, err)
			return
		}
		c.mu.Lock()
		if c.ctx == nil {
			c.mu.Unlock()
			yield(Token{}, ErrClosed)
			return
		}
		pos := len(c.cached)
		if pos >= c.nCtxSeq {
			c.mu.Unlock()
			st.flush(yield)
			yield(Token{}, fmt.Errorf("%w: %d tokens", ErrContextFull, pos))
			return
		}
		C.sattva_batch_set(&c.batch, 0, C.llama_token(tok), C.llama_pos(pos), 0, 1)
		err = c.decode(1)
		if err == nil {
			c.cached = append(c.cached, tok)
		}
		idx = 0
		c.mu.Unlock()
		if err != nil {
			st.flush(yield)
			yield(Token{}, err)
			return
		}
	}
}

// stopper holds back generated text that may be the start of a stop string.
// Stop strings are matched against the text with special tokens rendered
// (a stop "<|start_header_id|>" ends the generation when the model emits
// that token, as in Ollama); the text yielded is the generation text, in
// which special tokens render as nothing.
type stopper struct {
	stops   []string
	text    strings.Builder // match text of the held tokens
	held    []Token
	matchN  []int // length of each held token's match text
	maxStop int
}

func newStopper(stops []string) *stopper {
	s := &stopper{}
	for _, x := range stops {
		if x != "" {
			s.stops = append(s.stops, x)
			s.maxStop = max(s.maxStop, len(x))
		}
	}
	return s
}

// add takes one token and the text stop strings see for it. done is true
// when a stop string ended the generation; ok is false when the consumer
// stopped.
func (s *stopper) add(t Token, match string, yield func(Token, error) bool) (done, ok bool) {
	if len(s.stops) == 0 {
		return false, yield(t, nil)
	}
	s.held = append(s.held, t)
	s.matchN = append(s.matchN, len(match))
	s.text.WriteString(match)
	text := s.text.String()
	if k := firstStop(text, s.stops); k >= 0 {
		s.emitUpTo(k, yield)
		return true, true
	}
	safe := len(text) - partialStop(text, s.stops)
	// Yield whole held tokens that end at or before safe.
	end, i := 0, 0
	for ; i < len(s.held); i++ {
		if end+s.matchN[i] > safe {
			break
		}
		end += s.matchN[i]
		if !yield(s.held[i], nil) {
			return false, false
		}
	}
	if i > 0 {
		rest := text[end:]
		s.held = append(s.held[:0], s.held[i:]...)
		s.matchN = append(s.matchN[:0], s.matchN[i:]...)
		s.text.Reset()
		s.text.WriteString(rest)
	}
	return false, true
}

// emitUpTo yields the held tokens' text up to match offset k, cutting the
// last one (a special token the stop starts inside is dropped whole).
func (s *stopper) emitUpTo(k int, yield func(Token, error) bool) {
	end := 0
	for i, t := range s.held {
		if end >= k {
			break
		}
		n := s.matchN[i]
		if end+n > k {
			if len(t.Text) != n {
				break
			}
			t.Text = t.Text[:k-end]
		}
		end += n
		if !yield(t, nil) {
			break
		}
	}
	s.held, s.matchN = s.held[:0], s.matchN[:0]
	s.text.Reset()
}

func (s *stopper) flush(yield func(Token, error) bool) {
	for _, t := range s.held {
		if !yield(t, nil) {
			break
		}
	}
	s.held, s.matchN = s.held[:0], s.matchN[:0]
	s.text.Reset()
}

// stopText is a generation's text twice over: as generated (gen) and as
// stop strings see it (match, special tokens rendered), with each token's
// end offsets in both, so a stop found in match cuts gen at the same place.
type stopText struct {
	gen, match strings.Builder
	ends       [][2]int // per token: end in gen, end in match
}

func (s *stopText) add(gen, match string) {
	s.gen.WriteString(gen)
	s.match.WriteString(match)
	s.ends = append(s.ends, [2]int{s.gen.Len(), s.match.Len()})
}

// genCut returns the gen offset of match offset k: tokens wholly before k,
// and the part of a plain token that k cuts (a special token k falls
// inside is left out).
func (s *stopText) genCut(k int) int {
	g, m := 0, 0
	for _, e := range s.ends {
		if e[1] > k {
			if e[1]-m == e[0]-g { // a plain token: same text in both
				return g + (k - m)
			}
			return g
		}
		g, m = e[0], e[1]
	}
	return g
}

func (s *stopText) reset() {
	s.gen.Reset()
	s.match.Reset()
	s.ends = s.ends[:0]
}

// firstStop returns the byte offset of the earliest stop string in text, or -1.
func firstStop(text string, stops []string) int {
	best := -1
	for _, x := range stops {
		if x == "" {
			continue
		}
		if k := strings.Index(text, x); k >= 0 && (best < 0 || k < best) {
			best = k
		}
	}
	return best
}

// partialStop returns the length of the longest suffix of text that is a
// proper prefix of a stop string.
func partialStop(text string, stops []string) int {
	best := 0
	for _, x := range stops {
		for n := min(len(x)-1, len(text)); n > best; n-- {
			if strings.HasSuffix(text, x[:n]) {
				best = n
				break
			}
		}
	}
	return best
}

// clearCache forgets every sequence's cells (metadata only, as llama-bench
// and llama.cpp's server clear). With data=true llama.cpp also memsets every
// KV buffer, on a CUDA machine through cudaMemsetAsync on the calling
// thread's cudaStreamPerThread and a cudaStreamSynchronize; after that,
// generation on the H200 replayed its CUDA graph ~8% slower (the C++
// anchor with `--clear-data 1`: 739 against 804 tok/s on a 1B model,
// bench/gpu/pinprobe.sh). Stale values in freed cells never reach a
// result: llama.cpp zeroes the buffers when it allocates them, and masks
// every cell a sequence does not hold (weight exactly 0 on finite values).
func (c *Context) clearCache() {
	C.llama_memory_clear(c.mem, cBool(false))
}
