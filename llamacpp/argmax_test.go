//go:build cgo

package llamacpp

import (
	"math"
	"math/rand/v2"
	"testing"
)

// argmaxScalar is llama.cpp's greedy sampler's loop: the first index whose
// logit is larger than every earlier one (a NaN never is).
func argmaxScalar(l []float32) int32 {
	best, bv := int32(0), l[0]
	for i := 1; i < len(l); i++ {
		if l[i] > bv {
			best, bv = int32(i), l[i]
		}
	}
	return best
}

// TestArgmaxF32 checks the blocked SIMD argmax against the scalar loop on
// logits with ties, NaNs and infinities, at lengths around the block size
// and a Llama 3 vocabulary.
func TestArgmaxF32(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	values := []float32{-1, 0, 1, 2, 3, float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}
	lengths := []int{1, 2, 63, 64, 65, 66, 127, 128, 129, 200, 300}
	for it := 0; it < 20000; it++ {
		n := lengths[it%len(lengths)]
		l := make([]float32, n)
		for i := range l {
			if rng.IntN(4) == 0 {
				l[i] = values[rng.IntN(len(values))]
			} else {
				l[i] = float32(rng.IntN(5))
			}
		}
		if got, want := argmaxF32(l), argmaxScalar(l); got != want {
			t.Fatalf("n=%d %v: argmax %d, the scalar loop %d", n, l, got, want)
		}
	}
	l := make([]float32, 128256)
	for it := 0; it < 50; it++ {
		for i := range l {
			l[i] = float32(rng.NormFloat64())
		}
		k := rng.IntN(len(l))
		l[k] = 10 // a unique maximum anywhere, the last block included
		if it%5 == 0 {
			l[rng.IntN(len(l))] = float32(math.NaN())
		}
		if got, want := argmaxF32(l), argmaxScalar(l); got != want || got != int32(k) {
			t.Fatalf("vocab 128256: argmax %d, the scalar loop %d, planted %d", got, want, k)
		}
	}
	if got := argmaxF32(nil); got != -1 {
		t.Fatalf("empty: %d, want -1", got)
	}
}

func BenchmarkArgmaxF32(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	l := make([]float32, 128256)
	for i := range l {
		l[i] = float32(rng.NormFloat64())
	}
	b.SetBytes(int64(4 * len(l)))
	b.ReportAllocs()
	b.Run("simd", func(b *testing.B) {
		for b.Loop() {
			argmaxF32(l)
		}
	})
	b.Run("scalar", func(b *testing.B) {
		for b.Loop() {
			argmaxScalar(l)
		}
	})
}
