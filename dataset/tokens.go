package dataset

import (
	"github.com/sattva/sattva/llamacpp"
)

// LlamaCounter counts an example's tokens the way LLaMA-Factory's supervised
// stage does: the template's BOS token (when the vocabulary has one) plus each
// segment of Template.Segments tokenized on its own, without added specials
// and with special-token text parsed, as tokenizer.encode(add_special_tokens=False)
// does for the Hugging Face tokenizer. It is safe for concurrent use as far
// as the model is (llamacpp.Model.Tokenize is).
type LlamaCounter struct {
	m *llamacpp.Model
	t *Template
}

var _ TokenCounter = (*LlamaCounter)(nil)

// NewLlamaCounter returns a counter over m (typically loaded with
// llamacpp.ModelOptions{VocabOnly: true}) and t. The caller keeps ownership of m.
func NewLlamaCounter(m *llamacpp.Model, t *Template) *LlamaCounter {
	return &LlamaCounter{m: m, t: t}
}

// CountTokens implements TokenCounter.
func (c *LlamaCounter) CountTokens(ex *Example) (int, error) {
	n := 0
	if c.t.BOS != "" && c.m.BOS() >= 0 {
		n++
	}
	for _, s := range c.t.Segments(ex) {
		toks, err := c.m.Tokenize(s.Text, false, true)
		if err != nil {
			return 0, err
		}
		n += len(toks)
	}
	return n, nil
}
