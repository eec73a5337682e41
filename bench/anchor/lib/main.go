// Command lib is built with -buildmode=c-archive by bench/anchor/build.sh: the
// archive carries exactly the llama.cpp and ggml objects that cgo compiles
// into sattva (same module, same flags), so bench/anchor/tgbench.cpp, linked
// against it, drives the same code from C++ with no Go in the loop.
package main

import "C"

import (
	_ "github.com/ollama/ollama/llama/llama.cpp/src"
	_ "github.com/ollama/ollama/ml/backend/ggml/ggml/src"
)

//export sattva_anchor_linked
func sattva_anchor_linked() C.int { return 1 }

func main() {}
