//go:build cgo

package llamacpp

/*
void sattva_test_ggml_abort(void);
*/
import "C"

// abortForTest aborts the process as a failed GGML_ASSERT does; only the
// tests' child process calls it.
func abortForTest() { C.sattva_test_ggml_abort() }
