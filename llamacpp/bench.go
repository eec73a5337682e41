//go:build cgo

package llamacpp

/*
#include "helpers.h"
*/
import "C"

import (
	"context"
	"math/rand/v2"
	"time"
)

// BenchOptions describe a llama-bench-like run: a prompt of PromptTokens
// random tokens decoded at once (pp), and GenTokens tokens decoded one at a
// time (tg), each from an empty cache, Repetitions times after one warm-up.
type BenchOptions struct {
	PromptTokens int // 0: no pp test
	GenTokens    int // 0: no tg test
	Repetitions  int // 0: 5
	Seed         uint64
	// CLoop runs the tg loop in one C call instead of one cgo call per
	// step (a diagnostic: it tells Go's share of the generation time).
	CLoop bool
	// StepTimes records the time of every decode of the tg test in
	// BenchResult.GenSteps (not with CLoop): a median over steps is robust
	// to a busy machine's preemptions, a total is not.
	StepTimes bool
}

// BenchResult holds the wall time of every repetition of each test.
type BenchResult struct {
	Prompt []time.Duration // one per repetition of the pp test
	Gen    []time.Duration // one per repetition of the tg test
	// GenSteps holds, with StepTimes, the duration of each decode (and its
	// llama_synchronize) of each repetition of the tg test.
	GenSteps [][]time.Duration
}

// Bench measures prompt processing and generation the way llama-bench does:
// random token ids (BOS first), no sampling, llama_synchronize after each
// test. It uses sequence 0 and leaves the cache empty.
func (c *Context) Bench(ctx context.Context, o BenchOptions) (*BenchResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil {
		return nil, ErrClosed
	}
	if c.busy {
		return nil, errBusy
	}
	reps := o.Repetitions
	if reps <= 0 {
		reps = 5
	}
	if o.PromptTokens > c.nCtxSeq || o.GenTokens > c.nCtxSeq {
		return nil, errorf("bench: %d/%d tokens do not fit a context of %d", o.PromptTokens, o.GenTokens, c.nCtxSeq)
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x5a77a))
	bos := C.llama_vocab_bos(c.m.vocab)
	toks := make([]int32, max(o.PromptTokens, 1))
	randomize := func() {
		for i := range toks {
			toks[i] = int32(rng.IntN(c.nvocab))
		}
		if bos >= 0 {
			toks[0] = int32(bos)
		}
	}
	pp := func() (time.Duration, error) {
		randomize()
		c.clearCache()
		start := time.Now()
		if _, err := c.prefill(toks[:o.PromptTokens], 0, 0, false, nil); err != nil {
			return 0, err
		}
		C.llama_synchronize(c.ctx)
		return time.Since(start), nil
	}
	var steps []time.Duration
	tg := func() (time.Duration, error) {
		c.clearCache()
		steps = steps[:0]
		tok := C.llama_token(bos)
		if bos < 0 {
			tok = 0
		}
		start := time.Now()
		if o.CLoop {
			if rc := C.sattva_bench_tg(c.ctx, &c.batch, C.int(o.GenTokens), tok, C.int(c.nvocab), C.uint64_t(rng.Uint64())); rc != 0 {
				return 0, errorf("llama_decode failed (%d)", int(rc))
			}
			return time.Since(start), nil
		}
		last := start
		for i := 0; i < o.GenTokens; i++ {
			C.sattva_batch_set(&c.batch, 0, tok, C.llama_pos(i), 0, 1)
			if err := c.decode(1); err != nil {
				return 0, err
			}
			C.llama_synchronize(c.ctx)
			tok = C.llama_token(rng.IntN(c.nvocab))
			if o.StepTimes {
				now := time.Now()
				steps = append(steps, now.Sub(last))
				last = now
			}
		}
		return time.Since(start), nil
	}
	defer func() {
		c.clearCache()
		c.cached = c.cached[:0]
	}()
	res := &BenchResult{}
	for _, t := range []struct {
		n   int
		run func() (time.Duration, error)
		out *[]time.Duration
	}{{o.PromptTokens, pp, &res.Prompt}, {o.GenTokens, tg, &res.Gen}} {
		if t.n <= 0 {
			continue
		}
		if _, err := t.run(); err != nil { // warm-up
			return nil, err
		}
		for r := 0; r < reps; r++ {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			d, err := t.run()
			if err != nil {
				return res, err
			}
			*t.out = append(*t.out, d)
			if t.out == &res.Gen && o.StepTimes && !o.CLoop {
				res.GenSteps = append(res.GenSteps, append([]time.Duration(nil), steps...))
			}
		}
	}
	return res, nil
}
