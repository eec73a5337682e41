package dataset

// Tokenizer is what LlamaCounter needs of a model's vocabulary; package
// llamacpp's Model (loaded with VocabOnly) is one.
type Tokenizer interface {
	// BOS is the beginning-of-sequence token id, or -1 when there is none.
	BOS() int32
	// Tokenize splits text into token ids, adding the vocabulary's BOS/EOS
	// when addSpecial and matching special-token text when parseSpecial.
	Tokenize(text string, addSpecial, parseSpecial bool) ([]int32, error)
}

// LlamaCounter counts an example's tokens the way LLaMA-Factory's supervised
// stage does: the template's BOS token (when the vocabulary has one) plus each
// segment of Template.Segments tokenized on its own, without added specials
// and with special-token text parsed, as tokenizer.encode(add_special_tokens=False)
// does for the Hugging Face tokenizer. It is safe for concurrent use as far
// as the tokenizer is (llamacpp.Model.Tokenize is).
type LlamaCounter struct {
	m Tokenizer
	t *Template
}

var _ TokenCounter = (*LlamaCounter)(nil)

// NewLlamaCounter returns a counter over m (typically a llamacpp.Model
// loaded with ModelOptions{VocabOnly: true}) and t. The caller keeps
// ownership of m.
func NewLlamaCounter(m Tokenizer, t *Template) *LlamaCounter {
	return &LlamaCounter{m: m, t: t}
}

var _ TurnCounter = (*LlamaCounter)(nil)

// CountTokens implements TokenCounter.
func (c *LlamaCounter) CountTokens(ex *Example) (int, error) {
	turns, err := c.CountTurns(ex)
	n := 0
	for _, t := range turns {
		n += t.Source + t.Target
	}
	return n, err
}

// CountTurns implements TurnCounter: BOS and the system message count
// toward the first turn's prompt.
func (c *LlamaCounter) CountTurns(ex *Example) ([]Turn, error) {
	var turns []Turn
	pending := 0 // prompt tokens not yet paired with an answer
	if c.t.BOS != "" && c.m.BOS() >= 0 {
		pending++
	}
	for _, s := range c.t.Segments(ex) {
		toks, err := c.m.Tokenize(s.Text, false, true)
		if err != nil {
			return nil, err
		}
		if !s.Response {
			pending += len(toks)
			continue
		}
		turns = append(turns, Turn{Source: pending, Target: len(toks)})
		pending = 0
	}
	return turns, nil
}
