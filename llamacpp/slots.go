//go:build cgo

package llamacpp

/*
#include "helpers.h"
#include "slots.h"
*/
import "C"

import (
	"fmt"
	"math"
	"unsafe"
)

// Slots drives the sequences of one Context step by step, for a server's
// continuous batching: a caller starts a request in a free slot whenever it
// likes, and every Step decodes one llama_batch holding the next token of
// every generating slot and as many prompt tokens of starting slots as fit
// the batch, then samples each slot that has logits with its own sampler
// chain. A slot keeps the KV cells of its last prompt and generation after
// it stops, so a request whose prompt shares a prefix with them (the same
// system prompt, the next turn of a chat) decodes only what is new.
//
// Slots is used by one goroutine at a time. While it is open the Context's
// other generation methods answer busy; Close gives the Context back.
type Slots struct {
	c      *Context
	seqs   []slotSeq
	pieces []string
	closed bool
}

type slotSeq struct {
	active  bool
	cached  []int32 // tokens whose KV cells the sequence holds, positions 0..len-1
	pending []int32 // tokens to decode next (the prompt's rest, or the last sampled token)
	smp     sampler
	grammar *C.struct_llama_sampler // nil without a grammar
	o       SlotOptions
	nGen    int
	bare    bool  // the prompt renders as no text: the first piece drops its leading space
	out     int   // batch index of this step's logits, -1 none
	greedy  int32 // argmax found on several threads this step, -1 none
}

// NewSlots takes the Context for step-by-step generation of Parallel slots.
// Every sequence is cleared first.
func (c *Context) NewSlots() (*Slots, error) {
	if err := c.acquire(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil {
		c.busy = false
		return nil, ErrClosed
	}
	c.clearCache()
	c.cached = c.cached[:0]
	s := &Slots{c: c, seqs: make([]slotSeq, c.nSeq), pieces: c.m.genPieces()}
	for i := range s.seqs {
		s.seqs[i].out, s.seqs[i].greedy = -1, -1
	}
	return s, nil
}

// Len is the number of slots.
func (s *Slots) Len() int { return len(s.seqs) }

// Active reports whether slot i is running a request.
func (s *Slots) Active(i int) bool { return s.seqs[i].active }

// CommonPrefix is how many leading tokens of prompt slot i's KV cells hold
// already.
func (s *Slots) CommonPrefix(i int, prompt []int32) int {
	c := s.seqs[i].cached
	n := 0
	for n < len(c) && n < len(prompt) && c[n] == prompt[n] {
		n++
	}
	return n
}

// Start begins a request in the free slot i. The KV cells of the longest
// prefix the prompt shares with what the slot holds are kept (at least one
// token is decoded again, for its logits); reused is their count. The
// prompt is decoded by the following Steps.
func (s *Slots) Start(i int, prompt []int32, o SlotOptions) (reused int, err error) {
	c := s.c
	if s.closed {
		return 0, ErrClosed
	}
	if i < 0 || i >= len(s.seqs) {
		return 0, errorf("slot %d out of range [0,%d)", i, len(s.seqs))
	}
	q := &s.seqs[i]
	if q.active {
		return 0, errorf("slot %d is busy", i)
	}
	if len(prompt) == 0 {
		return 0, errorf("empty prompt")
	}
	if err := c.m.checkTokens(prompt); err != nil {
		return 0, err
	}
	if len(prompt) >= c.nCtxSeq {
		return 0, fmt.Errorf("%w: prompt of %d tokens does not fit a context of %d", ErrContextFull, len(prompt), c.nCtxSeq)
	}
	if o.Logprobs < 0 || o.Logprobs > MaxTopLogprobs+1 {
		return 0, errorf("logprobs %d out of range [0,%d]", o.Logprobs, MaxTopLogprobs+1)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil {
		return 0, ErrClosed
	}
	smp, g, err := c.m.newSlotSampler(o, prompt)
	if err != nil {
		return 0, err
	}
	n := s.CommonPrefix(i, prompt)
	if n == len(prompt) {
		n--
	}
	if !C.llama_memory_seq_rm(c.mem, C.llama_seq_id(i), C.llama_pos(n), -1) {
		C.llama_memory_seq_rm(c.mem, C.llama_seq_id(i), -1, -1)
		n = 0
	}
	q.cached = q.cached[:n] // equal to prompt[:n]
	q.pending = append(q.pending[:0], prompt[n:]...)
	q.smp, q.grammar = smp, g
	q.o = o
	q.nGen = 0
	q.bare = c.m.allBare(prompt)
	q.active = true
	q.out, q.greedy = -1, -1
	return n, nil
}

// newSlotSampler is newSampler with its penalty history fed with the
// prompt, and the grammar sampler (nil without a grammar), which sees
// generated tokens only. c.mu is held.
func (m *Model) newSlotSampler(o SlotOptions, prompt []int32) (sampler, *C.struct_llama_sampler, error) {
	var g *C.struct_llama_sampler
	if o.Grammar != "" {
		root := o.GrammarRoot
		if root == "" {
			root = "root"
		}
		cg, cr := C.CString(o.Grammar), C.CString(root)
		defer C.free(unsafe.Pointer(cg))
		defer C.free(unsafe.Pointer(cr))
		e := initEngine("", nil)
		e.loadMu.Lock()
		e.sink.takeLastError()
		g = C.sattva_grammar_init(m.vocab, cg, cr)
		why := e.sink.takeLastError()
		e.loadMu.Unlock()
		if g == nil {
			if why != "" {
				why = ": " + why
			}
			return sampler{}, nil, fmt.Errorf("%w: llama.cpp cannot parse it%s", ErrGrammar, why)
		}
	}
	smp := newSampler(o.Sampling)
	smp.accept(prompt)
	return smp, g, nil
}

// freeSamplers frees q's sampler chain and grammar. c.mu is held.
func (q *slotSeq) freeSamplers() {
	q.smp.free()
	if q.grammar != nil {
		C.llama_sampler_free(q.grammar)
		q.grammar = nil
	}
}

// Stop ends slot i's request. Its KV cells stay for a later request with a
// common prefix. It is a no-op for a free slot.
func (s *Slots) Stop(i int) {
	q := &s.seqs[i]
	if !q.active {
		return
	}
	s.c.mu.Lock()
	q.freeSamplers()
	s.c.mu.Unlock()
	// A token sampled but not decoded has no cell.
	q.pending = q.pending[:0]
	q.active = false
	q.out, q.greedy = -1, -1
}

// Forget stops slot i and drops its KV cells.
func (s *Slots) Forget(i int) {
	s.Stop(i)
	s.c.mu.Lock()
	if s.c.ctx != nil {
		C.llama_memory_seq_rm(s.c.mem, C.llama_seq_id(i), -1, -1)
	}
	s.c.mu.Unlock()
	s.seqs[i].cached = s.seqs[i].cached[:0]
}

// Step decodes one batch (the next token of every generating slot, then
// prompt tokens of starting slots, up to BatchSize) and samples every slot
// whose last pending token was decoded. It returns nothing when no slot is
// active. An error of the decode itself is returned; every active slot is
// then stopped and its cells forgotten.
func (s *Slots) Step() ([]SlotToken, error) {
	c := s.c
	if s.closed {
		return nil, ErrClosed
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil {
		return nil, ErrClosed
	}
	n := 0
	// Generating slots first: one token each.
	for i := range s.seqs {
		q := &s.seqs[i]
		q.out = -1
		if q.active && len(q.pending) == 1 && n < c.nBatch {
			C.sattva_batch_set(&c.batch, C.int32_t(n), C.llama_token(q.pending[0]), C.llama_pos(len(q.cached)), C.llama_seq_id(i), 1)
			q.cached = append(q.cached, q.pending[0])
			q.pending = q.pending[:0]
			q.out = n
			n++
		}
	}
	for i := range s.seqs {
		q := &s.seqs[i]
		if !q.active || len(q.pending) == 0 || n >= c.nBatch {
			continue
		}
		k := min(len(q.pending), c.nBatch-n)
		for j := 0; j < k; j++ {
			var lg C.int8_t
			if j == len(q.pending)-1 {
				lg = 1
				q.out = n
			}
			C.sattva_batch_set(&c.batch, C.int32_t(n), C.llama_token(q.pending[j]), C.llama_pos(len(q.cached)), C.llama_seq_id(i), lg)
			q.cached = append(q.cached, q.pending[j])
			n++
		}
		q.pending = append(q.pending[:0], q.pending[k:]...)
	}
	if n == 0 {
		return nil, nil
	}
	if err := c.decode(n); err != nil {
		for i := range s.seqs {
			if s.seqs[i].active {
				s.seqs[i].freeSamplers()
				s.seqs[i].active = false
			}
			C.llama_memory_seq_rm(c.mem, C.llama_seq_id(i), -1, -1)
			s.seqs[i].cached = s.seqs[i].cached[:0]
			s.seqs[i].pending = s.seqs[i].pending[:0]
		}
		return nil, err
	}
	s.argmaxParallel()
	var out []SlotToken
	for i := range s.seqs {
		q := &s.seqs[i]
		if !q.active || q.out < 0 {
			continue
		}
		st := SlotToken{Slot: i}
		var tok int32
		switch {
		case q.grammar != nil:
			tok = int32(C.sattva_sample_grammar(q.grammar, q.smp.chain, c.ctx, C.int32_t(q.out), c.cand, C.int32_t(c.nvocab)))
		case q.smp.chain == nil && q.greedy >= 0:
			tok = q.greedy
		case q.smp.chain == nil:
			tok = int32(C.sattva_argmax(c.ctx, C.int32_t(q.out), C.int32_t(c.nvocab)))
		default:
			tok = int32(C.sattva_sample(q.smp.chain, c.ctx, C.int32_t(q.out), c.cand, C.int32_t(c.nvocab)))
		}
		switch {
		case tok == -2:
			st.Err = fmt.Errorf("%w: no token of the model can continue the text the grammar allows", ErrGrammar)
		case tok < 0:
			st.Err = errorf("sampling failed: no logits at batch index %d", q.out)
		}
		if st.Err != nil {
			q.freeSamplers()
			q.active = false
			out = append(out, st)
			continue
		}
		st.ID = tok
		if q.o.Logprobs > 0 {
			s.logprobs(q, tok, &st)
		}
		if c.m.IsEOG(tok) {
			st.EOG = true
		} else {
			st.Text = s.pieces[tok]
			if q.nGen == 0 && q.bare {
				st.Text = c.m.firstPiece(tok)
			}
		}
		q.nGen++
		q.pending = append(q.pending[:0], tok)
		if len(q.cached) >= c.nCtxSeq {
			st.Full = true
			q.freeSamplers()
			q.pending = q.pending[:0]
			q.active = false
		}
		out = append(out, st)
	}
	return out, nil
}

// logprobs fills st's log-probabilities from the raw logits. c.mu is held.
func (s *Slots) logprobs(q *slotSeq, tok int32, st *SlotToken) {
	c := s.c
	k := q.o.Logprobs - 1
	var ids [MaxTopLogprobs]C.int32_t
	var lps [MaxTopLogprobs]C.float
	var lp C.float
	got := C.sattva_logprobs(c.ctx, C.int32_t(q.out), C.int32_t(c.nvocab), C.int32_t(tok), &lp, C.int32_t(k), &ids[0], &lps[0])
	st.Logprob = float32(lp)
	if math.IsNaN(float64(st.Logprob)) {
		st.Logprob = float32(math.Inf(-1))
	}
	for j := 0; j < int(got); j++ {
		id := int32(ids[j])
		st.Top = append(st.Top, TokenLogprob{ID: id, Text: s.pieces[id], Logprob: float32(lps[j])})
	}
}

// argmaxParallel finds the greedy tokens of this step's plain-greedy slots
// on several threads when there are enough of them and the vocabulary is
// large. c.mu is held.
func (s *Slots) argmaxParallel() {
	var idx []int
	for i := range s.seqs {
		s.seqs[i].greedy = -1
		if s.seqs[i].active && s.seqs[i].out >= 0 && s.seqs[i].smp.chain == nil && s.seqs[i].grammar == nil {
			idx = append(idx, i)
		}
	}
	s.c.argmaxRows(len(idx), func(k int) int { return s.seqs[idx[k]].out },
		func(k int, tok int32) { s.seqs[idx[k]].greedy = tok })
}

// Close stops every slot, clears the sequences and gives the Context back.
// It is idempotent.
func (s *Slots) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	c := s.c
	c.mu.Lock()
	for i := range s.seqs {
		s.seqs[i].freeSamplers()
		s.seqs[i].active = false
	}
	if c.ctx != nil {
		c.clearCache()
	}
	c.busy = false
	c.mu.Unlock()
	return nil
}
