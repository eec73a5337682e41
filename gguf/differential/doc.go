// Package differential holds no code: its tests check package gguf against
// llama.cpp's own GGUF reader (gguf.cpp, through package llamacpp), so that
// what the Go writer produces is what the C reader sees. They live apart from
// package gguf so that gguf's own tests and fuzzing never build llama.cpp.
// Without cgo they skip.
package differential
