//go:build cgo

// gradcheck.c builds tiny ggml graphs, one op (or one attention block) at a
// time, with the scalar loss sum(out * R) for a fixed pseudo-random R, and
// computes the loss and ggml's gradient of every parameter on the CPU. The
// package's gradient-check test compares those gradients with central finite
// differences of the same loss (graphtrain.c's attention relies on them).

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ggml-alloc.h"
#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "gradcheck.h"

enum { GC_HD = 8, GC_H = 4, GC_HKV = 2, GC_N = 5, GC_E = 16 };

// gc_rand is a fixed pseudo-random number in [-1, 1) from a seed and index.
static float gc_rand(uint32_t seed, uint32_t i) {
	uint32_t x = seed * 0x9e3779b9u ^ (i + 1) * 0x85ebca6bu;
	x ^= x >> 16;
	x *= 0x7feb352du;
	x ^= x >> 15;
	x *= 0x846ca68bu;
	x ^= x >> 16;
	return (float)((double)x / 2147483648.0 - 1.0);
}

struct gc_graph {
	struct ggml_tensor *params[8];
	int n_params;
	struct ggml_tensor *pos, *mask; // inputs, set after allocation (may be NULL)
	struct ggml_tensor *out;
};

static struct ggml_tensor *gc_param(struct gc_graph *g, struct ggml_context *ctx, int64_t ne0, int64_t ne1, int64_t ne2) {
	struct ggml_tensor *t = ggml_new_tensor_3d(ctx, GGML_TYPE_F32, ne0, ne1, ne2);
	ggml_set_param(t);
	g->params[g->n_params++] = t;
	return t;
}

static struct ggml_tensor *gc_pos(struct gc_graph *g, struct ggml_context *ctx) {
	if (!g->pos) {
		g->pos = ggml_new_tensor_1d(ctx, GGML_TYPE_I32, GC_N);
	}
	return g->pos;
}

static struct ggml_tensor *gc_mask(struct gc_graph *g, struct ggml_context *ctx) {
	if (!g->mask) {
		g->mask = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, GC_N, GC_N);
	}
	return g->mask;
}

static struct ggml_tensor *gc_rope(struct gc_graph *g, struct ggml_context *ctx, struct ggml_tensor *x) {
	return ggml_rope_ext(ctx, x, gc_pos(g, ctx), NULL, GC_HD, 0, 2048, 10000.0f, 1.0f, 0.0f, 1.0f, 32.0f, 1.0f);
}

// gc_build builds case kase's forward graph: its output (before the loss).
static int gc_build(struct gc_graph *g, struct ggml_context *ctx, int kase) {
	const int64_t hd = GC_HD, H = GC_H, HKV = GC_HKV, N = GC_N, E = GC_E;
	switch (kase) {
	case SATTVA_GC_MUL_MAT_3D: { // KQ of contiguous operands, K broadcast over heads (GQA)
		struct ggml_tensor *k = gc_param(g, ctx, hd, N, HKV);
		struct ggml_tensor *q = gc_param(g, ctx, hd, N, H);
		g->out = ggml_mul_mat(ctx, k, q);
	} break;
	case SATTVA_GC_MUL_MAT_3D_NOBC: {
		struct ggml_tensor *k = gc_param(g, ctx, hd, N, H);
		struct ggml_tensor *q = gc_param(g, ctx, hd, N, H);
		g->out = ggml_mul_mat(ctx, k, q);
	} break;
	case SATTVA_GC_MUL_MAT_PERMUTED: { // the same of permuted views, as llama.cpp's graph
		struct ggml_tensor *k = gc_param(g, ctx, hd, HKV, N);
		struct ggml_tensor *q = gc_param(g, ctx, hd, H, N);
		g->out = ggml_mul_mat(ctx, ggml_permute(ctx, k, 0, 2, 1, 3), ggml_permute(ctx, q, 0, 2, 1, 3));
	} break;
	case SATTVA_GC_PERMUTE_CONT: {
		struct ggml_tensor *x = gc_param(g, ctx, hd, H, N);
		struct ggml_tensor *y = gc_param(g, ctx, hd, H, N);
		g->out = ggml_add(ctx, ggml_cont(ctx, ggml_permute(ctx, x, 0, 2, 1, 3)),
			ggml_reshape_3d(ctx, ggml_cont(ctx, ggml_permute(ctx, y, 1, 2, 0, 3)), hd, N, H));
	} break;
	case SATTVA_GC_SOFT_MAX: {
		struct ggml_tensor *x = gc_param(g, ctx, N, N, H);
		g->out = ggml_soft_max(ctx, x);
	} break;
	case SATTVA_GC_SOFT_MAX_EXT: {
		struct ggml_tensor *x = gc_param(g, ctx, N, N, H);
		g->out = ggml_soft_max_ext(ctx, x, gc_mask(g, ctx), 0.37f, 0.0f);
	} break;
	case SATTVA_GC_ROPE: {
		struct ggml_tensor *x = gc_param(g, ctx, hd, H, N);
		g->out = gc_rope(g, ctx, x);
	} break;
	case SATTVA_GC_RMS_NORM: {
		struct ggml_tensor *x = gc_param(g, ctx, E, N, 1);
		struct ggml_tensor *w = gc_param(g, ctx, E, 1, 1);
		g->out = ggml_mul(ctx, ggml_rms_norm(ctx, x, 1e-5f), w);
	} break;
	case SATTVA_GC_ATTENTION: { // a Llama attention block, as graphtrain.c's
		struct ggml_tensor *x = gc_param(g, ctx, E, N, 1);
		struct ggml_tensor *wn = gc_param(g, ctx, E, 1, 1);
		struct ggml_tensor *wq = gc_param(g, ctx, E, hd * H, 1);
		struct ggml_tensor *wk = gc_param(g, ctx, E, hd * HKV, 1);
		struct ggml_tensor *wv = gc_param(g, ctx, E, hd * HKV, 1);
		struct ggml_tensor *wo = gc_param(g, ctx, hd * H, E, 1);
		struct ggml_tensor *cur = ggml_mul(ctx, ggml_rms_norm(ctx, ggml_reshape_2d(ctx, x, E, N), 1e-5f), ggml_reshape_1d(ctx, wn, E));
		struct ggml_tensor *q = ggml_reshape_3d(ctx, ggml_mul_mat(ctx, ggml_reshape_2d(ctx, wq, E, hd * H), cur), hd, H, N);
		struct ggml_tensor *k = ggml_reshape_3d(ctx, ggml_mul_mat(ctx, ggml_reshape_2d(ctx, wk, E, hd * HKV), cur), hd, HKV, N);
		struct ggml_tensor *v = ggml_reshape_3d(ctx, ggml_mul_mat(ctx, ggml_reshape_2d(ctx, wv, E, hd * HKV), cur), hd, HKV, N);
		q = gc_rope(g, ctx, q);
		k = gc_rope(g, ctx, k);
		cur = sattva_attention(ctx, q, k, v, gc_mask(g, ctx), 1.0f / sqrtf((float)hd));
		g->out = ggml_mul_mat(ctx, ggml_reshape_2d(ctx, wo, hd * H, E), cur);
	} break;
	case SATTVA_GC_ATTENTION_CORE: { // graphtrain.c's attention core: q, k, v straight in
		struct ggml_tensor *q = gc_param(g, ctx, hd, H, N);
		struct ggml_tensor *k = gc_param(g, ctx, hd, HKV, N);
		struct ggml_tensor *v = gc_param(g, ctx, hd, HKV, N);
		g->out = sattva_attention(ctx, q, k, v, gc_mask(g, ctx), 1.0f / sqrtf((float)hd));
	} break;
	default:
		return 0;
	}
	return 1;
}

int64_t sattva_gc_eval(int kase, int gallocr, int guard, const float *p, float *grad, float *loss) {
	struct ggml_init_params ip = {
		.mem_size = 4096 * ggml_tensor_overhead() + 2 * ggml_graph_overhead_custom(4096, true),
		.mem_buffer = NULL,
		.no_alloc = true,
	};
	struct ggml_context *ctx = ggml_init(ip);
	if (!ctx) {
		return -1;
	}
	struct gc_graph g = {0};
	if (!gc_build(&g, ctx, kase)) {
		ggml_free(ctx);
		return -1;
	}
	int64_t np = 0;
	for (int i = 0; i < g.n_params; i++) {
		np += ggml_nelements(g.params[i]);
	}
	if (!p) {
		ggml_free(ctx);
		return np;
	}
	struct ggml_tensor *r = ggml_new_tensor(ctx, GGML_TYPE_F32, GGML_MAX_DIMS, g.out->ne);
	struct ggml_tensor *l = ggml_sum(ctx, ggml_mul(ctx, ggml_cont(ctx, g.out), r));
	ggml_set_loss(l);
	ggml_set_output(l);
	struct ggml_cgraph *gf = ggml_new_graph_custom(ctx, 4096, true);
	ggml_build_forward_expand(gf, l);
	struct ggml_cgraph *gb = NULL;
	struct ggml_tensor *grads[8] = {0};
	if (grad) {
		gb = ggml_graph_dup(ctx, gf, true);
		ggml_build_backward_expand(ctx, gb, NULL);
		for (int i = 0; i < g.n_params; i++) {
			// A parameter's gradient may be a view (of a permute, say).
			struct ggml_tensor *gr = ggml_graph_get_grad(gb, g.params[i]);
			if (!ggml_is_contiguous(gr)) {
				gr = ggml_cont(ctx, gr);
				ggml_build_forward_expand(gb, gr);
			}
			ggml_set_output(gr);
			grads[i] = gr;
		}
		if (guard) {
			sattva_backward_guard(ctx);
		}
	}
	struct ggml_cgraph *run = gb ? gb : gf;

	ggml_backend_t cpu = ggml_backend_cpu_init();
	ggml_backend_cpu_set_n_threads(cpu, 1);
	// Parameters and inputs in one buffer; the graph's other tensors either in
	// a second one (every tensor its own memory) or by ggml's graph allocator
	// (which reuses memory and computes some ops in place), as ggml-opt does.
	ggml_backend_buffer_t buf = NULL;
	ggml_gallocr_t ga = NULL;
	if (gallocr) {
		// Leaves (params, inputs) are allocated by gallocr too; inputs are
		// marked so that their memory is not reused.
		for (int i = 0; i < g.n_params; i++) {
			ggml_set_input(g.params[i]);
		}
		ggml_set_input(r);
		if (g.pos) {
			ggml_set_input(g.pos);
		}
		if (g.mask) {
			ggml_set_input(g.mask);
		}
		ga = ggml_gallocr_new(ggml_backend_get_default_buffer_type(cpu));
		if (!ga || !ggml_gallocr_alloc_graph(ga, run)) {
			ggml_gallocr_free(ga);
			ggml_backend_free(cpu);
			ggml_free(ctx);
			return -1;
		}
	} else {
		buf = ggml_backend_alloc_ctx_tensors(ctx, cpu);
		if (!buf) {
			ggml_backend_free(cpu);
			ggml_free(ctx);
			return -1;
		}
	}
	const float *pp = p;
	for (int i = 0; i < g.n_params; i++) {
		ggml_backend_tensor_set(g.params[i], pp, 0, ggml_nbytes(g.params[i]));
		pp += ggml_nelements(g.params[i]);
	}
	{
		float rv[4096];
		const int64_t n = ggml_nelements(r);
		for (int64_t i = 0; i < n && i < 4096; i++) {
			rv[i] = gc_rand(12345, (uint32_t)i);
		}
		ggml_backend_tensor_set(r, rv, 0, ggml_nbytes(r));
	}
	if (g.pos) {
		int32_t pos[GC_N];
		for (int i = 0; i < GC_N; i++) {
			pos[i] = i;
		}
		ggml_backend_tensor_set(g.pos, pos, 0, sizeof pos);
	}
	if (g.mask) {
		float m[GC_N * GC_N];
		for (int i = 0; i < GC_N; i++) {
			for (int j = 0; j < GC_N; j++) {
				m[i * GC_N + j] = j <= i ? 0.0f : -INFINITY;
			}
		}
		ggml_backend_tensor_set(g.mask, m, 0, sizeof m);
	}
	if (gb) {
		ggml_graph_reset(gb); // the loss's gradient 1, every other 0
	}
	int64_t ret = np;
	if (ggml_backend_graph_compute(cpu, run) != GGML_STATUS_SUCCESS) {
		ret = -1;
	} else {
		ggml_backend_tensor_get(l, loss, 0, sizeof *loss);
		float *gp = grad;
		for (int i = 0; gb && i < g.n_params; i++) {
			ggml_backend_tensor_get(grads[i], gp, 0, ggml_nbytes(g.params[i]));
			gp += ggml_nelements(g.params[i]);
		}
	}
	ggml_gallocr_free(ga);
	if (buf) {
		ggml_backend_buffer_free(buf);
	}
	ggml_backend_free(cpu);
	ggml_free(ctx);
	return ret;
}
