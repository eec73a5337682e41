//go:build !cgo

package llamacpp

import (
	"context"
	"iter"
	"log/slog"
	"time"

	"github.com/sattva/sattva/gguf"
)

// This file gives the package's API to builds without cgo: every function
// returns ErrNoEngine.

// BackendDirEnv names the environment variable that points at ggml's
// backend plugins.
const BackendDirEnv = "SATTVA_BACKEND_DIR"

// DefaultBackendDir returns "" without cgo.
func DefaultBackendDir() string { return "" }

// InitBackends returns ErrNoEngine.
func InitBackends(dir string, log *slog.Logger) ([]BackendInfo, error) { return nil, ErrNoEngine }

// SystemInfo says there is no engine.
func SystemInfo() string { return ErrNoEngine.Error() }

// Model is not available without cgo.
type Model struct{}

// Load returns ErrNoEngine.
func Load(path string, o ModelOptions) (*Model, error) { return nil, ErrNoEngine }

func (m *Model) Close() error                                  { return nil }
func (m *Model) Path() string                                  { return "" }
func (m *Model) Meta(key string) (string, bool)                { return "", false }
func (m *Model) MetaKeys() []string                            { return nil }
func (m *Model) Description() string                           { return "" }
func (m *Model) Size() (bytes, nparams uint64)                 { return 0, 0 }
func (m *Model) NLayer() int                                   { return 0 }
func (m *Model) NCtxTrain() int                                { return 0 }
func (m *Model) NVocab() int                                   { return 0 }
func (m *Model) BOS() int32                                    { return -1 }
func (m *Model) EOS() int32                                    { return -1 }
func (m *Model) EOT() int32                                    { return -1 }
func (m *Model) IsEOG(tok int32) bool                          { return false }
func (m *Model) EOGTokens() []int32                            { return nil }
func (m *Model) TokenPiece(tok int32) string                   { return "" }
func (m *Model) ChatTemplate() string                          { return "" }
func (m *Model) Device() BackendInfo                           { return BackendInfo{} }
func (m *Model) NewContext(o ContextOptions) (*Context, error) { return nil, ErrNoEngine }
func (m *Model) Tokenize(text string, addSpecial, parseSpecial bool) ([]int32, error) {
	return nil, ErrNoEngine
}
func (m *Model) Detokenize(toks []int32, removeSpecial, unparseSpecial bool) (string, error) {
	return "", ErrNoEngine
}
func (m *Model) ApplyChatTemplate(msgs []ChatMessage, addAssistant bool) (string, error) {
	return "", ErrNoEngine
}

// Context is not available without cgo.
type Context struct{}

func (c *Context) Close() error                               { return nil }
func (c *Context) ContextSize() int                           { return 0 }
func (c *Context) Parallel() int                              { return 0 }
func (c *Context) BatchSize() int                             { return 0 }
func (c *Context) Model() *Model                              { return nil }
func (c *Context) Reset() error                               { return ErrNoEngine }
func (c *Context) Logits(tokens []int32) ([][]float32, error) { return nil, ErrNoEngine }
func (c *Context) Generate(ctx context.Context, prompt []int32, o GenerateOptions) iter.Seq2[Token, error] {
	return func(yield func(Token, error) bool) { yield(Token{}, ErrNoEngine) }
}
func (c *Context) GenerateBatch(ctx context.Context, reqs []Request, onToken func(i int, t Token)) ([]Result, error) {
	return nil, ErrNoEngine
}

// BenchOptions and BenchResult: see the cgo build.
type BenchOptions struct {
	PromptTokens, GenTokens, Repetitions int
	Seed                                 uint64
	CLoop, StepTimes                     bool
}
type BenchResult struct {
	Prompt, Gen []time.Duration
	GenSteps    [][]time.Duration
}

func (c *Context) Bench(ctx context.Context, o BenchOptions) (*BenchResult, error) {
	return nil, ErrNoEngine
}

// QuantizeRows returns ErrNoEngine.
func QuantizeRows(t gguf.Type, src []float32, nrows, ncols int, imatrix []float32) ([]byte, error) {
	return nil, ErrNoEngine
}

// Dequantize returns ErrNoEngine.
func Dequantize(t gguf.Type, src []byte, n int) ([]float32, error) { return nil, ErrNoEngine }

// Quantize returns ErrNoEngine.
func Quantize(ctx context.Context, in, out string, o QuantizeOptions) error { return ErrNoEngine }
