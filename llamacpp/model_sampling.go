package llamacpp

import (
	"fmt"
	"strconv"

	"github.com/sattva/sattva/gguf"
)

// Sampler field names, as llama.cpp names them in general.sampling.* and
// common_params_sampling: the names ApplyModelSampling's userSet is asked about.
const (
	SamplerTemp          = "temp"
	SamplerTopK          = "top_k"
	SamplerTopP          = "top_p"
	SamplerMinP          = "min_p"
	SamplerPenaltyRepeat = "penalty_repeat"
	SamplerPenaltyLastN  = "penalty_last_n"
)

// ApplyModelSampling returns o with every field the user did not set taken
// from the model's recommended sampler s (its general.sampling.* keys, read
// with gguf.SamplingOf), as llama.cpp's common_params_sampling does.
// userSet reports whether the user gave a field, by the Sampler* names; nil
// means none was given. It also returns one note per key: what was taken
// ("temp 0.6 (general.sampling.temp)") and what sattva's sampler cannot apply
// (mirostat, XTC, a sampler sequence), so that a caller can print them with -v.
// It is pure Go: serving code uses it the same way as run and chat.
func ApplyModelSampling(o SamplingOptions, s gguf.Sampling, userSet func(name string) bool) (SamplingOptions, []string) {
	set := func(name string) bool { return userSet != nil && userSet(name) }
	var notes []string
	took := func(name string, v string) {
		notes = append(notes, fmt.Sprintf("%s %s (general.sampling.%s)", name, v, name))
	}
	f32 := func(v float32) string { return strconv.FormatFloat(float64(v), 'g', -1, 32) }
	if s.Temp != nil && !set(SamplerTemp) {
		o.Temperature = *s.Temp
		took(SamplerTemp, f32(*s.Temp))
	}
	if s.TopK != nil && !set(SamplerTopK) {
		o.TopK = max(int(*s.TopK), 0) // llama.cpp: top_k <= 0 is off
		took(SamplerTopK, strconv.Itoa(int(*s.TopK)))
	}
	if s.TopP != nil && !set(SamplerTopP) {
		o.TopP = *s.TopP
		took(SamplerTopP, f32(*s.TopP))
	}
	if s.MinP != nil && !set(SamplerMinP) {
		o.MinP = *s.MinP
		took(SamplerMinP, f32(*s.MinP))
	}
	if s.PenaltyRepeat != nil && !set(SamplerPenaltyRepeat) {
		o.RepeatPenalty = *s.PenaltyRepeat
		took(SamplerPenaltyRepeat, f32(*s.PenaltyRepeat))
	}
	if s.PenaltyLastN != nil && !set(SamplerPenaltyLastN) {
		switch n := int(*s.PenaltyLastN); {
		case n > 0:
			o.RepeatLastN = n
			took(SamplerPenaltyLastN, strconv.Itoa(n))
		case n == 0 && !set(SamplerPenaltyRepeat): // llama.cpp: no tokens looked at, no penalty
			o.RepeatPenalty = 1
			notes = append(notes, "penalty_last_n 0 (general.sampling.penalty_last_n): repeat penalty off")
		case n < 0:
			last := o.RepeatLastN
			if last <= 0 {
				last = 64
			}
			notes = append(notes, fmt.Sprintf("penalty_last_n %d not applied (general.sampling.penalty_last_n): the whole context is not supported; %d tokens", n, last))
		}
	}
	if s.Mirostat != nil && *s.Mirostat != 0 {
		notes = append(notes, fmt.Sprintf("mirostat %d not applied (general.sampling.mirostat): sattva's sampler has no mirostat", *s.Mirostat))
	}
	if s.XTCProbability != nil && *s.XTCProbability > 0 {
		notes = append(notes, fmt.Sprintf("xtc_probability %s not applied (general.sampling.xtc_probability): sattva's sampler has no XTC", f32(*s.XTCProbability)))
	}
	if s.Sequence != nil {
		notes = append(notes, fmt.Sprintf("sequence %q not applied (general.sampling.sequence): sattva's samplers run in llama.cpp's default order", *s.Sequence))
	}
	return o, notes
}
