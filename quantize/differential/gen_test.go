package differential_test

import (
	"math"
	"math/rand/v2"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/half"
)

// rowKinds are the value distributions the differential tests cover.
var rowKinds = []string{"normal", "uniform", "heavy", "outliers", "constant", "zero", "huge", "tiny",
	"subnormal", "positive", "negative", "sparse", "f16grid", "steps"}

// genRows fills n values of the given kind.
func genRows(r *rand.Rand, kind string, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		switch kind {
		case "normal":
			x[i] = float32(r.NormFloat64() * 0.02)
		case "uniform":
			x[i] = float32(r.Float64()*2 - 1)
		case "heavy": // Cauchy
			x[i] = float32(math.Tan(math.Pi*(r.Float64()-0.5)) * 0.01)
		case "outliers":
			x[i] = float32(r.NormFloat64())
			if r.IntN(64) == 0 {
				x[i] *= 200
			}
		case "constant":
			x[i] = 0.37
		case "zero":
		case "huge":
			x[i] = float32(r.NormFloat64() * 3e4)
		case "tiny":
			x[i] = float32(r.NormFloat64() * 1e-12)
		case "subnormal":
			x[i] = float32(r.NormFloat64() * 1e-40)
		case "positive":
			x[i] = float32(r.Float64())
		case "negative":
			x[i] = -float32(r.Float64()) * 0.1
		case "sparse":
			if r.IntN(12) == 0 {
				x[i] = float32(r.NormFloat64())
			}
		case "f16grid":
			x[i] = half.ToFloat32GGML(half.FromFloat32GGML(float32(r.NormFloat64() * 0.05)))
		case "steps":
			x[i] = float32(r.IntN(7)-3) * 0.125
		}
	}
	return x
}

// testTypes are every type QuantizeRows produces.
var testTypes = []gguf.Type{gguf.TypeQ8_0, gguf.TypeQ4_0, gguf.TypeQ4_1, gguf.TypeQ5_0, gguf.TypeQ5_1,
	gguf.TypeQ2_K, gguf.TypeQ3_K, gguf.TypeQ4_K, gguf.TypeQ5_K, gguf.TypeQ6_K,
	gguf.TypeIQ4_NL, gguf.TypeIQ4_XS, gguf.TypeF16, gguf.TypeBF16, gguf.TypeF32}

func genIMatrix(r *rand.Rand, n int) []float32 {
	im := make([]float32, n)
	for i := range im {
		im[i] = float32(r.ExpFloat64())
		if r.IntN(20) == 0 {
			im[i] = 0
		}
	}
	return im
}
