// sattva's own Llama training graph, built with ggml directly (see
// graphtrain.go): no KV cache, every weight trainable, loss on chosen
// tokens only, AdamW or SGD as one graph sized from the model.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "ggml.h"
#include "ggml-backend.h"
#include "ggml-opt.h"

// sattva_gt_hparams are a Llama model's shape and RoPE settings.
struct sattva_gt_hparams {
	int32_t n_vocab, n_embd, n_layer, n_head, n_head_kv, n_ff;
	int32_t head_dim; // per head, of q, k and v
	int32_t n_rot;
	int32_t n_ctx_orig;
	float freq_base, freq_scale, norm_eps;
};

struct sattva_gt;

// sattva_gt_new makes the weights' context (every tensor of the list, F32,
// GGUF dims) on the backend of device gpu (-1: the CPU) and the inputs for
// windows of n_tokens tokens. NULL on failure, with a message in err.
struct sattva_gt *sattva_gt_new(const struct sattva_gt_hparams *hp, int32_t n_tokens, int32_t gpu, int32_t threads,
		int32_t n_tensors, const char *const *names, const int64_t *dims, char *err, size_t errlen);

// sattva_gt_check says, without memory for the weights, whether a model of
// these tensors (as sattva_gt_new takes them) can train in windows of
// n_tokens tokens with every tensor trainable: the training graph's node
// count, or 0 with the reason in err.
int32_t sattva_gt_check(const struct sattva_gt_hparams *hp, int32_t n_tokens, int32_t n_tensors, const char *const *names,
		const int64_t *dims, char *err, size_t errlen);

// sattva_gt_tensor_set writes n bytes at byte offset off of the named tensor.
int sattva_gt_tensor_set(struct sattva_gt *gt, const char *name, const void *data, size_t off, size_t n);
// sattva_gt_tensor_get reads n bytes at byte offset off of the named tensor.
int sattva_gt_tensor_get(struct sattva_gt *gt, const char *name, void *data, size_t off, size_t n);
// sattva_gt_param marks the named tensor trainable; 0 if there is none.
int sattva_gt_param(struct sattva_gt *gt, const char *name);

// sattva_gt_build builds the forward graph, its backward graph and the
// optimizer step (sgd != 0: SGD, else AdamW). 0 on success; otherwise err
// says why and nothing was built.
int sattva_gt_build(struct sattva_gt *gt, int sgd, char *err, size_t errlen);

// sattva_gt_step computes one window: tokens, positions, segment ids (a
// token attends to earlier tokens of its own segment only; -1: padding),
// targets (the next token of each position) and learn (nonzero: the loss
// counts the target of this position). With train != 0 it also takes one
// optimizer step at learning rate lr and weight decay wd. It returns the
// mean cross-entropy over the learned positions (nats per token), -1 when
// no position is learned, or -2 when the backend could not allocate or
// compute the graph (or lr, wd are out of range).
double sattva_gt_step(struct sattva_gt *gt, const int32_t *tokens, const int32_t *pos, const int32_t *seg,
		const int32_t *targets, const uint8_t *learn, int train, float lr, float wd);

// sattva_gt_nodes is the node count of the optimizer graph (0 before build).
int32_t sattva_gt_nodes(struct sattva_gt *gt);
const char *sattva_gt_device(struct sattva_gt *gt);

void sattva_gt_free(struct sattva_gt *gt);

// sattva_backward_guard keeps ggml's graph allocator from computing two
// backward ops of the graphs in ctx in place where their CPU kernels read an
// input after writing the output: RMS_NORM_BACK over its incoming gradient
// (src0) and SOFT_MAX_BACK over the softmax output (src1). It marks those
// inputs as graph outputs (never reused); call it after the backward graph
// is built and before it is allocated. It returns how many it marked.
int sattva_backward_guard(struct ggml_context *ctx);

// sattva_attention is the attention core of the training graph: causal
// multi-head attention of q [hd, n_head, N] over k and v [hd, n_head_kv, N]
// with mask [N, N] (0 or -INFINITY) and scale kq_scale, [hd * n_head, N].
struct ggml_tensor *sattva_attention(struct ggml_context *ctx, struct ggml_tensor *q, struct ggml_tensor *k,
		struct ggml_tensor *v, struct ggml_tensor *mask, float kq_scale);
