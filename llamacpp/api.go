// Package llamacpp runs GGUF models through llama.cpp, compiled from the
// pinned github.com/ollama/ollama module with cgo. It is the only package of
// sattva that imports "C"; no C type appears in its API.
//
// Ownership: a *Model owns the llama.cpp model and its LoRA adapters; a
// *Context owns a llama.cpp context (its KV cache, batch and sampling buffers)
// and belongs to the Model that made it. Close frees each of them, is
// idempotent, and Model.Close also closes the Model's open Contexts. A Model may
// be used from several goroutines; a Context is used by one call at a time
// (its methods lock it).
//
// Backends: llama.cpp's built-in CPU code is compiled with the flags that
// scripts/llamacpp/cgoflags.sh chooses (make build: this machine's
// instruction set and weight repacking; a plain go build: the compiler's
// baseline, no SIMD; BuildFlags and CPUBackends say which). ggml's
// CMake-built backend plugins (CPU variants with SIMD, CUDA) are loaded from
// a folder named by InitBackends' argument, $SATTVA_BACKEND_DIR, or
// lib/ollama beside the executable (bin/lib/ollama for bin/sattva; `make
// backends` puts them there). Without them the built-in CPU code runs and a
// warning names the folder that was searched.
//
// Logging: llama.cpp's and ggml's log lines go to the *slog.Logger given to
// the first InitBackends (or Load) call: llama.cpp's INFO and DEBUG lines at
// slog.LevelDebug, WARN at slog.LevelWarn, ERROR at slog.LevelError.
//
// In a build without cgo every function returns ErrNoEngine.
package llamacpp

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// ErrNoEngine is returned by every function of a sattva built with
// CGO_ENABLED=0, which has no inference engine.
var ErrNoEngine = errors.New("llamacpp: this sattva was built without cgo: it has no inference engine")

// ErrBackendDir is returned by InitBackends when the backend plugins were
// already loaded from another folder in this process.
var ErrBackendDir = errors.New("llamacpp: ggml backends already loaded from another folder")

// ErrClosed is returned when a closed Model or Context is used.
var ErrClosed = errors.New("llamacpp: use of closed model or context")

// ErrContextFull is returned when a prompt, or a generation, does not fit in
// the tokens a sequence of the Context can hold.
var ErrContextFull = errors.New("llamacpp: context full")

// ErrNoChatTemplate is returned by ApplyChatTemplate for a model whose GGUF
// carries no tokenizer.chat_template, or one llama.cpp does not recognise.
var ErrNoChatTemplate = errors.New("llamacpp: model has no chat template llama.cpp supports")

// LoadError says why a model or adapter file could not be loaded.
// errors.Is(err, fs.ErrNotExist) holds for a missing file.
type LoadError struct {
	Path string
	Msg  string
	// Invalid is true when the file itself is at fault (not GGUF, an unknown
	// architecture, missing tensors), false for other failures (out of memory,
	// missing file).
	Invalid bool
	Err     error // the underlying error, if any
}

func (e *LoadError) Error() string {
	s := "llamacpp: load " + e.Path + ": " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}
func (e *LoadError) Unwrap() error { return e.Err }

// InvalidInput reports whether the file is at fault (exit code 3 in the CLI).
func (e *LoadError) InvalidInput() bool { return e.Invalid }

// BackendInfo describes one ggml device that llama.cpp can run on.
type BackendInfo struct {
	Name        string `json:"name"`        // ggml device name: "CPU", "CUDA0"
	Description string `json:"description"` // CPU model or GPU name
	Kind        string `json:"kind"`        // "CPU", "GPU", "IGPU" or "ACCEL"
	FreeBytes   uint64 `json:"free_bytes"`
	TotalBytes  uint64 `json:"total_bytes"`
	// Builtin is true for the CPU code compiled into sattva by cgo, false
	// for a device from a loaded plugin.
	Builtin bool `json:"builtin"`
	// Features lists the backend's build features that are on ("AVX2",
	// "FMA", "CUDA_ARCHS=900a", …) as ggml reports them.
	Features []string `json:"features,omitempty"`
}

// ModelOptions control Load. The zero value loads with mmap, offloading every
// layer when a GPU backend is present.
type ModelOptions struct {
	// GPULayers is how many layers to offload to the GPU: 0 (default) or -1
	// offload all when a GPU backend is present; n > 0 offloads n layers.
	GPULayers int
	// CPUOnly runs the model on the CPU alone: no GPU device is used, not
	// even for the large batches llama.cpp would otherwise offload.
	CPUOnly bool
	// NoMmap reads the file into memory instead of mapping it.
	NoMmap bool
	// MainGPU is the index of the GPU that holds the model.
	MainGPU int
	// VocabOnly loads only the vocabulary: tokenizer and metadata, no weights;
	// such a Model cannot make Contexts.
	VocabOnly bool
	// LoRA adapters (GGUF) loaded with the model and applied with their
	// scales to every Context it makes.
	LoRA []Adapter
	// Logger receives llama.cpp's log when this Load is the first call that
	// initialises the backends, and sattva's own warnings. nil discards.
	Logger *slog.Logger
}

// Adapter is a LoRA adapter GGUF and the scale it is applied with
// (1 applies it as trained: PEFT's alpha/r is already in the file).
type Adapter struct {
	Path  string
	Scale float32
}

// ChatMessage is one turn of a chat: Role is "system", "user" or "assistant".
type ChatMessage struct{ Role, Content string }

// SamplingOptions choose the next token. The zero value is greedy.
type SamplingOptions struct {
	Temperature   float32 // 0: greedy (argmax); otherwise the softmax temperature
	TopK          int     // keep the K most likely tokens; 0: off
	TopP          float32 // nucleus sampling; 0 or 1: off
	MinP          float32 // drop tokens below MinP × the top probability; 0: off
	RepeatPenalty float32 // penalise recent tokens; 0 or 1: off
	RepeatLastN   int     // how many recent tokens RepeatPenalty sees; 0: 64
	Seed          uint32  // the random generator's seed (used as is; same seed, same tokens)
}

// FlashAttention selects llama.cpp's flash-attention kernels.
type FlashAttention int

const (
	FlashAttentionAuto FlashAttention = iota // on where the backend supports it (default)
	FlashAttentionOn
	FlashAttentionOff
)

// ParseFlashAttention reads llama.cpp's -fa values: auto (or ""), on, off,
// and 1/0, true/false.
func ParseFlashAttention(v string) (FlashAttention, error) {
	switch strings.ToLower(v) {
	case "", "auto":
		return FlashAttentionAuto, nil
	case "on", "1", "true":
		return FlashAttentionOn, nil
	case "off", "0", "false":
		return FlashAttentionOff, nil
	}
	return 0, fmt.Errorf("flash attention %q: want auto, on or off", v)
}

// ContextOptions control NewContext. The zero value gives one sequence of
// min(4096, the model's training context) tokens.
type ContextOptions struct {
	// ContextSize is the number of tokens each sequence can hold (prompt and
	// generated tokens); llama.cpp rounds it up to a multiple of 256 when
	// Parallel > 1. 0: min(4096, training context).
	ContextSize int
	// BatchSize is the most tokens handed to one llama_decode (prompt
	// chunks, batched decoding steps); 0: 2048.
	BatchSize int
	// UBatchSize is the physical batch the backend computes at once; 0: 512.
	UBatchSize int
	// Threads for single-token decoding and BatchThreads for prompt
	// processing; 0: the number of CPUs.
	Threads, BatchThreads int
	// Parallel is how many sequences GenerateBatch runs at once; 0: 1.
	Parallel int
	// UnifiedKV makes all sequences share one KV buffer (good when they share
	// a long prefix); default is one KV stream per sequence.
	UnifiedKV      bool
	FlashAttention FlashAttention
	// KVCacheType is the type of the K and V cache: "f16" (default), "f32",
	// "bf16", "q8_0", "q4_0", … (quantized V needs flash attention).
	KVCacheType string
}

// Token is one generated token and its text (raw bytes of its piece; a
// multi-byte character may be split over tokens).
type Token struct {
	ID   int32
	Text string
}

// GenerateOptions control one generation.
type GenerateOptions struct {
	// MaxTokens caps the generated tokens; 0: until end of generation or
	// the context is full.
	MaxTokens int
	// Stop strings end the generation; the stop string itself is not part of
	// the text. They are matched against the text with special tokens
	// rendered ("<|start_header_id|>"), as Ollama matches them, although a
	// special token adds no text to the output.
	Stop     []string
	Sampling SamplingOptions
	// IgnoreEOS keeps generating past end-of-generation tokens until
	// MaxTokens or the context is full (benchmarks: a fixed number of
	// tokens per request; the text after an EOG token means nothing).
	IgnoreEOS bool
}

// Request is one prompt of a GenerateBatch.
type Request struct {
	Prompt  []int32
	Options GenerateOptions
}

// Stop reasons of a Result.
const (
	StopEOG         = "eog"          // the model produced an end-of-generation token
	StopMaxTokens   = "max_tokens"   // MaxTokens reached
	StopString      = "stop"         // a stop string appeared
	StopContextFull = "context_full" // the sequence's context is full
)

// Result is the outcome of one Request.
type Result struct {
	Tokens       []int32 // generated tokens, without the end-of-generation token
	Text         string  // their text, cut before a stop string
	PromptTokens int
	StopReason   string // StopEOG, StopMaxTokens, StopString or StopContextFull
	Err          error  // this request failed (for example its prompt did not fit)
}

// QuantizeOptions control Quantize (llama_model_quantize).
type QuantizeOptions struct {
	FileType string // "Q4_K_M", "Q8_0", "F16", … (llama-quantize's names)
	Threads  int    // 0: the number of CPUs
	// OutputTensorType and TokenEmbeddingType override those tensors' types
	// ("Q6_K", "F16", …); "" keeps llama.cpp's choice.
	OutputTensorType, TokenEmbeddingType string
	Pure                                 bool // every tensor in FileType's type, no per-tensor mix
	LeaveOutputTensor                    bool // do not quantize output.weight
	AllowRequantize                      bool // accept an input that is already quantized
	// IMatrix, when not nil, is the importance matrix handed to
	// llama_model_quantize (params.imatrix), with its provenance written as
	// llama-quantize does (quantize.imatrix.* through params.kv_overrides).
	IMatrix *QuantizeIMatrix
}

// QuantizeIMatrix is an importance matrix as llama-quantize hands it to
// llama_model_quantize: per weight name, the normalised weights (one per
// column, times the number of experts), and what goes into the output's
// quantize.imatrix.* keys.
type QuantizeIMatrix struct {
	Entries map[string][]float32
	File    string // quantize.imatrix.file
	Dataset string // quantize.imatrix.dataset ("" leaves it out)
	Chunks  int    // quantize.imatrix.chunks_count (0 leaves it out)
}
