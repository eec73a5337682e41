// C helpers for package llamacpp. Only static functions: every Go file of the
// package may include this header.
#pragma once
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <math.h>
#if defined(__AVX__) || defined(__SSE__)
#include <immintrin.h>
#endif
#include "llama.h"
#include "ggml-backend.h"
#include "gguf.h"

extern void sattvaGoLog(int level, char *text, uintptr_t handle);

static void sattva_log_cb(enum ggml_log_level level, const char *text, void *ud) {
	sattvaGoLog((int)level, (char *)text, (uintptr_t)ud);
}

static void sattva_log_set(uintptr_t handle) {
	llama_log_set(sattva_log_cb, (void *)handle);
}

// sattva_dev_features writes up to n "NAME" or "NAME=VALUE" strings (pointers
// into the backend's static table) of the device's backend and returns their count.
static int sattva_dev_features(ggml_backend_dev_t dev, const char **names, const char **values, int n) {
	ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(dev);
	if (!reg) return 0;
	ggml_backend_get_features_t fn = (ggml_backend_get_features_t) ggml_backend_reg_get_proc_address(reg, "ggml_backend_get_features");
	if (!fn) return 0;
	struct ggml_backend_feature *f = fn(reg);
	int i = 0;
	for (; f && f[i].name && i < n; i++) {
		names[i] = f[i].name;
		values[i] = f[i].value;
	}
	return i;
}

// sattva_argmax_f32 returns the first index of the largest of l[0..n), as
// llama.cpp's greedy sampler's loop does (a NaN is never chosen, unless it is
// l[0]: then 0, as that loop answers), or -1 for n <= 0. The vocabulary of a
// Llama 3 model is 128256 logits; the scalar loop takes 40-100 µs of each
// generated token on a server CPU, a percent or two of a GPU's decode. With
// SSE or AVX it finds each block's maximum with packed max (NaN lanes drop
// out: max(x, m) keeps m when x is NaN) and runs the scalar loop only over a
// block whose maximum beats the best so far, which gives the same index.
static int32_t sattva_argmax_f32(const float *l, int32_t n) {
	if (!l || n <= 0) return -1;
	int32_t best = 0;
	float bv = l[0];
	int32_t i = 1;
#if defined(__AVX__) || defined(__SSE__)
	enum { BLOCK = 64 };
	for (; i + BLOCK <= n; i += BLOCK) {
#if defined(__AVX__)
		__m256 m = _mm256_set1_ps(-INFINITY);
		for (int k = 0; k < BLOCK; k += 8) m = _mm256_max_ps(_mm256_loadu_ps(l + i + k), m);
		__m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
#else
		__m128 h = _mm_set1_ps(-INFINITY);
		for (int k = 0; k < BLOCK; k += 4) h = _mm_max_ps(_mm_loadu_ps(l + i + k), h);
#endif
		h = _mm_max_ps(h, _mm_movehl_ps(h, h));
		h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
		if (!(_mm_cvtss_f32(h) > bv)) continue;
		for (int k = 0; k < BLOCK; k++) {
			if (l[i + k] > bv) { bv = l[i + k]; best = i + k; }
		}
	}
#endif
	for (; i < n; i++) {
		if (l[i] > bv) { bv = l[i]; best = i; }
	}
	return best;
}

// sattva_argmax returns sattva_argmax_f32 of the logits of batch output idx,
// or -1.
static int32_t sattva_argmax(struct llama_context *ctx, int32_t idx, int32_t n_vocab) {
	return sattva_argmax_f32(llama_get_logits_ith(ctx, idx), n_vocab);
}

// sattva_sample runs the sampler chain over the logits of batch output idx
// using the caller's candidates buffer (n_vocab entries, reused across calls)
// and accepts the chosen token. It returns the token or -1.
static int32_t sattva_sample(struct llama_sampler *smpl, struct llama_context *ctx, int32_t idx,
		llama_token_data *buf, int32_t n_vocab) {
	const float *l = llama_get_logits_ith(ctx, idx);
	if (!l) return -1;
	for (int32_t i = 0; i < n_vocab; i++) {
		buf[i].id = i; buf[i].logit = l[i]; buf[i].p = 0.0f;
	}
	llama_token_data_array cur = { buf, (size_t) n_vocab, -1, false };
	llama_sampler_apply(smpl, &cur);
	if (cur.selected < 0 || cur.selected >= (int64_t) cur.size) return -1;
	llama_token tok = cur.data[cur.selected].id;
	llama_sampler_accept(smpl, tok);
	return tok;
}

// sattva_batch_set writes token i of a batch for one sequence.
static void sattva_batch_set(struct llama_batch *b, int32_t i, llama_token tok, llama_pos pos, llama_seq_id seq, int8_t logits) {
	b->token[i] = tok;
	b->pos[i] = pos;
	b->n_seq_id[i] = 1;
	b->seq_id[i][0] = seq;
	b->logits[i] = logits;
}

// sattva_bench_tg decodes n tokens one at a time into sequence 0 from
// position 0 with llama_synchronize after each, the next token drawn by a
// xorshift from seed: Context.Bench's tg loop with no Go in it (CLoop).
static int sattva_bench_tg(struct llama_context *ctx, struct llama_batch *b, int n, llama_token first, int nvocab, uint64_t seed) {
	uint64_t x = seed | 1;
	llama_token tok = first;
	for (int i = 0; i < n; i++) {
		sattva_batch_set(b, 0, tok, i, 0, 1);
		b->n_tokens = 1;
		int rc = llama_decode(ctx, *b);
		if (rc != 0) return rc;
		llama_synchronize(ctx);
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		tok = (llama_token)(x % (uint64_t)nvocab);
	}
	return 0;
}

// sattva_gguf_arch opens path with ggml's GGUF reader (metadata only) and
// copies general.architecture into buf. It returns 0 on success, -1 when
// the file is not a valid GGUF, -2 when the key is missing or not a string.
static int sattva_gguf_arch(const char *path, char *buf, size_t n) {
	struct gguf_init_params p = { true, NULL };
	struct gguf_context *g = gguf_init_from_file(path, p);
	if (!g) return -1;
	int rc = -2;
	int64_t k = gguf_find_key(g, "general.architecture");
	if (k >= 0 && gguf_get_kv_type(g, k) == GGUF_TYPE_STRING) {
		const char *s = gguf_get_val_str(g, k);
		strncpy(buf, s, n - 1);
		buf[n - 1] = 0;
		rc = 0;
	}
	gguf_free(g);
	return rc;
}

// CPU threadpools come from the CPU backend llama.cpp uses (a plugin's, when
// one is loaded), found through its registry like llama-bench does.
typedef struct ggml_threadpool * (*sattva_tp_new_fn)(struct ggml_threadpool_params *);
typedef void (*sattva_tp_free_fn)(struct ggml_threadpool *);

static void *sattva_cpu_proc(const char *name) {
	ggml_backend_dev_t dev = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
	if (!dev) return NULL;
	ggml_backend_reg_t reg = ggml_backend_dev_backend_reg(dev);
	if (!reg) return NULL;
	return ggml_backend_reg_get_proc_address(reg, name);
}

static struct ggml_threadpool *sattva_threadpool_new(int n_threads, uint32_t poll) {
	sattva_tp_new_fn fn = (sattva_tp_new_fn) sattva_cpu_proc("ggml_threadpool_new");
	if (!fn) return NULL;
	struct ggml_threadpool_params p = ggml_threadpool_params_default(n_threads);
	p.poll = poll;
	return fn(&p);
}

static void sattva_threadpool_free(struct ggml_threadpool *tp) {
	if (!tp) return;
	sattva_tp_free_fn fn = (sattva_tp_free_fn) sattva_cpu_proc("ggml_threadpool_free");
	if (fn) fn(tp);
}

// sattva_route_plugin_log loads the plugins' own libggml-base (they link a
// second copy of ggml's base beside the one in sattva) before the plugins, so
// that they share it, and points its log at sattva's callback. It returns
// the library handle (kept for the life of the process) or NULL.
#include <dlfcn.h>
typedef void (*sattva_log_set_fn)(ggml_log_callback, void *);
static void *sattva_route_plugin_log(const char *base_path, uintptr_t handle) {
	void *h = dlopen(base_path, RTLD_NOW | RTLD_LOCAL);
	if (!h) return NULL;
	sattva_log_set_fn fn = (sattva_log_set_fn) dlsym(h, "ggml_log_set");
	if (fn) fn(sattva_log_cb, (void *)handle);
	return h;
}

// freeorder.c: llama_free that frees the context's backends only after its
// scheduler (see the comment there), and a check that the link wrap is active.
void sattva_llama_free(struct llama_context *ctx);
int sattva_wrap_active(void);
