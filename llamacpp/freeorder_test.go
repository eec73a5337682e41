//go:build cgo

package llamacpp

import (
	"runtime"
	"testing"
)

// The use-after-free fix in freeorder.c works only when the final link
// redirects ggml_backend_free to the wrapper (-Wl,--wrap in engine.go).
func TestBackendFreeIsWrapped(t *testing.T) {
	if runtime.GOOS == "darwin" {
		t.Skip("no --wrap in Apple's linker: the fix is not applied on macOS")
	}
	if !wrapActive() {
		t.Fatal("ggml_backend_free is not wrapped: llama_free would free GPU backends before the scheduler")
	}
}
