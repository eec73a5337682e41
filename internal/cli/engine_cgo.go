//go:build cgo

package cli

func engineName() string { return "llama.cpp (cgo)" }

const hasEngine = true
