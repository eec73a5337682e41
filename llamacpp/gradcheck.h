// Gradient checks of the ggml ops that sattva's training graph
// (graphtrain.c) differentiates through: see gradcheck.c.
#pragma once
#include <stdint.h>
#include "graphtrain.h"

enum {
	SATTVA_GC_MUL_MAT_3D,             // mul_mat of contiguous 3D operands, src0 broadcast over dim 2 (GQA)
	SATTVA_GC_MUL_MAT_3D_NOBC,        // the same without broadcast
	SATTVA_GC_MUL_MAT_PERMUTED,       // mul_mat of permuted (non-contiguous) 3D views
	SATTVA_GC_PERMUTE_CONT,           // cont of permutes
	SATTVA_GC_SOFT_MAX,               // soft_max
	SATTVA_GC_SOFT_MAX_EXT,           // soft_max_ext with scale and a causal -inf mask
	SATTVA_GC_ROPE,                   // rope_ext (NORM mode)
	SATTVA_GC_RMS_NORM,               // rms_norm times a weight
	SATTVA_GC_ATTENTION_CORE,         // q, k, v -> sattva_attention (graphtrain.c) -> output
	SATTVA_GC_ATTENTION,              // a Llama attention block: norm, projections, RoPE, sattva_attention, output
	SATTVA_GC_COUNT
};

// sattva_gc_eval computes case kase (SATTVA_GC_*) on the CPU with its
// parameters p (all of them, one after the other, ggml's element order):
// the loss, and with grad != NULL ggml's gradient of every parameter, laid
// out as p. gallocr != 0 allocates the graph with ggml's graph allocator
// (memory reuse, in-place ops) as ggml-opt does; 0 gives every tensor its
// own memory; guard != 0 applies sattva_backward_guard (graphtrain.c) to
// the backward graph first. It returns the number of parameter floats (p == NULL: only
// that), or -1 on failure.
int64_t sattva_gc_eval(int kase, int gallocr, int guard, const float *p, float *grad, float *loss);
