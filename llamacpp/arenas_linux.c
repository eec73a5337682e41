//go:build cgo

// arenas_linux.c bounds glibc malloc's arenas in every program that links
// package llamacpp.
//
// glibc gives a thread its own malloc arena, and each arena but the first
// reserves 64 MiB of address space, up to 8 arenas per core. In a cgo
// program every thread the Go runtime starts calls malloc once
// (pthread_getattr_np, when runtime/cgo reads the thread's stack bounds), so
// each new thread reserves another 64 MiB before it runs any Go code: six
// arenas (384 MiB) in `sattva data validate` on a 2-core machine, 512 on a
// 64-core host. None of it is memory in use, but under `ulimit -v` it is
// address space the Go heap then cannot get: `data validate` of 20 million
// lines died with "fatal error: out of memory" at 330 MB resident under a
// 2 GB limit, where the same command built without cgo (no glibc malloc)
// finished.
//
// llama.cpp does not need the arenas either: its buffers (weights, KV cache,
// compute graphs) are large allocations that glibc maps directly, its
// compute threads do not malloc, and small allocations go through glibc's
// per-thread cache, which takes no arena lock. So the arenas are capped at
// two: the main one (grown with brk) and one shared by all other threads.
//
// It runs as an ELF constructor, before the Go runtime starts any thread;
// from Go (an init function, main) it would come after the runtime's first
// threads had made their arenas. A cap set by the user, MALLOC_ARENA_MAX or
// glibc.malloc.arena_max in GLIBC_TUNABLES, is left as it is. Not glibc
// (musl has no arenas): nothing to do.

#include <stdlib.h>
#include <string.h>

#if defined(__GLIBC__)
#include <malloc.h>

enum { sattvaMallocArenas = 2 };

__attribute__((constructor)) static void sattva_bound_malloc_arenas(void) {
	const char *tunables = getenv("GLIBC_TUNABLES");
	if (getenv("MALLOC_ARENA_MAX") != NULL || (tunables != NULL && strstr(tunables, "glibc.malloc.arena_max") != NULL)) {
		return;
	}
	mallopt(M_ARENA_MAX, sattvaMallocArenas);
}
#endif
