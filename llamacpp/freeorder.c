//go:build cgo

// freeorder.c works around a use-after-free in the pinned llama.cpp when a
// context is freed on a GPU backend.
//
// llama_context declares `sched` before `backends` (llama-context.h), so its
// destructor frees the backends first and the scheduler second. Ollama's ggml
// adds a backend `reset` hook that ggml_backend_sched_free calls on every
// backend it holds (ggml-backend.cpp), so on CUDA (whose backend has a reset)
// it reads the freed backend and crashes; on the CPU (no reset) it is silent.
// Seen on an H200: SIGSEGV in libggml-cuda.so under llama_free →
// ~llama_context → ggml_backend_sched_free.
//
// The fix keeps the backends alive until llama_free returns: the link wraps
// ggml_backend_free (-Wl,--wrap=ggml_backend_free in engine.go); while
// sattva_llama_free runs on this thread the wrapper only records the backends,
// and they are freed after the scheduler is gone. Everywhere else the wrapper
// passes straight through.

#include <stddef.h>
#include "llama.h"
#include "ggml-backend.h"

#if defined(__APPLE__)
// Apple's linker has no --wrap: the context is freed as llama.cpp does it
// (engine.go passes the flag only where GNU ld or lld link).
void sattva_llama_free(struct llama_context *ctx) { llama_free(ctx); }
int sattva_wrap_active(void) { return 0; }
#else

void __real_ggml_backend_free(ggml_backend_t backend);

#define SATTVA_MAX_DEFERRED 64

static __thread int sattva_defer_backend_free;
static __thread int sattva_n_deferred;
static __thread ggml_backend_t sattva_deferred[SATTVA_MAX_DEFERRED];

void __wrap_ggml_backend_free(ggml_backend_t backend) {
	if (backend != NULL && sattva_defer_backend_free && sattva_n_deferred < SATTVA_MAX_DEFERRED) {
		sattva_deferred[sattva_n_deferred++] = backend;
		return;
	}
	__real_ggml_backend_free(backend);
}

// sattva_llama_free frees ctx, then the backends it owned.
void sattva_llama_free(struct llama_context *ctx) {
	sattva_defer_backend_free = 1;
	llama_free(ctx);
	sattva_defer_backend_free = 0;
	for (int i = 0; i < sattva_n_deferred; i++) {
		__real_ggml_backend_free(sattva_deferred[i]);
		sattva_deferred[i] = NULL;
	}
	sattva_n_deferred = 0;
}

// sattva_wrap_active reports whether the link redirected ggml_backend_free
// to the wrapper (a test checks it: without the wrap the fix does nothing).
int sattva_wrap_active(void) {
	return (void (*)(ggml_backend_t))ggml_backend_free == __wrap_ggml_backend_free;
}
#endif
