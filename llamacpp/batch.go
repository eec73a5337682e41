//go:build cgo

package llamacpp

/*
#include "helpers.h"
*/
import "C"

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// slot is one sequence of a GenerateBatch.
type slot struct {
	req      int // index in reqs; -1 when idle
	seq      int32
	smp      sampler
	prompt   []int32
	filled   int   // prompt tokens decoded
	pos      int   // tokens in the sequence's KV cells
	last     int32 // sampled token to decode next
	out      int   // batch index of this slot's logits this step, -1 none
	greedy   int32 // argmax found by argmaxParallel this step, -1 none
	text     stopText
	maxStop  int
	stopScan int // text offset from which a stop string can still start
}

// GenerateBatch runs many requests at once, each in its own sequence of the
// context (Parallel of them at a time; the rest wait for a free sequence).
// Every step decodes one llama_batch that holds the next token of every
// generating sequence and as many prompt tokens of newly started sequences
// as fit BatchSize, so prompts are prefilled in batches and decoding shares
// the GPU. Each request has its own sampler.
//
// onToken, when not nil, is called for every generated token in the order
// they are produced (without stop-string holdback); it must not use this
// Context. Results come back in the order of reqs. A request that cannot
// run (empty prompt, prompt longer than the context) gets its Err; an error
// of the whole batch (ctx done, decode failure) is returned, with the
// results so far.
func (c *Context) GenerateBatch(ctx context.Context, reqs []Request, onToken func(i int, t Token)) ([]Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil {
		return nil, ErrClosed
	}
	if c.busy {
		return nil, errBusy
	}
	pieces := c.m.genPieces() // sets c.m.stopPieces
	b := &batchRun{
		c:          c,
		reqs:       reqs,
		results:    make([]Result, len(reqs)),
		slots:      make([]slot, c.nSeq),
		pieces:     pieces,
		stopPieces: c.m.stopPieces,
		onToken:    onToken,
	}
	c.clearCache()
	c.cached = c.cached[:0]
	for i := range b.slots {
		b.slots[i] = slot{req: -1, seq: int32(i), out: -1, greedy: -1}
	}
	defer func() {
		for i := range b.slots {
			b.slots[i].smp.free()
		}
		c.clearCache()
	}()
	for {
		if err := ctx.Err(); err != nil {
			b.failActive(err)
			for ; b.next < len(reqs); b.next++ {
				b.results[b.next].Err = err
			}
			return b.results, err
		}
		if b.startWaiting() == 0 {
			return b.results, nil
		}
		if err := c.decode(b.fillBatch()); err != nil {
			b.failActive(err)
			return b.results, err
		}
		c.argmaxParallel(b.slots)
		for i := range b.slots {
			if s := &b.slots[i]; s.req >= 0 && s.out >= 0 {
				b.advance(s)
			}
		}
	}
}

// batchRun is the state of one GenerateBatch: the requests, their results
// and the sequences (slots) that run them. c.mu is held throughout.
type batchRun struct {
	c          *Context
	reqs       []Request
	results    []Result
	slots      []slot
	next       int      // the first request not yet started
	pieces     []string // text of each token
	stopPieces []string // text a stop string can match, for tokens of no text
	onToken    func(i int, t Token)
}

// failActive gives err to every request that has a sequence.
func (b *batchRun) failActive(err error) {
	for i := range b.slots {
		if b.slots[i].req >= 0 {
			b.results[b.slots[i].req].Err = err
		}
	}
}

// startWaiting starts waiting requests in idle sequences (a request that
// cannot run gets its Err and no sequence) and returns the sequences now
// generating.
func (b *batchRun) startWaiting() (active int) {
	c := b.c
	for i := range b.slots {
		s := &b.slots[i]
		for s.req < 0 && b.next < len(b.reqs) {
			r := b.reqs[b.next]
			res := &b.results[b.next]
			res.PromptTokens = len(r.Prompt)
			switch err := c.m.checkTokens(r.Prompt); {
			case len(r.Prompt) == 0:
				res.Err = errorf("request %d: empty prompt", b.next)
			case err != nil:
				res.Err = fmt.Errorf("request %d: %w", b.next, err)
			case len(r.Prompt) > c.nCtxSeq:
				res.Err = fmt.Errorf("%w: request %d: prompt of %d tokens does not fit a context of %d", ErrContextFull, b.next, len(r.Prompt), c.nCtxSeq)
			default:
				s.req, s.prompt, s.filled, s.pos, s.out = b.next, r.Prompt, 0, 0, -1
				s.smp = newSampler(r.Options.Sampling)
				s.smp.accept(r.Prompt)
				s.stopScan = 0
			}
			b.next++
		}
		if s.req >= 0 {
			active++
		}
	}
	return active
}

// fillBatch fills the llama_batch of one step: the next token of every
// generating sequence, then prompt tokens of prefilling ones while they fit
// nBatch. It sets each slot's out and returns the batch's tokens.
func (b *batchRun) fillBatch() int {
	c := b.c
	n := 0
	for i := range b.slots {
		s := &b.slots[i]
		s.out = -1
		if s.req >= 0 && s.filled == len(s.prompt) {
			C.sattva_batch_set(&c.batch, C.int32_t(n), C.llama_token(s.last), C.llama_pos(s.pos), C.llama_seq_id(s.seq), 1)
			s.out = n
			s.pos++
			n++
		}
	}
	for i := range b.slots {
		s := &b.slots[i]
		for s.req >= 0 && s.filled < len(s.prompt) && n < c.nBatch {
			var lg C.int8_t
			if s.filled == len(s.prompt)-1 {
				lg = 1
				s.out = n
			}
			C.sattva_batch_set(&c.batch, C.int32_t(n), C.llama_token(s.prompt[s.filled]), C.llama_pos(s.pos), C.llama_seq_id(s.seq), lg)
			s.filled++
			s.pos++
			n++
		}
	}
	return n
}

// advance samples the next token of s from this step's logits, adds it to
// its result, and finishes s at end of generation, a stop string, the
// token limit or a full context.
func (b *batchRun) advance(s *slot) {
	c := b.c
	var tok int32
	var err error
	if s.smp.chain == nil && s.greedy >= 0 {
		tok = s.greedy
	} else {
		tok, err = c.sample(s.smp, s.out)
	}
	if err != nil {
		b.results[s.req].Err = err
		b.finish(s, "")
		return
	}
	if c.m.IsEOG(tok) && !b.reqs[s.req].Options.IgnoreEOS {
		b.finish(s, StopEOG)
		return
	}
	r := &b.results[s.req]
	o := b.reqs[s.req].Options
	r.Tokens = append(r.Tokens, tok)
	piece := b.pieces[tok]
	if len(r.Tokens) == 1 && c.m.allBare(s.prompt) {
		piece = c.m.firstPiece(tok)
	}
	match := piece
	if piece == "" {
		match = b.stopPieces[tok]
	}
	s.text.add(piece, match)
	if b.onToken != nil {
		b.onToken(s.req, Token{ID: tok, Text: piece})
	}
	if len(o.Stop) > 0 {
		text := s.text.match.String()
		if firstStop(text[s.stopScan:], o.Stop) >= 0 {
			b.finish(s, StopString)
			return
		}
		maxStop := 0
		for _, x := range o.Stop {
			maxStop = max(maxStop, len(x))
		}
		s.stopScan = max(0, len(text)-maxStop+1)
	}
	if o.MaxTokens > 0 && len(r.Tokens) >= o.MaxTokens {
		b.finish(s, StopMaxTokens)
		return
	}
	if s.pos >= c.nCtxSeq {
		b.finish(s, StopContextFull)
		return
	}
	s.last = tok
}

// finish ends s's request with reason (its text cut before a stop string
// that matched), frees its KV cells and sampler and makes s idle.
func (b *batchRun) finish(s *slot, reason string) {
	r := &b.results[s.req]
	r.StopReason = reason
	text := s.text.gen.String()
	if reason == StopString {
		if k := firstStop(s.text.match.String(), b.reqs[s.req].Options.Stop); k >= 0 {
			text = text[:s.text.genCut(k)]
		}
	}
	r.Text = text
	C.llama_memory_seq_rm(b.c.mem, C.llama_seq_id(s.seq), -1, -1)
	s.smp.free()
	s.req, s.out = -1, -1
	s.text.reset()
}

// argmaxParallel finds the greedy tokens of the greedy slots of this step on
// several threads when there are enough of them and the vocabulary is large
// (a scan of 128K logits per sequence would otherwise add up on one core).
// Reading logits is safe from several threads; c.mu is held by the caller.
func (c *Context) argmaxParallel(slots []slot) {
	var idx []int
	for i := range slots {
		slots[i].greedy = -1
		if slots[i].req >= 0 && slots[i].out >= 0 && slots[i].smp.chain == nil {
			idx = append(idx, i)
		}
	}
	c.argmaxRows(len(idx), func(k int) int { return slots[idx[k]].out },
		func(k int, tok int32) { slots[idx[k]].greedy = tok })
}

// argmaxRows finds the greedy token of n logits rows on several threads,
// when there are enough rows and the vocabulary is large; otherwise it leaves
// them to the caller's sampler. row(k) is the k-th logits row, set(k, tok)
// receives its argmax. Batched generation and the server's slots share it.
func (c *Context) argmaxRows(n int, row func(k int) int, set func(k int, tok int32)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if n < 4 || c.nvocab < c.argmaxMinVocab || workers < 2 {
		return
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for k := w; k < n; k += workers {
				set(k, int32(C.sattva_argmax(c.ctx, C.int32_t(row(k)), C.int32_t(c.nvocab))))
			}
		}(w)
	}
	wg.Wait()
}

// argmaxF32 is the C argmax every greedy path runs (sattva_argmax_f32) over
// l: the first index of the largest value, -1 for an empty l.
func argmaxF32(l []float32) int32 {
	if len(l) == 0 {
		return -1
	}
	return int32(C.sattva_argmax_f32((*C.float)(unsafe.Pointer(&l[0])), C.int32_t(len(l))))
}
