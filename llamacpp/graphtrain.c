//go:build cgo

// graphtrain.c builds a Llama forward pass as a ggml graph of its own,
// without llama.cpp's KV cache, so that ggml's automatic differentiation
// reaches every weight (llama.cpp's graphs write the KV cache with
// ggml_set_rows, which ggml's backward pass cannot go through), and trains
// it with one graph that holds the forward pass, the backward pass and the
// optimizer step (AdamW or SGD, ggml's own ops, set up as ggml-opt's static
// graphs with opt_period 1 do), sized from the model's actual node and
// tensor counts: ggml-opt's static graphs hold GGML_DEFAULT_GRAPH_SIZE (2048)
// tensors, and the graph copy ggml_opt_alloc makes of them runs out of its
// context (GGML_ASSERT(obj_new)) once nodes plus leafs pass that, at about
// 16 layers, on any backend.
//
// One window of n_tokens tokens is one optimizer step. Several examples are
// packed into a window; the attention mask keeps each token to the earlier
// tokens of its own example (segment) and the positions restart at 0 for
// every example, so each example is computed exactly as it is alone. The
// loss is the cross-entropy of the learned positions only: the logits of
// the other rows are multiplied by 0 before the loss (so no gradient flows
// from them) and their label rows are 0 (so they add nothing to the loss).

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graphtrain.h"

struct sattva_gt_layer {
	struct ggml_tensor *attn_norm, *wq, *wk, *wv, *wo;
	struct ggml_tensor *ffn_norm, *w_gate, *w_up, *w_down;
};

struct sattva_gt {
	struct sattva_gt_hparams hp;
	int32_t n_tokens;
	ggml_backend_t backend;     // holds the weights, computes the graph
	ggml_backend_t backend_cpu; // for what backend cannot compute (== backend on the CPU)
	ggml_backend_sched_t sched;
	struct ggml_context *ctx_w; // weights and inputs, allocated in buf_w
	ggml_backend_buffer_t buf_w;
	struct ggml_context *ctx_compute; // the training graph's tensors and graphs
	struct ggml_context *ctx_static;  // optimizer momenta, the loss's gradient
	ggml_backend_buffer_t buf_static;
	struct ggml_context *ctx_cpu; // the optimizer's parameters, in host memory
	ggml_backend_buffer_t buf_cpu;
	struct ggml_tensor *opt_params; // F32 [7] AdamW or [2] SGD
	struct ggml_cgraph *gb;         // forward, backward and optimizer step
	struct ggml_tensor *loss;       // F32 scalar of gb
	int sgd, gb_alloc;
	int64_t iter; // AdamW steps taken + 1
	struct ggml_opt_optimizer_params pars;
	// The forward graph of evaluation (train == 0), made at the first one,
	// with a scheduler of its own: a scheduler with two backends rewrites
	// the sources of the graph it splits, so it never switches graphs.
	ggml_backend_sched_t sched_eval;
	struct ggml_context *ctx_eval;
	struct ggml_cgraph *gf_eval;
	struct ggml_tensor *loss_eval;
	// Counts of the training graph (gt_bind) and the graph size used.
	int32_t nodes, leafs, tensors, graph_size;
	char device[128];

	struct ggml_tensor *tok_embd, *output_norm, *output, *rope_freqs;
	struct sattva_gt_layer *layers;

	struct ggml_tensor *in_tokens;  // I32 [N]
	struct ggml_tensor *in_pos;     // I32 [N]
	struct ggml_tensor *in_kq_mask; // F32 [N, N]: 0 or -INFINITY
	struct ggml_tensor *in_labels;  // F32 [V, N]: one-hot rows of learned positions, else 0
	struct ggml_tensor *in_lmask;   // F32 [1, N]: 1 for learned positions, else 0
	struct ggml_tensor *in_lscale;  // F32 [1]: N / learned positions
	struct ggml_tensor *out_loss;   // F32 [1, 1]: mean cross-entropy of the learned positions

	float *h_mask, *h_labels, *h_lmask; // host staging
};

static void gt_err(char *err, size_t errlen, const char *msg) {
	if (err && errlen) {
		snprintf(err, errlen, "%s", msg);
	}
}

// gt_pick_device returns the gpu-th GPU device, or the CPU device.
static ggml_backend_dev_t gt_pick_device(int32_t gpu) {
	if (gpu >= 0) {
		int seen = 0;
		for (size_t i = 0; i < ggml_backend_dev_count(); i++) {
			ggml_backend_dev_t d = ggml_backend_dev_get(i);
			if (ggml_backend_dev_type(d) == GGML_BACKEND_DEVICE_TYPE_GPU) {
				if (seen++ == gpu) {
					return d;
				}
			}
		}
	}
	return ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
}

static void gt_set_threads(ggml_backend_t b, int32_t threads) {
	if (!b || threads <= 0) {
		return;
	}
	ggml_backend_dev_t dev = ggml_backend_get_device(b);
	ggml_backend_reg_t reg = dev ? ggml_backend_dev_backend_reg(dev) : NULL;
	if (!reg) {
		return;
	}
	ggml_backend_set_n_threads_t fn = (ggml_backend_set_n_threads_t)ggml_backend_reg_get_proc_address(reg, "ggml_backend_set_n_threads");
	if (fn) {
		fn(b, threads);
	}
}

// gt_meta makes gt's weights context: every tensor of the list (F32, GGUF
// dims) and the inputs for windows of n_tokens tokens, without memory.
static int gt_meta(struct sattva_gt *gt, int32_t n_tensors, const char *const *names, const int64_t *dims, char *err, size_t errlen) {
	struct ggml_init_params ip = {
		.mem_size = (size_t)(n_tensors + 16) * ggml_tensor_overhead(),
		.mem_buffer = NULL,
		.no_alloc = true,
	};
	gt->ctx_w = ggml_init(ip);
	if (!gt->ctx_w) {
		gt_err(err, errlen, "ggml_init failed");
		return 0;
	}
	for (int32_t i = 0; i < n_tensors; i++) {
		const int64_t *ne = dims + 4 * i;
		struct ggml_tensor *t = ggml_new_tensor_4d(gt->ctx_w, GGML_TYPE_F32, ne[0], ne[1], ne[2], ne[3]);
		ggml_set_name(t, names[i]);
	}
	const int64_t N = gt->n_tokens, V = gt->hp.n_vocab;
	gt->in_tokens = ggml_new_tensor_1d(gt->ctx_w, GGML_TYPE_I32, N);
	gt->in_pos = ggml_new_tensor_1d(gt->ctx_w, GGML_TYPE_I32, N);
	gt->in_kq_mask = ggml_new_tensor_2d(gt->ctx_w, GGML_TYPE_F32, N, N);
	gt->in_labels = ggml_new_tensor_2d(gt->ctx_w, GGML_TYPE_F32, V, N);
	gt->in_lmask = ggml_new_tensor_2d(gt->ctx_w, GGML_TYPE_F32, 1, N);
	gt->in_lscale = ggml_new_tensor_1d(gt->ctx_w, GGML_TYPE_F32, 1);
	struct ggml_tensor *ins[] = {gt->in_tokens, gt->in_pos, gt->in_kq_mask, gt->in_labels, gt->in_lmask, gt->in_lscale};
	const char *innames[] = {"sattva.tokens", "sattva.pos", "sattva.kq_mask", "sattva.labels", "sattva.lmask", "sattva.lscale"};
	for (int i = 0; i < 6; i++) {
		ggml_set_name(ins[i], innames[i]);
		ggml_set_input(ins[i]);
	}
	return 1;
}

static int gt_shape_ok(const struct sattva_gt_hparams *hp, int32_t n_tokens, char *err, size_t errlen) {
	if (hp->n_head <= 0 || hp->n_head_kv <= 0 || hp->n_head % hp->n_head_kv != 0 || hp->head_dim <= 0 || n_tokens <= 0 ||
			hp->n_layer <= 0 || hp->n_vocab <= 0) {
		gt_err(err, errlen, "unsupported model shape");
		return 0;
	}
	return 1;
}

struct sattva_gt *sattva_gt_new(const struct sattva_gt_hparams *hp, int32_t n_tokens, int32_t gpu, int32_t threads,
		int32_t n_tensors, const char *const *names, const int64_t *dims, char *err, size_t errlen) {
	if (!gt_shape_ok(hp, n_tokens, err, errlen)) {
		return NULL;
	}
	struct sattva_gt *gt = calloc(1, sizeof *gt);
	if (!gt) {
		gt_err(err, errlen, "out of memory");
		return NULL;
	}
	gt->hp = *hp;
	gt->n_tokens = n_tokens;
	ggml_backend_dev_t dev = gt_pick_device(gpu);
	ggml_backend_dev_t cpu = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
	if (!dev || !cpu) {
		gt_err(err, errlen, "no ggml backend device");
		free(gt);
		return NULL;
	}
	snprintf(gt->device, sizeof gt->device, "%s", ggml_backend_dev_name(dev));
	gt->backend = ggml_backend_dev_init(dev, NULL);
	gt->backend_cpu = dev == cpu ? gt->backend : ggml_backend_dev_init(cpu, NULL);
	if (!gt->backend || !gt->backend_cpu) {
		gt_err(err, errlen, "cannot start the ggml backend");
		sattva_gt_free(gt);
		return NULL;
	}
	gt_set_threads(gt->backend, threads);
	gt_set_threads(gt->backend_cpu, threads);
	if (!gt_meta(gt, n_tensors, names, dims, err, errlen)) {
		sattva_gt_free(gt);
		return NULL;
	}
	const int64_t N = n_tokens, V = hp->n_vocab;
	gt->buf_w = ggml_backend_alloc_ctx_tensors(gt->ctx_w, gt->backend);
	gt->h_mask = malloc((size_t)(N * N) * sizeof(float));
	gt->h_labels = malloc((size_t)(V * N) * sizeof(float));
	gt->h_lmask = malloc((size_t)N * sizeof(float));
	if (!gt->buf_w || !gt->h_mask || !gt->h_labels || !gt->h_lmask) {
		gt_err(err, errlen, "cannot allocate the weights and inputs");
		sattva_gt_free(gt);
		return NULL;
	}
	ggml_backend_buffer_set_usage(gt->buf_w, GGML_BACKEND_BUFFER_USAGE_WEIGHTS);
	return gt;
}

static struct ggml_tensor *gt_tensor(struct sattva_gt *gt, const char *name) {
	return gt && gt->ctx_w ? ggml_get_tensor(gt->ctx_w, name) : NULL;
}

int sattva_gt_tensor_set(struct sattva_gt *gt, const char *name, const void *data, size_t off, size_t n) {
	struct ggml_tensor *t = gt_tensor(gt, name);
	if (!t || off > ggml_nbytes(t) || n > ggml_nbytes(t) - off) {
		return 0;
	}
	ggml_backend_tensor_set(t, data, off, n);
	return 1;
}

int sattva_gt_tensor_get(struct sattva_gt *gt, const char *name, void *data, size_t off, size_t n) {
	struct ggml_tensor *t = gt_tensor(gt, name);
	if (!t || off > ggml_nbytes(t) || n > ggml_nbytes(t) - off) {
		return 0;
	}
	ggml_backend_tensor_get(t, data, off, n);
	return 1;
}

int sattva_gt_param(struct sattva_gt *gt, const char *name) {
	struct ggml_tensor *t = gt_tensor(gt, name);
	if (!t) {
		return 0;
	}
	ggml_set_param(t);
	return 1;
}

// gt_want returns the tensor with name "blk.<il>.<what>.weight" (il < 0:
// "<what>.weight") if its shape is ne0 × ne1, else NULL (and says so in err).
static struct ggml_tensor *gt_want(struct sattva_gt *gt, int il, const char *what, int64_t ne0, int64_t ne1, char *err, size_t errlen) {
	char name[GGML_MAX_NAME];
	if (il >= 0) {
		snprintf(name, sizeof name, "blk.%d.%s.weight", il, what);
	} else {
		snprintf(name, sizeof name, "%s.weight", what);
	}
	struct ggml_tensor *t = gt_tensor(gt, name);
	if (!t) {
		if (err && errlen) {
			snprintf(err, errlen, "the model has no tensor %s", name);
		}
		return NULL;
	}
	if (t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != 1 || t->ne[3] != 1) {
		if (err && errlen) {
			snprintf(err, errlen, "tensor %s is %lld x %lld, want %lld x %lld", name, (long long)t->ne[0], (long long)t->ne[1],
				(long long)ne0, (long long)ne1);
		}
		return NULL;
	}
	return t;
}

static struct ggml_tensor *gt_norm(struct ggml_context *ctx, struct ggml_tensor *x, struct ggml_tensor *w, float eps) {
	return ggml_mul(ctx, ggml_rms_norm(ctx, x, eps), w);
}

// sattva_backward_guard: see graphtrain.h. ggml-alloc.c's
// ggml_op_can_inplace lets the graph allocator give RMS_NORM_BACK and
// SOFT_MAX_BACK the memory of an input whose last reader they are, but
// ggml-cpu's kernels are not written for it: rms_norm_back copies x into dx
// and then adds dz, which is dx itself when dx aliases dz (src0), so it
// returns rrms*(2*s*x) instead of rrms*(s*x + dz); soft_max_back copies dy
// into dx and then multiplies by y, which is dx when dx aliases y (src1).
// ggml's allocator reuses src0 first, and src0 of RMS_NORM_BACK is the
// gradient of the norm's output, read by nothing else, so every RMS norm's
// backward pass was wrong in ggml-opt's graphs (gradcheck_test.go shows it).
// A graph output is never reused.
int sattva_backward_guard(struct ggml_context *ctx) {
	int n = 0;
	for (struct ggml_tensor *t = ggml_get_first_tensor(ctx); t; t = ggml_get_next_tensor(ctx, t)) {
		struct ggml_tensor *in = NULL;
		if (t->op == GGML_OP_RMS_NORM_BACK) {
			in = t->src[0];
		} else if (t->op == GGML_OP_SOFT_MAX_BACK) {
			in = t->src[1];
		}
		if (in && !(in->flags & GGML_TENSOR_FLAG_OUTPUT)) {
			ggml_set_output(in);
			n++;
		}
	}
	return n;
}

// sattva_attention is causal multi-head attention of q [hd, n_head, N] over
// k and v [hd, n_head_kv, N] (query head h reads key/value head
// h / (n_head/n_head_kv), as llama.cpp) with mask [N, N] (0 or -INFINITY,
// row i: what query i sees) and the scale kq_scale: [hd * n_head, N].
struct ggml_tensor *sattva_attention(struct ggml_context *ctx, struct ggml_tensor *q, struct ggml_tensor *k,
		struct ggml_tensor *v, struct ggml_tensor *mask, float kq_scale) {
	const int64_t hd = q->ne[0], n_head = q->ne[1], N = q->ne[2];
	q = ggml_cont(ctx, ggml_permute(ctx, q, 0, 2, 1, 3)); // [hd, N, n_head]
	k = ggml_cont(ctx, ggml_permute(ctx, k, 0, 2, 1, 3)); // [hd, N, n_head_kv]
	struct ggml_tensor *vt = ggml_cont(ctx, ggml_permute(ctx, v, 1, 2, 0, 3)); // [N, hd, n_head_kv]
	struct ggml_tensor *kq = ggml_mul_mat(ctx, k, q); // [N kv, N q, n_head]
	kq = ggml_soft_max_ext(ctx, kq, mask, kq_scale, 0.0f);
	struct ggml_tensor *kqv = ggml_mul_mat(ctx, vt, kq); // [hd, N, n_head]
	struct ggml_tensor *cur = ggml_cont(ctx, ggml_permute(ctx, kqv, 0, 2, 1, 3)); // [hd, n_head, N]
	return ggml_reshape_2d(ctx, cur, hd * n_head, N);
}

// gt_forward returns the scalar loss of the window (see the file comment).
static struct ggml_tensor *gt_forward(struct sattva_gt *gt, struct ggml_context *ctx) {
	const struct sattva_gt_hparams *hp = &gt->hp;
	const int64_t N = gt->n_tokens, hd = hp->head_dim;
	const float kq_scale = 1.0f / sqrtf((float)hd);
	struct ggml_tensor *x = ggml_get_rows(ctx, gt->tok_embd, gt->in_tokens); // [n_embd, N]
	for (int il = 0; il < hp->n_layer; il++) {
		const struct sattva_gt_layer *L = &gt->layers[il];
		struct ggml_tensor *cur = gt_norm(ctx, x, L->attn_norm, hp->norm_eps);
		struct ggml_tensor *q = ggml_reshape_3d(ctx, ggml_mul_mat(ctx, L->wq, cur), hd, hp->n_head, N);
		struct ggml_tensor *k = ggml_reshape_3d(ctx, ggml_mul_mat(ctx, L->wk, cur), hd, hp->n_head_kv, N);
		struct ggml_tensor *v = ggml_reshape_3d(ctx, ggml_mul_mat(ctx, L->wv, cur), hd, hp->n_head_kv, N);
		// LLAMA_ROPE_TYPE_NORM (0), no YaRN: llama.cpp's settings for a Llama.
		q = ggml_rope_ext(ctx, q, gt->in_pos, gt->rope_freqs, hp->n_rot, 0, hp->n_ctx_orig, hp->freq_base, hp->freq_scale,
			0.0f, 1.0f, 32.0f, 1.0f);
		k = ggml_rope_ext(ctx, k, gt->in_pos, gt->rope_freqs, hp->n_rot, 0, hp->n_ctx_orig, hp->freq_base, hp->freq_scale,
			0.0f, 1.0f, 32.0f, 1.0f);
		cur = sattva_attention(ctx, q, k, v, gt->in_kq_mask, kq_scale); // [hd * n_head, N]
		cur = ggml_mul_mat(ctx, L->wo, cur);
		x = ggml_add(ctx, x, cur);
		cur = gt_norm(ctx, x, L->ffn_norm, hp->norm_eps);
		struct ggml_tensor *g = ggml_mul_mat(ctx, L->w_gate, cur);
		struct ggml_tensor *u = ggml_mul_mat(ctx, L->w_up, cur);
		cur = ggml_mul_mat(ctx, L->w_down, ggml_mul(ctx, ggml_silu(ctx, g), u));
		x = ggml_add(ctx, x, cur);
	}
	x = gt_norm(ctx, x, gt->output_norm, hp->norm_eps);
	struct ggml_tensor *logits = ggml_mul_mat(ctx, gt->output ? gt->output : gt->tok_embd, x); // [V, N]
	logits = ggml_mul(ctx, logits, gt->in_lmask);
	struct ggml_tensor *ce = ggml_cross_entropy_loss(ctx, logits, gt->in_labels); // sum over rows / N
	struct ggml_tensor *loss = ggml_reshape_2d(ctx, ggml_mul(ctx, ce, gt->in_lscale), 1, 1);
	ggml_set_name(loss, "sattva.loss");
	return loss;
}

// GT_MAX_GRAPH bounds the nodes plus leafs of the training graph: the
// scheduler's buffers grow with it (ggml_backend_sched_new keeps about 20
// KB of host memory per unit of graph size).
#define GT_MAX_GRAPH (1 << 17)

// gt_graph builds in ctx the graph of one window: with train, forward pass,
// loss, backward pass and one optimizer step for every trainable tensor
// (momenta and the loss's gradient in ctx_static, the step's parameters
// opt_params), as ggml-opt's static graphs with opt_period 1; without, the
// forward pass and loss only. Graphs hold size nodes (and size leafs).
static struct ggml_cgraph *gt_graph(struct sattva_gt *gt, struct ggml_context *ctx, struct ggml_context *ctx_static,
		struct ggml_tensor *opt_params, size_t size, int train, struct ggml_tensor **loss_out) {
	struct ggml_tensor *out = gt_forward(gt, ctx);
	struct ggml_tensor *loss = ggml_sum(ctx, out);
	ggml_set_name(loss, "sattva.loss_sum");
	ggml_set_output(loss);
	struct ggml_cgraph *gf = ggml_new_graph_custom(ctx, size, train != 0);
	ggml_build_forward_expand(gf, loss);
	*loss_out = loss;
	if (!train) {
		return gf;
	}
	ggml_set_loss(loss);
	const int n = ggml_graph_n_nodes(gf);
	struct ggml_tensor **accs = calloc((size_t)n, sizeof *accs);
	struct ggml_tensor **mom = calloc(2 * (size_t)n, sizeof *mom);
	if (!accs || !mom) {
		free(accs);
		free(mom);
		return NULL;
	}
	for (int i = 0; i < n; i++) {
		struct ggml_tensor *node = ggml_graph_node(gf, i);
		if (node->flags & GGML_TENSOR_FLAG_LOSS) {
			accs[i] = ggml_new_tensor(ctx_static, GGML_TYPE_F32, GGML_MAX_DIMS, node->ne);
		}
		if ((node->flags & GGML_TENSOR_FLAG_PARAM) && !gt->sgd) {
			mom[2 * i] = ggml_new_tensor(ctx_static, GGML_TYPE_F32, GGML_MAX_DIMS, node->ne);
			mom[2 * i + 1] = ggml_new_tensor(ctx_static, GGML_TYPE_F32, GGML_MAX_DIMS, node->ne);
			ggml_format_name(mom[2 * i], "AdamW m for %s", node->name);
			ggml_format_name(mom[2 * i + 1], "AdamW v for %s", node->name);
		}
	}
	struct ggml_cgraph *gb = ggml_graph_dup(ctx, gf, true);
	ggml_build_backward_expand(ctx, gb, accs);
	// The first n nodes of gb are gf's, in gf's order.
	for (int i = n - 1; i >= 0; i--) {
		struct ggml_tensor *node = ggml_graph_node(gb, i);
		struct ggml_tensor *grad = ggml_graph_get_grad(gb, node);
		if (!grad || !(node->flags & GGML_TENSOR_FLAG_PARAM)) {
			continue;
		}
		struct ggml_tensor *st = gt->sgd ? ggml_opt_step_sgd(ctx, node, grad, opt_params)
						 : ggml_opt_step_adamw(ctx, node, grad, mom[2 * i], mom[2 * i + 1], opt_params);
		ggml_format_name(st, "%s step for %s", gt->sgd ? "SGD" : "AdamW", node->name);
		ggml_build_forward_expand(gb, st);
	}
	free(accs);
	free(mom);
	return gb;
}

// gt_ctx_tensors counts the tensors of ctx.
static int32_t gt_ctx_tensors(struct ggml_context *ctx) {
	int32_t n = 0;
	for (struct ggml_tensor *t = ggml_get_first_tensor(ctx); t; t = ggml_get_next_tensor(ctx, t)) {
		n++;
	}
	return n;
}

static int gt_ptr_cmp(const void *a, const void *b) {
	const uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
	return x < y ? -1 : x > y;
}

// gt_graph_leafs counts g's leafs (ggml.h has no accessor): the distinct
// sources of its nodes that ggml_build_forward_expand makes leafs (no op,
// not trainable); -1 if out of memory.
static int32_t gt_graph_leafs(struct ggml_cgraph *g) {
	const int n = ggml_graph_n_nodes(g);
	struct ggml_tensor **v = malloc((size_t)n * GGML_MAX_SRC * sizeof *v);
	if (!v) {
		return -1;
	}
	size_t k = 0;
	for (int i = 0; i < n; i++) {
		struct ggml_tensor *node = ggml_graph_node(g, i);
		for (int j = 0; j < GGML_MAX_SRC; j++) {
			struct ggml_tensor *t = node->src[j];
			if (t && t->op == GGML_OP_NONE && !(t->flags & GGML_TENSOR_FLAG_PARAM)) {
				v[k++] = t;
			}
		}
	}
	qsort(v, k, sizeof *v, gt_ptr_cmp);
	int32_t leafs = 0;
	for (size_t i = 0; i < k; i++) {
		leafs += i == 0 || v[i] != v[i - 1];
	}
	free(v);
	return leafs;
}

// gt_count builds the training graph of the model cut to n_layer layers in
// a throwaway context whose graphs hold size nodes and fills its node, leaf
// and tensor counts; 0 if a context could not be made.
static int gt_count(struct sattva_gt *gt, int32_t n_layer, size_t size, int32_t *nodes, int32_t *leafs, int32_t *tensors) {
	struct ggml_init_params ip = {
		.mem_size = 6 * size * ggml_tensor_overhead() + 2 * ggml_graph_overhead_custom(size, true),
		.mem_buffer = NULL,
		.no_alloc = true,
	};
	struct ggml_context *ctx = ggml_init(ip);
	if (!ctx) {
		return 0;
	}
	const int32_t keep = gt->hp.n_layer;
	gt->hp.n_layer = n_layer;
	struct ggml_tensor *par = ggml_new_tensor_1d(ctx, GGML_TYPE_F32, gt->sgd ? 2 : 7), *loss = NULL;
	struct ggml_cgraph *gb = gt_graph(gt, ctx, ctx, par, size, 1, &loss);
	gt->hp.n_layer = keep;
	if (gb) {
		*nodes = ggml_graph_n_nodes(gb);
		*leafs = gt_graph_leafs(gb);
		*tensors = gt_ctx_tensors(ctx);
	}
	ggml_free(ctx);
	return gb != NULL && *leafs >= 0;
}

// gt_count_graph counts the training graph (see gt_count) of the whole
// model: from the graphs of one and two layers it projects the whole one's
// size, refuses it beyond GT_MAX_GRAPH, and counts it in a context sized
// from the projection (a graph or context too small aborts in ggml).
static int gt_count_graph(struct sattva_gt *gt, char *err, size_t errlen) {
	int32_t n1, l1, t1, n2, l2, t2;
	const size_t small = 1 << 14;
	if (!gt_count(gt, 1, small, &n1, &l1, &t1) || !gt_count(gt, 2, small, &n2, &l2, &t2)) {
		gt_err(err, errlen, "ggml_init failed");
		return 0;
	}
	const int64_t L = gt->hp.n_layer;
	const int64_t pn = n1 + (int64_t)(n2 - n1) * (L - 1), pl = l1 + (int64_t)(l2 - l1) * (L - 1);
	const int64_t pt = t1 + (int64_t)(t2 - t1) * (L - 1);
	if (pn + pl > GT_MAX_GRAPH) {
		if (err && errlen) {
			snprintf(err, errlen, "the training graph of %lld layers has about %lld nodes and leafs, more than this trainer takes (%d)",
				(long long)L, (long long)(pn + pl), GT_MAX_GRAPH);
		}
		return 0;
	}
	const size_t size = (size_t)(pn > pl ? pn : pl) * 5 / 4 + 256;
	if (!gt_count(gt, gt->hp.n_layer, size > (size_t)pt ? size : (size_t)pt, &gt->nodes, &gt->leafs, &gt->tensors)) {
		gt_err(err, errlen, "ggml_init failed");
		return 0;
	}
	const int32_t most = gt->nodes > gt->leafs ? gt->nodes : gt->leafs;
	gt->graph_size = most + most / 4 + 256;
	return 1;
}

// gt_bind finds the model's tensors in gt's weights context, checks their
// shapes and that the training graph fits ggml-opt's static graphs: its
// node count, or 0 (err says why).
static int32_t gt_bind(struct sattva_gt *gt, char *err, size_t errlen) {
	const struct sattva_gt_hparams *hp = &gt->hp;
	const int64_t E = hp->n_embd, Q = (int64_t)hp->head_dim * hp->n_head, KV = (int64_t)hp->head_dim * hp->n_head_kv;
	if (!(gt->tok_embd = gt_want(gt, -1, "token_embd", E, hp->n_vocab, err, errlen)) ||
			!(gt->output_norm = gt_want(gt, -1, "output_norm", E, 1, err, errlen))) {
		return 0;
	}
	gt->output = gt_tensor(gt, "output.weight");
	if (gt->output && !gt_want(gt, -1, "output", E, hp->n_vocab, err, errlen)) {
		return 0;
	}
	gt->rope_freqs = gt_tensor(gt, "rope_freqs.weight");
	gt->layers = calloc((size_t)hp->n_layer, sizeof *gt->layers);
	if (!gt->layers) {
		gt_err(err, errlen, "out of memory");
		return 0;
	}
	for (int il = 0; il < hp->n_layer; il++) {
		struct sattva_gt_layer *L = &gt->layers[il];
		if (!(L->attn_norm = gt_want(gt, il, "attn_norm", E, 1, err, errlen)) ||
				!(L->wq = gt_want(gt, il, "attn_q", E, Q, err, errlen)) ||
				!(L->wk = gt_want(gt, il, "attn_k", E, KV, err, errlen)) ||
				!(L->wv = gt_want(gt, il, "attn_v", E, KV, err, errlen)) ||
				!(L->wo = gt_want(gt, il, "attn_output", Q, E, err, errlen)) ||
				!(L->ffn_norm = gt_want(gt, il, "ffn_norm", E, 1, err, errlen)) ||
				!(L->w_gate = gt_want(gt, il, "ffn_gate", E, hp->n_ff, err, errlen)) ||
				!(L->w_up = gt_want(gt, il, "ffn_up", E, hp->n_ff, err, errlen)) ||
				!(L->w_down = gt_want(gt, il, "ffn_down", hp->n_ff, E, err, errlen))) {
			return 0;
		}
	}
	if (gt->rope_freqs && gt->rope_freqs->flags & GGML_TENSOR_FLAG_PARAM) {
		gt_err(err, errlen, "rope_freqs.weight cannot train (ggml has no gradient for RoPE frequency factors)");
		return 0;
	}
	if (!gt_count_graph(gt, err, errlen)) {
		return 0;
	}
	return gt->nodes;
}

int sattva_gt_build(struct sattva_gt *gt, int sgd, char *err, size_t errlen) {
	gt->sgd = sgd != 0;
	if (gt_bind(gt, err, errlen) <= 0) {
		return 0;
	}
	// Sized from the counts of gt_count_graph, with a margin.
	const size_t size = (size_t)gt->graph_size;
	struct ggml_init_params ip = {
		.mem_size = (size_t)(gt->tensors + gt->tensors / 4 + 256) * ggml_tensor_overhead() + 2 * ggml_graph_overhead_custom(size, true),
		.mem_buffer = NULL,
		.no_alloc = true,
	};
	gt->ctx_compute = ggml_init(ip);
	ip.mem_size = (size_t)(2 * gt_ctx_tensors(gt->ctx_w) + 8) * ggml_tensor_overhead();
	gt->ctx_static = ggml_init(ip);
	ip.mem_size = 2 * ggml_tensor_overhead();
	gt->ctx_cpu = ggml_init(ip);
	if (!gt->ctx_compute || !gt->ctx_static || !gt->ctx_cpu) {
		gt_err(err, errlen, "ggml_init failed");
		return 0;
	}
	gt->opt_params = ggml_new_tensor_1d(gt->ctx_cpu, GGML_TYPE_F32, gt->sgd ? 2 : 7);
	ggml_set_name(gt->opt_params, gt->sgd ? "sgd_params" : "adamw_params");
	ggml_set_input(gt->opt_params);
	gt->gb = gt_graph(gt, gt->ctx_compute, gt->ctx_static, gt->opt_params, size, 1, &gt->loss);
	if (!gt->gb) {
		gt_err(err, errlen, "out of memory");
		return 0;
	}
	sattva_backward_guard(gt->ctx_compute);
	gt->buf_static = ggml_backend_alloc_ctx_tensors(gt->ctx_static, gt->backend);
	gt->buf_cpu = ggml_backend_alloc_ctx_tensors_from_buft(gt->ctx_cpu, ggml_backend_cpu_buffer_type());
	if (!gt->buf_static || !gt->buf_cpu) {
		gt_err(err, errlen, "cannot allocate the optimizer's state");
		return 0;
	}
	ggml_graph_reset(gt->gb); // the loss's gradient 1, the momenta 0
	ggml_backend_t backends[2] = {gt->backend, gt->backend_cpu};
	int nb = gt->backend == gt->backend_cpu ? 1 : 2;
	// The scheduler's hash set holds the graph's nodes and leafs.
	gt->sched = ggml_backend_sched_new(backends, NULL, nb, 2 * size, false, false);
	if (!gt->sched) {
		gt_err(err, errlen, "ggml_backend_sched_new failed");
		return 0;
	}
	gt->pars = ggml_opt_get_default_optimizer_params(NULL);
	gt->iter = 1;
	return 1;
}

// gt_eval_graph makes the forward graph of evaluation and its scheduler.
static int gt_eval_graph(struct sattva_gt *gt) {
	const size_t size = (size_t)gt->graph_size;
	struct ggml_init_params ip = {
		.mem_size = (size_t)(gt->tensors + 256) * ggml_tensor_overhead() + ggml_graph_overhead_custom(size, false),
		.mem_buffer = NULL,
		.no_alloc = true,
	};
	gt->ctx_eval = ggml_init(ip);
	if (!gt->ctx_eval) {
		return 0;
	}
	gt->gf_eval = gt_graph(gt, gt->ctx_eval, NULL, NULL, size, 0, &gt->loss_eval);
	ggml_backend_t backends[2] = {gt->backend, gt->backend_cpu};
	int nb = gt->backend == gt->backend_cpu ? 1 : 2;
	gt->sched_eval = ggml_backend_sched_new(backends, NULL, nb, 2 * size, false, false);
	return gt->sched_eval && ggml_backend_sched_alloc_graph(gt->sched_eval, gt->gf_eval);
}

// gt_set_opt_params writes the optimizer step's parameters, as ggml_opt_eval.
static void gt_set_opt_params(struct sattva_gt *gt) {
	float *p = ggml_get_data_f32(gt->opt_params);
	if (gt->sgd) {
		p[0] = gt->pars.sgd.alpha;
		p[1] = gt->pars.sgd.wd;
		return;
	}
	const struct ggml_opt_optimizer_params *o = &gt->pars;
	p[0] = o->adamw.alpha;
	p[1] = o->adamw.beta1;
	p[2] = o->adamw.beta2;
	p[3] = o->adamw.eps;
	p[4] = o->adamw.wd;
	p[5] = 1.0f / (1.0f - powf(o->adamw.beta1, (float)gt->iter));
	p[6] = 1.0f / (1.0f - powf(o->adamw.beta2, (float)gt->iter));
}

double sattva_gt_step(struct sattva_gt *gt, const int32_t *tokens, const int32_t *pos, const int32_t *seg,
		const int32_t *targets, const uint8_t *learn, int train, float lr, float wd) {
	const int64_t N = gt->n_tokens, V = gt->hp.n_vocab;
	int64_t n_learn = 0;
	memset(gt->h_labels, 0, (size_t)(V * N) * sizeof(float));
	for (int64_t i = 0; i < N; i++) {
		const int on = learn[i] && targets[i] >= 0 && targets[i] < V && seg[i] >= 0;
		gt->h_lmask[i] = on ? 1.0f : 0.0f;
		if (on) {
			gt->h_labels[i * V + targets[i]] = 1.0f;
			n_learn++;
		}
		// Row i (a query) sees the keys j <= i of its own segment; padding
		// (segment -1) sees itself only, so that no row is all -inf.
		float *row = gt->h_mask + i * N;
		for (int64_t j = 0; j < N; j++) {
			const int see = j == i || (j < i && seg[i] >= 0 && seg[j] == seg[i]);
			row[j] = see ? 0.0f : -INFINITY;
		}
	}
	if (n_learn == 0) {
		return -1.0;
	}
	if (train && !(wd >= 0.0f && wd <= 1.0f && lr > 0.0f)) {
		return -2.0;
	}
	// The scheduler allocates its graph once and keeps it.
	if (train && !gt->gb_alloc) {
		if (!ggml_backend_sched_alloc_graph(gt->sched, gt->gb)) {
			return -2.0;
		}
		gt->gb_alloc = 1;
	}
	if (!train && !gt->gf_eval && !gt_eval_graph(gt)) {
		return -2.0;
	}
	const float lscale = (float)N / (float)n_learn;
	ggml_backend_tensor_set(gt->in_tokens, tokens, 0, ggml_nbytes(gt->in_tokens));
	ggml_backend_tensor_set(gt->in_pos, pos, 0, ggml_nbytes(gt->in_pos));
	ggml_backend_tensor_set(gt->in_kq_mask, gt->h_mask, 0, ggml_nbytes(gt->in_kq_mask));
	ggml_backend_tensor_set(gt->in_labels, gt->h_labels, 0, ggml_nbytes(gt->in_labels));
	ggml_backend_tensor_set(gt->in_lmask, gt->h_lmask, 0, ggml_nbytes(gt->in_lmask));
	ggml_backend_tensor_set(gt->in_lscale, &lscale, 0, sizeof lscale);
	gt->pars.adamw.alpha = lr;
	gt->pars.adamw.wd = wd;
	gt->pars.sgd.alpha = lr;
	gt->pars.sgd.wd = wd;
	struct ggml_tensor *loss_t = gt->loss_eval;
	if (train) {
		gt_set_opt_params(gt);
		if (ggml_backend_sched_graph_compute(gt->sched, gt->gb) != GGML_STATUS_SUCCESS) {
			return -2.0;
		}
		gt->iter++;
		loss_t = gt->loss;
	} else if (ggml_backend_sched_graph_compute(gt->sched_eval, gt->gf_eval) != GGML_STATUS_SUCCESS) {
		return -2.0;
	}
	float loss = 0;
	ggml_backend_tensor_get(loss_t, &loss, 0, sizeof loss);
	return loss;
}

int32_t sattva_gt_check(const struct sattva_gt_hparams *hp, int32_t n_tokens, int32_t n_tensors, const char *const *names,
		const int64_t *dims, char *err, size_t errlen) {
	if (!gt_shape_ok(hp, n_tokens, err, errlen)) {
		return 0;
	}
	struct sattva_gt *gt = calloc(1, sizeof *gt);
	if (!gt) {
		gt_err(err, errlen, "out of memory");
		return 0;
	}
	gt->hp = *hp;
	gt->n_tokens = n_tokens;
	int32_t nodes = 0;
	if (gt_meta(gt, n_tensors, names, dims, err, errlen)) {
		// Every tensor trainable: the largest graph.
		for (int32_t i = 0; i < n_tensors; i++) {
			if (strcmp(names[i], "rope_freqs.weight") != 0) {
				ggml_set_param(ggml_get_tensor(gt->ctx_w, names[i]));
			}
		}
		nodes = gt_bind(gt, err, errlen);
	}
	sattva_gt_free(gt);
	return nodes;
}

int32_t sattva_gt_nodes(struct sattva_gt *gt) { return gt->nodes; }

const char *sattva_gt_device(struct sattva_gt *gt) { return gt->device; }

void sattva_gt_free(struct sattva_gt *gt) {
	if (!gt) {
		return;
	}
	// The schedulers before the backends they hold (see freeorder.c).
	if (gt->sched) {
		ggml_backend_sched_free(gt->sched);
	}
	if (gt->sched_eval) {
		ggml_backend_sched_free(gt->sched_eval);
	}
	if (gt->buf_static) {
		ggml_backend_buffer_free(gt->buf_static);
	}
	if (gt->buf_cpu) {
		ggml_backend_buffer_free(gt->buf_cpu);
	}
	if (gt->ctx_static) {
		ggml_free(gt->ctx_static);
	}
	if (gt->ctx_cpu) {
		ggml_free(gt->ctx_cpu);
	}
	if (gt->ctx_eval) {
		ggml_free(gt->ctx_eval);
	}
	if (gt->buf_w) {
		ggml_backend_buffer_free(gt->buf_w);
	}
	if (gt->ctx_compute) {
		ggml_free(gt->ctx_compute);
	}
	if (gt->ctx_w) {
		ggml_free(gt->ctx_w);
	}
	if (gt->backend_cpu && gt->backend_cpu != gt->backend) {
		ggml_backend_free(gt->backend_cpu);
	}
	if (gt->backend) {
		ggml_backend_free(gt->backend);
	}
	free(gt->layers);
	free(gt->h_mask);
	free(gt->h_labels);
	free(gt->h_lmask);
	free(gt);
}
