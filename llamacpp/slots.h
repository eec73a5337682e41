// C helpers of slots.go (static; included by slots.go only).
#pragma once
#include <math.h>
#include "llama.h"

// sattva_grammar_init is llama_sampler_init_grammar (NULL when the grammar
// does not parse; llama.cpp logs why).
static struct llama_sampler *sattva_grammar_init(const struct llama_vocab *vocab, const char *grammar, const char *root) {
	return llama_sampler_init_grammar(vocab, grammar, root);
}

// sattva_sample_grammar masks the logits of batch output idx with the
// grammar, then picks with the chain (NULL: argmax) and accepts the token in
// both. When the grammar allows no token it returns -2 without running the
// chain or accepting (llama.cpp's dist sampler asserts, and its grammar
// throws through C, on an all -inf array).
static int32_t sattva_sample_grammar(struct llama_sampler *grammar, struct llama_sampler *chain, struct llama_context *ctx,
		int32_t idx, llama_token_data *buf, int32_t n_vocab) {
	const float *l = llama_get_logits_ith(ctx, idx);
	if (!l) return -1;
	for (int32_t i = 0; i < n_vocab; i++) {
		buf[i].id = i; buf[i].logit = l[i]; buf[i].p = 0.0f;
	}
	llama_token_data_array cur = { buf, (size_t) n_vocab, -1, false };
	llama_sampler_apply(grammar, &cur);
	int64_t best = -1;
	for (size_t i = 0; i < cur.size; i++) {
		if (isinf(cur.data[i].logit) && cur.data[i].logit < 0) continue;
		if (best < 0 || cur.data[i].logit > cur.data[best].logit) best = (int64_t) i;
	}
	if (best < 0) return -2;
	llama_token tok;
	if (chain) {
		llama_sampler_apply(chain, &cur);
		if (cur.selected < 0 || cur.selected >= (int64_t) cur.size) return -1;
		if (isinf(cur.data[cur.selected].logit) && cur.data[cur.selected].logit < 0) return -2;
		tok = cur.data[cur.selected].id;
		llama_sampler_accept(chain, tok);
	} else {
		tok = cur.data[best].id;
	}
	llama_sampler_accept(grammar, tok);
	return tok;
}

// sattva_logprobs writes the log-softmax of the raw logits of batch output
// idx at tok to *lp, and the k most likely tokens (best first) to ids and
// lps. It returns how many of them it wrote.
static int32_t sattva_logprobs(struct llama_context *ctx, int32_t idx, int32_t n_vocab, int32_t tok, float *lp,
		int32_t k, int32_t *ids, float *lps) {
	const float *l = llama_get_logits_ith(ctx, idx);
	if (!l || n_vocab <= 0) { *lp = NAN; return 0; }
	float mx = l[0];
	for (int32_t i = 1; i < n_vocab; i++) if (l[i] > mx) mx = l[i];
	double sum = 0;
	for (int32_t i = 0; i < n_vocab; i++) sum += exp((double)(l[i] - mx));
	float lse = mx + (float) log(sum);
	*lp = (tok >= 0 && tok < n_vocab) ? l[tok] - lse : NAN;
	if (k > n_vocab) k = n_vocab;
	int32_t n = 0;
	for (int32_t i = 0; i < n_vocab; i++) {
		float v = l[i];
		if (n == k && (k == 0 || v <= l[ids[n-1]])) continue;
		int32_t j = n < k ? n++ : k - 1;
		while (j > 0 && l[ids[j-1]] < v) { ids[j] = ids[j-1]; j--; }
		ids[j] = i;
	}
	for (int32_t j = 0; j < n; j++) lps[j] = l[ids[j]] - lse;
	return n;
}
