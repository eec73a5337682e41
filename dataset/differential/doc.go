// Package differential holds no code: its tests check package dataset's
// token counts against llama.cpp's tokenizer (package llamacpp), so that
// dataset's own tests never build llama.cpp. Without cgo they skip.
package differential
