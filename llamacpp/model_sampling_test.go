package llamacpp

import (
	"strings"
	"testing"

	"github.com/sattva/sattva/gguf"
)

func TestApplyModelSampling(t *testing.T) {
	f32 := func(v float32) *float32 { return &v }
	i32 := func(v int32) *int32 { return &v }
	seq := "top_k;temp"
	s := gguf.Sampling{Temp: f32(0.6), TopK: i32(20), TopP: f32(0.9), MinP: f32(0), PenaltyRepeat: f32(1.1), PenaltyLastN: i32(128), Mirostat: i32(2), Sequence: &seq}
	user := SamplingOptions{Temperature: 0, TopK: 40, TopP: 0.95, MinP: 0.05, RepeatPenalty: 1, RepeatLastN: 64, Seed: 7}
	// nothing set by the user: the model's values
	got, notes := ApplyModelSampling(user, s, nil)
	want := SamplingOptions{Temperature: 0.6, TopK: 20, TopP: 0.9, MinP: 0, RepeatPenalty: 1.1, RepeatLastN: 128, Seed: 7}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	joined := strings.Join(notes, "\n")
	for _, w := range []string{"temp 0.6 (general.sampling.temp)", "top_k 20", "penalty_last_n 128", "mirostat 2 not applied", "sequence \"top_k;temp\" not applied"} {
		if !strings.Contains(joined, w) {
			t.Errorf("notes lack %q:\n%s", w, joined)
		}
	}
	// the user's --temp and --top-k win
	got, notes = ApplyModelSampling(user, s, func(n string) bool { return n == SamplerTemp || n == SamplerTopK })
	if got.Temperature != 0 || got.TopK != 40 || got.TopP != 0.9 {
		t.Errorf("user flags lost: %+v", got)
	}
	if strings.Contains(strings.Join(notes, "\n"), "general.sampling.temp") {
		t.Errorf("notes claim temp was taken: %v", notes)
	}
	// no keys: unchanged, no notes
	if got, notes := ApplyModelSampling(user, gguf.Sampling{}, nil); got != user || len(notes) != 0 {
		t.Errorf("empty sampler changed %+v, notes %v", got, notes)
	}
	// penalty_last_n 0 turns the penalty off, as in llama.cpp
	if got, _ := ApplyModelSampling(SamplingOptions{RepeatPenalty: 1.3}, gguf.Sampling{PenaltyLastN: i32(0)}, nil); got.RepeatPenalty != 1 {
		t.Errorf("penalty_last_n 0: %+v", got)
	}
}
