// Package differential holds no code: its tests check package quantize
// against llama.cpp's own quantizer (ggml's quantize_row_* through package
// llamacpp, and llama_model_quantize on whole files), bit for bit, so that
// quantize's own tests and fuzzing never build llama.cpp. They need cgo.
package differential
