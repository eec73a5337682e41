// Package differential holds no code: its tests serve package pipeline's
// export with a real Ollama and compare the text with llama.cpp's in this
// process (package llamacpp). They need cgo and skip without Ollama.
package differential
