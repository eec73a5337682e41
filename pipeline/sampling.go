package pipeline

import (
	"strings"

	"github.com/sattva/sattva/gguf"
)

// ServingSampling maps the serving sampler, given as Ollama Modelfile
// PARAMETERs (ollama.parameters in sattva.yaml), to the general.sampling.*
// keys llama.cpp's tools take as their defaults, so that llama-server and
// llama-cli sample a exported GGUF as Ollama samples it with the Modelfile:
// temperature → temp, top_k → top_k, top_p → top_p, min_p → min_p,
// repeat_penalty → penalty_repeat, repeat_last_n → penalty_last_n. The other
// parameters (num_ctx, num_predict, seed, stop) have no general.sampling key.
func ServingSampling(params map[string]float64) gguf.Sampling {
	var s gguf.Sampling
	f32 := func(name string, dst **float32) {
		if v, ok := params[name]; ok {
			x := float32(v)
			*dst = &x
		}
	}
	i32 := func(name string, dst **int32) {
		if v, ok := params[name]; ok {
			x := int32(v)
			*dst = &x
		}
	}
	f32("temperature", &s.Temp)
	i32("top_k", &s.TopK)
	f32("top_p", &s.TopP)
	f32("min_p", &s.MinP)
	f32("repeat_penalty", &s.PenaltyRepeat)
	i32("repeat_last_n", &s.PenaltyLastN)
	return s
}

// isSamplingKey reports whether key is one of the general.sampling.* keys.
func isSamplingKey(key string) bool { return strings.HasPrefix(key, "general.sampling.") }
