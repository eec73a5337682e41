// Package quality measures how far a quantized model's next-token
// distributions are from its reference (F16) model's: the mean
// Kullback-Leibler divergence KL(P_ref || P_quant) over every position of
// held-out sequences, and how often both pick the same most likely token,
// as llama-perplexity --kl-divergence reports them. It is a small,
// self-contained measurement for the quantization tables; a fuller
// verification (sattva verify) can replace it.
package quality

import (
	"context"
	"errors"
	"fmt"
	"math"
)

// Logits is a model that returns the logits of every position of a token
// sequence (llamacpp.Context.Logits).
type Logits interface {
	Logits(tokens []int32) ([][]float32, error)
}

// Result is the comparison of one candidate with the reference.
type Result struct {
	Positions int     // positions compared
	MeanKLD   float64 // mean KL(P_ref || P_cand), nats
	MaxKLD    float64
	Top1      float64 // share of positions where both argmaxes agree
}

// KLD returns KL(softmax(ref) || softmax(cand)) in nats, computed in
// float64, and whether the two argmaxes (first index of the largest logit)
// agree.
func KLD(ref, cand []float32) (float64, bool, error) {
	if len(ref) != len(cand) || len(ref) == 0 {
		return 0, false, fmt.Errorf("quality: %d reference logits, %d candidate logits", len(ref), len(cand))
	}
	lr, ar := logSoftmax(ref)
	lc, ac := logSoftmax(cand)
	var kl float64
	for i := range lr {
		p := math.Exp(lr[i])
		if p > 0 {
			kl += p * (lr[i] - lc[i])
		}
	}
	return max(kl, 0), ar == ac, nil
}

func logSoftmax(x []float32) ([]float64, int) {
	arg := 0
	for i, v := range x {
		if v > x[arg] {
			arg = i
		}
	}
	m := float64(x[arg])
	var s float64
	for _, v := range x {
		s += math.Exp(float64(v) - m)
	}
	ls := math.Log(s)
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v) - m - ls
	}
	return out, arg
}

// CompareMany runs every sequence through the reference once and through
// each candidate, and returns one Result per candidate. ctx is checked
// between sequences.
func CompareMany(ctx context.Context, ref Logits, cands []Logits, seqs [][]int32) ([]Result, error) {
	if len(seqs) == 0 {
		return nil, errors.New("quality: no sequences")
	}
	res := make([]Result, len(cands))
	sums := make([]float64, len(cands))
	agree := make([]int, len(cands))
	for _, seq := range seqs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rl, err := ref.Logits(seq)
		if err != nil {
			return nil, fmt.Errorf("quality: reference: %w", err)
		}
		for c, cand := range cands {
			cl, err := cand.Logits(seq)
			if err != nil {
				return nil, fmt.Errorf("quality: candidate %d: %w", c, err)
			}
			if len(cl) != len(rl) {
				return nil, fmt.Errorf("quality: candidate %d: %d positions, reference %d", c, len(cl), len(rl))
			}
			for i := range rl {
				kl, same, err := KLD(rl[i], cl[i])
				if err != nil {
					return nil, err
				}
				sums[c] += kl
				res[c].MaxKLD = max(res[c].MaxKLD, kl)
				if same {
					agree[c]++
				}
				res[c].Positions++
			}
		}
	}
	for c := range res {
		if n := res[c].Positions; n > 0 {
			res[c].MeanKLD = sums[c] / float64(n)
			res[c].Top1 = float64(agree[c]) / float64(n)
		}
	}
	return res, nil
}
