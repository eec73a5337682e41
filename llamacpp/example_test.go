//go:build cgo

package llamacpp_test

import (
	"context"
	"fmt"
	"log"
	"strings"

	"github.com/sattva/sattva/internal/fixture"
	"github.com/sattva/sattva/llamacpp"
)

// modelPath is the shared stories260K reference model.
var modelPath = fixture.Root() + "/stories260K/ref/stories260K-f32.ref.gguf"

// Embedding a model: load it, tokenize a prompt, stream the reply.
func Example() {
	m, err := llamacpp.Load(modelPath, llamacpp.ModelOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	c, err := m.NewContext(llamacpp.ContextOptions{ContextSize: 512, Threads: 1})
	if err != nil {
		log.Fatal(err)
	}
	prompt, _ := m.Tokenize("Once upon a time", true, false)
	var reply strings.Builder
	for tok, err := range c.Generate(context.Background(), prompt, llamacpp.GenerateOptions{MaxTokens: 12}) {
		if err != nil {
			log.Fatal(err)
		}
		reply.WriteString(tok.Text)
	}
	fmt.Println(reply.String())
	// Output: , there was a little girl named Lily. She
}
