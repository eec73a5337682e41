package llamacpp

import "errors"

// The types of Slots, shared by the cgo build and the stub without cgo.

// SlotOptions control one request started in a slot.
type SlotOptions struct {
	Sampling SamplingOptions
	// Grammar is a GBNF grammar the generated text must match (llama.cpp's
	// grammar sampler runs before the others); "" for none. GrammarRoot is
	// its start rule; "": "root".
	Grammar, GrammarRoot string
	// Logprobs > 0 reports the log-probability of each sampled token and
	// of the Logprobs-1 most likely others (so 1 is the sampled one only);
	// 0 reports none. At most 21.
	Logprobs int
}

// MaxTopLogprobs is the most alternatives a SlotToken carries.
const MaxTopLogprobs = 20

// ErrGrammar is returned by Slots.Start for a grammar llama.cpp cannot parse,
// and carried by a SlotToken when the grammar allows none of the model's
// tokens.
var ErrGrammar = errors.New("llamacpp: grammar")

// TokenLogprob is a token and its log-probability under the model
// (log-softmax of the raw logits, before sampling transforms).
type TokenLogprob struct {
	ID      int32
	Text    string
	Logprob float32
}

// SlotToken is one slot's outcome of a Step: a sampled token, or an error
// that ended the slot's generation.
type SlotToken struct {
	Slot int
	Token
	// EOG is true for an end-of-generation token (Text is then "").
	EOG bool
	// Full is true when the sequence has no room for this token: the slot
	// has been stopped and the token is its last.
	Full    bool
	Logprob float32        // when SlotOptions.Logprobs > 0
	Top     []TokenLogprob // the most likely tokens, best first, when Logprobs > 1
	Err     error          // the slot failed and was stopped (ErrGrammar: no token matches)
}
