//go:build cgo

// backtrace.c keeps ggml's debugger out of sattva's output.
//
// When llama.cpp or ggml aborts (GGML_ASSERT, GGML_ABORT, an uncaught C++
// exception through std::terminate), ggml_print_backtrace forks and attaches
// gdb (or lldb) to the process, and the debugger writes its backtrace to
// standard output: into `--json` output, into a pipe a script reads. The
// model check in front of the engine (gguf/modelcheck) refuses every file
// known to make llama.cpp abort, but an abort it does not foresee must still
// end as a message on standard error and a failed exit, not as gdb's output.
// ggml skips the debugger when GGML_NO_BACKTRACE is set, so it is set here,
// as an ELF constructor, before anything of ggml runs; the abort message
// itself still goes to standard error. SATTVA_GGML_BACKTRACE=1 (or a
// GGML_NO_BACKTRACE of the user's own) leaves ggml's behaviour as it is, for
// a developer who wants the debugger's backtrace.

#include <stdlib.h>

#include "ggml.h"

__attribute__((constructor)) static void sattva_no_ggml_backtrace(void) {
	if (getenv("SATTVA_GGML_BACKTRACE") != NULL) {
		return;
	}
	setenv("GGML_NO_BACKTRACE", "1", 0);
}

// sattva_test_ggml_abort aborts as a failed GGML_ASSERT does (the tests'
// child process calls it).
void sattva_test_ggml_abort(void) {
	GGML_ABORT("sattva test abort");
}
