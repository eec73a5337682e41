//go:build !cgo

package cli

func engineName() string { return "none (built with CGO_ENABLED=0)" }

const hasEngine = false
