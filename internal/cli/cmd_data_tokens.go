package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sattva/sattva/convert"
	"github.com/sattva/sattva/dataset"
	"github.com/sattva/sattva/llamacpp"
)

// errNoTokenizerEngine explains why token counting is unavailable in a
// build without cgo.
var errNoTokenizerEngine = errors.New("token counting uses llama.cpp's tokenizer, and this sattva was built without cgo (no llama.cpp engine): use a build with cgo, or drop --model/--tokenizer to validate without token counts")

// openTokenCounter loads the vocabulary of modelPath, or of a vocab-only GGUF
// made from the Hugging Face tokenizer folder tokDir, and returns a counter
// for tmpl with a function that frees it.
func openTokenCounter(ctx context.Context, modelPath, tokDir string, tmpl *dataset.Template) (dataset.TokenCounter, func(), error) {
	path := modelPath
	cleanup := func() {}
	if tokDir != "" {
		tmp, err := os.MkdirTemp("", "sattva-vocab-")
		if err != nil {
			return nil, nil, err
		}
		cleanup = func() { os.RemoveAll(tmp) }
		path = filepath.Join(tmp, "vocab.gguf")
		if err := convert.ConvertVocab(ctx, tokDir, path); err != nil {
			cleanup()
			return nil, nil, fmt.Errorf("making a vocab-only GGUF from %s: %w", tokDir, err)
		}
	}
	m, err := llamacpp.Load(path, llamacpp.ModelOptions{VocabOnly: true})
	if err != nil {
		cleanup()
		if errors.Is(err, llamacpp.ErrNoEngine) {
			return nil, nil, errNoTokenizerEngine
		}
		return nil, nil, err
	}
	return dataset.NewLlamaCounter(m, tmpl), func() { m.Close(); cleanup() }, nil
}
