package verify

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/sattva/sattva/llamacpp"
)

// Sequence is one scored text: its tokens and the index of the first token
// scored (the answer's first token; the prompt before it is context only).
type Sequence struct {
	Tokens []int32
	Start  int
	Label  string // a group the statistics are also kept for ("ru", "en")
}

// KLStats are llama-perplexity --kl-divergence's statistics of a test model
// against a reference model over the scored tokens (tools/perplexity/
// perplexity.cpp): per token, KL(P_ref ‖ P_test) = Σ p_ref·(ln p_ref − ln
// p_test) over the vocabulary; "same top p" is the share of tokens whose
// most likely next token is the same; PPL is exp of the mean negative log
// likelihood of the actual next token; percentiles interpolate linearly
// between the sorted values, as perplexity.cpp's percentile() does.
type KLStats struct {
	Tokens    int     `json:"tokens"`
	Sequences int     `json:"sequences"`
	MeanKLD   float64 `json:"mean_kld"`
	// MeanKLDErr is the standard error of the mean KLD.
	MeanKLDErr float64 `json:"mean_kld_err"`
	MedianKLD  float64 `json:"median_kld"`
	P90KLD     float64 `json:"p90_kld"`
	P99KLD     float64 `json:"p99_kld"`
	P999KLD    float64 `json:"p999_kld"`
	MaxKLD     float64 `json:"max_kld"`
	// Top1 is the share of tokens where both models rank the same token first.
	Top1     float64 `json:"top1"`
	PPLRef   float64 `json:"ppl_ref"`
	PPLTest  float64 `json:"ppl_test"`
	PPLRatio float64 `json:"ppl_ratio"` // PPL(test)/PPL(ref)
	// Quantiles are the KLD at Quantile levels, for the report's chart.
	Quantiles []float64 `json:"quantiles"`
	// ByLabel holds the same statistics per Sequence.Label (without ByLabel).
	ByLabel map[string]*KLStats `json:"by_label,omitempty"`
}

// quantileLevels are the levels of KLStats.Quantiles.
var quantileLevels = []float64{0.01, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.99, 0.999, 1}

// QuantileLevels returns the levels of KLStats.Quantiles, in their order;
// the slice is the caller's.
func QuantileLevels() []float64 { return slices.Clone(quantileLevels) }

// KLOptions control KLD.
type KLOptions struct {
	// Threads for decoding and for the statistics (0: every CPU).
	Threads int
}

// KLD runs every sequence through the reference and the test model and
// returns the KL statistics of test against ref over the scored tokens.
// The models must share a vocabulary. It is KLDMany with one test model.
func KLD(ctx context.Context, ref, test *llamacpp.Model, seqs []Sequence, o KLOptions) (*KLStats, error) {
	st, err := KLDMany(ctx, ref, []*llamacpp.Model{test}, seqs, o)
	if err != nil {
		return nil, err
	}
	return st[0], nil
}

// tokenStat is one scored token's numbers.
type tokenStat struct {
	kld          float64
	nllRef, nllT float64
	same         bool
	label        string
}

// KLDMany is KLD for several test models against one reference: the
// reference runs once per sequence.
func KLDMany(ctx context.Context, ref *llamacpp.Model, tests []*llamacpp.Model, seqs []Sequence, o KLOptions) ([]*KLStats, error) {
	if len(tests) == 0 {
		return nil, fmt.Errorf("verify: KLD needs a test model")
	}
	maxLen := 0
	for i, s := range seqs {
		if s.Start < 1 || s.Start >= len(s.Tokens) {
			return nil, fmt.Errorf("verify: sequence %d: scored start %d outside (0, %d)", i, s.Start, len(s.Tokens))
		}
		maxLen = max(maxLen, len(s.Tokens))
	}
	if maxLen == 0 {
		return nil, fmt.Errorf("verify: no sequences to score")
	}
	for _, t := range tests {
		if t.NVocab() != ref.NVocab() {
			return nil, fmt.Errorf("verify: vocabularies differ: %d and %d tokens", ref.NVocab(), t.NVocab())
		}
	}
	threads := o.Threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	copts := llamacpp.ContextOptions{ContextSize: maxLen, BatchSize: min(maxLen, 2048), Threads: o.Threads, BatchThreads: o.Threads}
	rc, err := ref.NewContext(copts)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	tcs := make([]*llamacpp.Context, len(tests))
	for i, t := range tests {
		if tcs[i], err = t.NewContext(copts); err != nil {
			return nil, err
		}
		defer tcs[i].Close()
	}
	all := make([][]tokenStat, len(tests))
	for _, s := range seqs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rl, err := rc.Logits(s.Tokens)
		if err != nil {
			return nil, err
		}
		rows := rl[s.Start-1 : len(s.Tokens)-1]
		refLP := make([]logProbs, len(rows))
		parallel(len(rows), threads, func(i int) { refLP[i] = newLogProbs(rows[i]) })
		for ti, tc := range tcs {
			tl, err := tc.Logits(s.Tokens)
			if err != nil {
				return nil, err
			}
			trows := tl[s.Start-1 : len(s.Tokens)-1]
			out := make([]tokenStat, len(trows))
			parallel(len(trows), threads, func(i int) {
				next := s.Tokens[s.Start+i]
				out[i] = compare(rows[i], refLP[i], trows[i], next)
				out[i].label = s.Label
			})
			all[ti] = append(all[ti], out...)
		}
	}
	res := make([]*KLStats, len(tests))
	for i := range tests {
		res[i] = summarize(all[i], len(seqs), true)
	}
	return res, nil
}

// logProbs is a row's log-softmax normaliser and argmax.
type logProbs struct {
	max, logZ float64 // ln p_j = x_j − logZ
	arg       int
}

func newLogProbs(x []float32) logProbs {
	m, arg := math.Inf(-1), 0
	for j, v := range x {
		if float64(v) > m {
			m, arg = float64(v), j
		}
	}
	sum := 0.0
	for _, v := range x {
		sum += math.Exp(float64(v) - m)
	}
	return logProbs{max: m, logZ: m + math.Log(sum), arg: arg}
}

func compare(r []float32, rl logProbs, t []float32, next int32) tokenStat {
	tl := newLogProbs(t)
	kld := 0.0
	for j := range r {
		lr := float64(r[j]) - rl.logZ
		kld += math.Exp(lr) * (lr - (float64(t[j]) - tl.logZ))
	}
	return tokenStat{kld: kld, nllRef: rl.logZ - float64(r[next]), nllT: tl.logZ - float64(t[next]), same: rl.arg == tl.arg}
}

func parallel(n, threads int, f func(i int)) {
	if n < 4 || threads <= 1 {
		for i := 0; i < n; i++ {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	ch := make(chan int, n)
	for i := 0; i < n; i++ {
		ch <- i
	}
	close(ch)
	for w := 0; w < min(threads, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ch {
				f(i)
			}
		}()
	}
	wg.Wait()
}

// percentile interpolates linearly between sorted values (perplexity.cpp).
func percentile(sorted []float64, f float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	if f <= 0 {
		return sorted[0]
	}
	if f >= 1 {
		return sorted[len(sorted)-1]
	}
	p := f * float64(len(sorted)-1)
	i := int(p)
	p -= float64(i)
	return (1-p)*sorted[i] + p*sorted[min(i+1, len(sorted)-1)]
}

func summarize(ts []tokenStat, nseq int, byLabel bool) *KLStats {
	st := &KLStats{Tokens: len(ts), Sequences: nseq}
	if len(ts) == 0 {
		return st
	}
	klds := make([]float64, len(ts))
	var sum, sum2, nllR, nllT float64
	same := 0
	for i, t := range ts {
		klds[i] = t.kld
		sum += t.kld
		sum2 += t.kld * t.kld
		nllR += t.nllRef
		nllT += t.nllT
		if t.same {
			same++
		}
	}
	n := float64(len(ts))
	st.MeanKLD = sum / n
	if len(ts) > 1 {
		v := (sum2/n - st.MeanKLD*st.MeanKLD) / (n - 1)
		st.MeanKLDErr = math.Sqrt(max(v, 0))
	}
	slices.Sort(klds)
	st.MedianKLD = percentile(klds, 0.5)
	st.P90KLD = percentile(klds, 0.9)
	st.P99KLD = percentile(klds, 0.99)
	st.P999KLD = percentile(klds, 0.999)
	st.MaxKLD = klds[len(klds)-1]
	for _, q := range quantileLevels {
		st.Quantiles = append(st.Quantiles, percentile(klds, q))
	}
	st.Top1 = float64(same) / n
	st.PPLRef = math.Exp(nllR / n)
	st.PPLTest = math.Exp(nllT / n)
	st.PPLRatio = math.Exp((nllT - nllR) / n)
	if byLabel {
		groups := map[string][]tokenStat{}
		for _, t := range ts {
			if t.label != "" {
				groups[t.label] = append(groups[t.label], t)
			}
		}
		if len(groups) > 0 {
			st.ByLabel = map[string]*KLStats{}
			for k, g := range groups {
				st.ByLabel[k] = summarize(g, 0, false)
			}
		}
	}
	return st
}
