// Package differential holds no code: its tests run package convert's GGUFs
// through llama.cpp (package llamacpp) on the CPU — logits against
// transformers' references, greedy text, tokenizers, Q8_0 against ggml — so
// that convert's own tests and fuzzing never build llama.cpp. Without cgo
// they skip.
package differential
