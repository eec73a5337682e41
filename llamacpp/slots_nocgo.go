//go:build !cgo

package llamacpp

import "errors"

// Slots is not available without cgo.
type Slots struct{}

// SlotOptions: see the cgo build.
type SlotOptions struct {
	Sampling             SamplingOptions
	Grammar, GrammarRoot string
	Logprobs             int
}

// MaxTopLogprobs is the most alternatives a SlotToken carries.
const MaxTopLogprobs = 20

// ErrGrammar: see the cgo build.
var ErrGrammar = errors.New("llamacpp: grammar")

// TokenLogprob: see the cgo build.
type TokenLogprob struct {
	ID      int32
	Text    string
	Logprob float32
}

// SlotToken: see the cgo build.
type SlotToken struct {
	Slot int
	Token
	EOG, Full bool
	Logprob   float32
	Top       []TokenLogprob
	Err       error
}

// NewSlots returns ErrNoEngine.
func (c *Context) NewSlots() (*Slots, error) { return nil, ErrNoEngine }

func (s *Slots) Len() int                                                { return 0 }
func (s *Slots) Active(i int) bool                                       { return false }
func (s *Slots) CommonPrefix(i int, prompt []int32) int                  { return 0 }
func (s *Slots) Start(i int, prompt []int32, o SlotOptions) (int, error) { return 0, ErrNoEngine }
func (s *Slots) Stop(i int)                                              {}
func (s *Slots) Forget(i int)                                            {}
func (s *Slots) Step() ([]SlotToken, error)                              { return nil, ErrNoEngine }
func (s *Slots) Close() error                                            { return nil }
