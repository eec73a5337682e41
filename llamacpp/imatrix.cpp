//go:build cgo

// imatrix.cpp holds the C++ half of the importance-matrix support:
//
//   - a collector whose graph-evaluation callback (cb_eval) sums, for every
//     matrix multiplication's weight, the squares of the activations of each
//     input column and counts the rows, as llama-imatrix's
//     IMatrixCollector::collect_imatrix does (tools/imatrix/imatrix.cpp);
//   - a stop after the last weight it needs: the output layer's norm and the
//     vocabulary projection are skipped, and so is llama_decode's copy of
//     every position's logits (see sattva_imatrix_abort);
//   - the std::unordered_map<std::string, std::vector<float>> and the
//     std::vector<llama_model_kv_override> that llama_model_quantize_params
//     takes as opaque pointers (imatrix, kv_overrides).
//
// Every object is created and freed by the functions below; Go owns them.

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "ggml.h"
#include "ggml-backend.h"
#include "llama.h"
#include "imatrix.h"

namespace {

struct im_stats {
	std::vector<float>   values; // sum of x*x per column, per matrix (expert)
	std::vector<int64_t> counts; // rows seen, per matrix
};

// filter_name is llama-imatrix's filter_tensor_name: "CUDA0#blk.0.attn_k.weight#0" -> "blk.0.attn_k.weight".
std::string filter_name(const char * name) {
	const char * p = strchr(name, '#');
	if (p == nullptr) return name;
	p++;
	const char * q = strchr(p, '#');
	return q ? std::string(p, q - p) : std::string(p);
}

} // namespace

// llama.cpp's llama_context (src/llama-context.h of the pinned source) has
// the public member function get_sched(); llama.h does not declare it.
// Declaring that one member here, on the type llama.h leaves incomplete,
// lets the collector run its reductions on the scheduler's own backend: on
// the stream the graph itself runs on, so they are ordered with it and need
// no synchronisation of their own. It is a call to a function of the same
// library, resolved by the linker; a llama.cpp without it fails to link.
struct llama_context {
	ggml_backend_sched_t get_sched() const;
};

// device_reducer holds, per device, what the device-side reductions need: a
// backend of its own (used, synchronously, when the scheduler's is not at
// hand), a scratch buffer for the intermediates, and the last column sums
// (colsum), which attn_k and attn_v add again after attn_q.
struct device_reducer {
	ggml_backend_dev_t dev = nullptr;
	ggml_backend_t own = nullptr;
	ggml_backend_t checked = nullptr;        // the backend that ran a whole reduction
	ggml_backend_buffer_t scratch = nullptr; // sqr(x) and its transpose
	size_t scratch_size = 0;
	ggml_backend_buffer_t colsum_buf = nullptr; // F32 [colsum_n]
	int64_t colsum_n = 0;
	int64_t colsum_len = 0;                  // valid entries: the last reduction's columns
	std::vector<char> ctx_mem;               // a reduction graph's ggml context
	bool failed = false;
};

// device_sum is one weight's running column sums on a device: buf holds the
// sums over every chunk so far (the device adds each chunk's sums to them);
// host is buf read back by sattva_imatrix_sync.
struct device_sum {
	ggml_backend_buffer_t buf = nullptr; // F32 [cols]
	int64_t cols = 0;
	device_reducer * r = nullptr;
	std::vector<float> host;
};

struct sattva_imatrix {
	std::mutex mu;
	std::unordered_map<ggml_backend_dev_t, device_reducer> devices;
	std::unordered_map<std::string, device_sum> dsums;
	int64_t device_calls = 0;   // MUL_MATs summed on a device
	int64_t shared_calls = 0;   // MUL_MATs that reused the sums of the one before
	int64_t sched_calls = 0;    // device reductions run on the scheduler's backend
	// The activation that colsum was computed from, while its sums may be
	// reused: attn_q, attn_k and attn_v (and ffn_gate, ffn_up) multiply the
	// same tensor, and asking the scheduler to stop at each of them costs a
	// device synchronisation apiece for sums that are already known.
	const struct ggml_tensor * last_src1 = nullptr;
	const void * last_data = nullptr;
	device_reducer * last_dev = nullptr; // the device whose colsum holds them
	ggml_backend_t last_be = nullptr;    // and the backend that computed them
	bool last_on_sched = false;
	// Accumulators of weights that share the last column sums, to which the
	// next reduction on the same device adds them (see device_add_last).
	std::vector<device_sum *> pending;
	device_reducer * pending_dev = nullptr;
	std::unordered_map<std::string, im_stats> stats;
	std::vector<char> src1, ids;
	bool process_output = false;
	int mode = 0; // 0: reduce on the device for non-host buffers; 1: always copy to the host; 2: always reduce with a backend (tests); 3: stop, collect nothing (benchmarks); 4: as 2 with the collector's own backend, never the scheduler's (tests, benchmarks); 5: never stop, collect nothing (benchmarks)
	int error = 0;              // first error: 1 non-finite value, 2 inconsistent size
	std::string error_tensor;
	std::vector<std::string> snapshot; // sorted names for export
	// The stop after the last weight (see sattva_imatrix_abort).
	struct llama_context * lctx = nullptr;
	int ubatches = 1;          // ubatches of one decode
	int ubatches_left = 0;     // of the decode running now
	std::atomic<bool> abort_now{false};
};

// header makes, in ctx, an F32 tensor of ne0 × ne1 over existing memory
// (data in buf), for a reduction graph to read or write in place.
static struct ggml_tensor * header(struct ggml_context * ctx, void * data, ggml_backend_buffer_t buf, int64_t ne0, int64_t ne1) {
	struct ggml_tensor * h = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, ne0, ne1);
	h->data = data;
	h->buffer = buf;
	return h;
}

// place gives a node made in a reduction graph its memory: data in buf
// (a view, whose data ggml already set from its source, gets only buf).
static struct ggml_tensor * place(struct ggml_tensor * t, ggml_backend_buffer_t buf, void * data = nullptr) {
	if (data) t->data = data;
	t->buffer = buf;
	return t;
}

// device_sum_for returns wname's device accumulator of cols floats on r's
// device, made and zeroed on first use; null when it cannot be made or
// exists with another size or device.
static device_sum * device_sum_for(sattva_imatrix * im, const std::string & wname, device_reducer & r, int64_t cols) {
	auto it = im->dsums.find(wname);
	if (it != im->dsums.end()) {
		return it->second.cols == cols && it->second.r == &r ? &it->second : nullptr;
	}
	ggml_backend_buffer_t buf = ggml_backend_buft_alloc_buffer(ggml_backend_dev_buffer_type(r.dev), sizeof(float) * cols);
	if (!buf) return nullptr;
	ggml_backend_buffer_clear(buf, 0);
	device_sum & d = im->dsums[wname];
	d.buf = buf;
	d.cols = cols;
	d.r = &r;
	return &d;
}

// reduce_ctx is the ggml context of one reduction graph (tensor headers and
// the graph, in the reducer's own memory; the data lives in device buffers).
struct reduce_ctx {
	struct ggml_context * ctx;
	explicit reduce_ctx(std::vector<char> & mem) {
		if (mem.empty()) mem.resize(ggml_tensor_overhead() * reduce_nodes + ggml_graph_overhead_custom(reduce_nodes, false));
		struct ggml_init_params p = { mem.size(), mem.data(), true };
		ctx = ggml_init(p);
	}
	~reduce_ctx() { if (ctx) ggml_free(ctx); }
	static constexpr int reduce_nodes = 64;
};

// add_pending appends to g the additions of the device's last column sums
// to the accumulators of the weights that share them (queued by the
// scheduler's asks) and clears the queue.
static void add_pending(sattva_imatrix * im, struct ggml_context * ctx, struct ggml_cgraph * g) {
	device_reducer & r = *im->pending_dev;
	struct ggml_tensor * last = header(ctx, ggml_backend_buffer_get_base(r.colsum_buf), r.colsum_buf, r.colsum_len, 1);
	for (device_sum * d : im->pending) {
		struct ggml_tensor * acc = header(ctx, ggml_backend_buffer_get_base(d->buf), d->buf, d->cols, 1);
		ggml_build_forward_expand(g, place(ggml_add_inplace(ctx, acc, last), d->buf));
	}
	im->pending.clear();
	im->pending_dev = nullptr;
}

// compute_on runs g on be: on the scheduler's backend asynchronously (the
// graph's own stream orders it), on the collector's own backend to the end.
// batch is the batch-size hint of the pinned ggml's asynchronous compute
// (above 1, ggml-cuda does not capture a CUDA graph). Every op is checked
// once per backend, by the first whole reduction (whole).
static bool compute_on(device_reducer & r, ggml_backend_t be, bool on_sched, struct ggml_cgraph * g, int64_t batch, bool whole) {
	if (r.checked != be) {
		for (int i = 0; i < ggml_graph_n_nodes(g); i++) {
			if (!ggml_backend_supports_op(be, ggml_graph_node(g, i))) return false;
		}
	}
	const bool ok = on_sched ? ggml_backend_graph_compute_async(be, g, (int) batch) == GGML_STATUS_SUCCESS
	                         : ggml_backend_graph_compute(be, g) == GGML_STATUS_SUCCESS;
	if (ok && whole) r.checked = be;
	return ok;
}

// flush_pending runs the queued additions on their own (at the end of a
// decode, or before a reduction on another device).
static bool flush_pending(sattva_imatrix * im) {
	if (im->pending.empty()) return true;
	device_reducer & r = *im->pending_dev;
	reduce_ctx rc(r.ctx_mem);
	if (!rc.ctx) return false;
	struct ggml_cgraph * g = ggml_new_graph_custom(rc.ctx, reduce_ctx::reduce_nodes, false);
	add_pending(im, rc.ctx, g);
	return compute_on(r, im->last_be, im->last_on_sched, g, 2, false);
}

// device_reduce adds, on src1's own device, the column sums of squares of
// src1's rows to the device accumulator of wname, and keeps them in the
// device's colsum for the weights that multiply the same activation, in
// float32 as on the host up to the order of the additions. The squares and
// their transpose live in a scratch buffer of the reducer and the graph's
// headers in its own memory, so a reduction
// costs the host no allocation: the device waits for the host while it
// builds and launches it (the scheduler synchronised before the callback).
// It returns false when that is not possible; the caller then copies src1
// to the host.
static bool device_reduce(sattva_imatrix * im, struct ggml_tensor * t, const std::string & wname) {
	const struct ggml_tensor * src1 = t->src[1];
	ggml_backend_buffer_type_t buft = ggml_backend_buffer_get_type(src1->buffer);
	ggml_backend_dev_t dev = buft ? ggml_backend_buft_get_device(buft) : nullptr;
	if (dev == nullptr && (im->mode == 2 || im->mode == 4)) {
		// ggml's CPU buffer type names no device; the tests' modes use the CPU's.
		dev = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
	}
	if (dev == nullptr) return false;
	device_reducer & r = im->devices[dev];
	if (r.failed) return false;
	if (!r.dev) r.dev = dev;
	const int64_t cols = src1->ne[0], rows = src1->ne[1];

	// The scheduler's backend for this node, when it is on src1's device.
	ggml_backend_t be = nullptr;
	bool on_sched = false;
	if (im->lctx && im->mode != 4) {
		ggml_backend_sched_t sched = im->lctx->get_sched();
		ggml_backend_t sb = sched ? ggml_backend_sched_get_tensor_backend(sched, t) : nullptr;
		if (sb && ggml_backend_get_device(sb) == dev) {
			be = sb;
			on_sched = true;
		}
	}
	if (!be) {
		if (!r.own) r.own = ggml_backend_dev_init(dev, nullptr);
		be = r.own;
	}
	if (!be) {
		r.failed = true;
		return false;
	}
	auto it = im->dsums.find(wname);
	if (it != im->dsums.end() && (it->second.cols != cols || it->second.r != &r)) {
		im->error = 2; // another size than before (or another device)
		im->error_tensor = wname;
		return true;
	}
	// Queued additions that this graph cannot carry run first; losing them
	// would lose sums, so a failure is an error.
	if (!im->pending.empty() && (im->pending_dev != &r || im->last_be != be || r.colsum_n < cols) && !flush_pending(im)) {
		im->error = 2;
		im->error_tensor = "(shared sums)";
		return true;
	}
	// Freeing a device buffer waits for the device, so no reduction still
	// queued reads a buffer replaced here.
	const size_t part = GGML_PAD(sizeof(float) * cols * rows, 256);
	if (r.scratch_size < 2 * part) {
		if (r.scratch) ggml_backend_buffer_free(r.scratch);
		r.scratch = ggml_backend_buft_alloc_buffer(ggml_backend_dev_buffer_type(dev), 2 * part);
		r.scratch_size = r.scratch ? 2 * part : 0;
	}
	if (r.colsum_n < cols) {
		if (r.colsum_buf) ggml_backend_buffer_free(r.colsum_buf);
		r.colsum_buf = ggml_backend_buft_alloc_buffer(ggml_backend_dev_buffer_type(dev), sizeof(float) * cols);
		r.colsum_n = r.colsum_buf ? cols : 0;
	}
	device_sum * d = r.scratch_size && r.colsum_n ? device_sum_for(im, wname, r, cols) : nullptr;
	if (!d) {
		r.failed = true;
		return false;
	}

	reduce_ctx rc(r.ctx_mem);
	if (!rc.ctx) return false;
	struct ggml_cgraph * g = ggml_new_graph_custom(rc.ctx, reduce_ctx::reduce_nodes, false);
	// The additions the weights before this one queued read colsum before
	// this reduction overwrites it (a graph runs in node order).
	const bool carries = !im->pending.empty();
	if (carries) add_pending(im, rc.ctx, g);
	// sum_rows(cont(transpose(sqr(x)))): ggml's kernels in float32 (a
	// matrix product here would go through cuBLAS, which ggml sets to TF32).
	char * scratch = (char *) ggml_backend_buffer_get_base(r.scratch);
	struct ggml_tensor * x = header(rc.ctx, src1->data, src1->buffer, cols, rows);
	struct ggml_tensor * sq = place(ggml_sqr(rc.ctx, x), r.scratch, scratch);
	struct ggml_tensor * tr = place(ggml_transpose(rc.ctx, sq), r.scratch);
	struct ggml_tensor * ct = place(ggml_cont(rc.ctx, tr), r.scratch, scratch + part);
	struct ggml_tensor * s = place(ggml_sum_rows(rc.ctx, ct), r.colsum_buf, ggml_backend_buffer_get_base(r.colsum_buf)); // [1, cols]
	struct ggml_tensor * acc = header(rc.ctx, ggml_backend_buffer_get_base(d->buf), d->buf, cols, 1);
	struct ggml_tensor * s2 = place(ggml_reshape_2d(rc.ctx, s, cols, 1), r.colsum_buf);
	ggml_build_forward_expand(g, place(ggml_add_inplace(rc.ctx, acc, s2), d->buf));
	if (!compute_on(r, be, on_sched, g, rows, true)) {
		r.failed = true;
		if (!carries) return false; // the host path takes over
		im->error = 2; // the queued additions are lost with the graph
		im->error_tensor = "(shared sums)";
		return true;
	}
	r.colsum_len = cols;
	im->last_dev = &r;
	im->last_be = be;
	im->last_on_sched = on_sched;
	if (on_sched) im->sched_calls++;
	return true;
}

// device_add_last queues the addition of the device's last column sums
// (those of src1, which the MUL_MAT before computed) to wname's
// accumulator; the next reduction, or the end of the decode, runs it.
static bool device_add_last(sattva_imatrix * im, const std::string & wname, const struct ggml_tensor * src1) {
	device_reducer & r = *im->last_dev;
	const int64_t cols = src1->ne[0];
	if (r.colsum_len != cols || (!im->pending.empty() && im->pending_dev != &r) ||
			im->pending.size() >= (reduce_ctx::reduce_nodes - 12) / 2) {
		return false;
	}
	device_sum * d = device_sum_for(im, wname, r, cols);
	if (!d) return false;
	im->pending.push_back(d);
	im->pending_dev = &r;
	return true;
}

// count_rows adds src1's rows to wname's count (the device paths keep the
// sums on the device, the counts here).
static bool count_rows(sattva_imatrix * im, const std::string & wname, const struct ggml_tensor * src1) {
	auto & e = im->stats[wname];
	if (e.counts.empty()) {
		e.counts.assign(1, 0);
	} else if (e.counts.size() != 1) {
		im->error = 2;
		im->error_tensor = wname;
		return false;
	}
	e.counts[0] += src1->ne[1];
	return true;
}

extern "C" {

sattva_imatrix * sattva_imatrix_new(int process_output, int mode) {
	auto * im = new sattva_imatrix();
	im->process_output = process_output != 0;
	im->mode = mode;
	return im;
}

void sattva_imatrix_free(sattva_imatrix * im) {
	for (auto & kv : im->dsums) {
		if (kv.second.buf) ggml_backend_buffer_free(kv.second.buf);
	}
	for (auto & kv : im->devices) {
		if (kv.second.colsum_buf) ggml_backend_buffer_free(kv.second.colsum_buf);
		if (kv.second.scratch) ggml_backend_buffer_free(kv.second.scratch);
		if (kv.second.own) ggml_backend_free(kv.second.own);
	}
	delete im;
}

// sattva_imatrix_abort is the context's abort callback: true once the
// collector has seen the output layer's norm in the last ubatch of a decode,
// after every weight it collects. ggml's CPU backend asks it after each
// node; the first node of the output layer that runs on the CPU then ends
// the graph, and llama_decode returns 2 without computing the vocabulary
// projection or copying the logits, which the collector never reads.
// (llama-imatrix asks for every position's logits so that the last layer
// sees every token; it does here too, so the sums are the same.)
static bool sattva_imatrix_abort(void * data) {
	return static_cast<sattva_imatrix *>(data)->abort_now.load(std::memory_order_relaxed);
}

// sattva_imatrix_attach ties the collector to the context it runs in: its
// scheduler's backends run the device reductions, and unless output.weight
// is collected, the context's abort callback stops each decode after the
// last weight (ubatches: the ubatches of one decode).
void sattva_imatrix_attach(sattva_imatrix * im, struct llama_context * lctx, int ubatches) {
	std::lock_guard<std::mutex> lock(im->mu);
	im->lctx = lctx;
	im->ubatches = ubatches > 0 ? ubatches : 1;
	if (!im->process_output) llama_set_abort_callback(lctx, sattva_imatrix_abort, im);
}

bool sattva_imatrix_cb(struct ggml_tensor * t, bool ask, void * user_data) {
	auto * im = static_cast<sattva_imatrix *>(user_data);
	const struct ggml_tensor * src0 = t->src[0];
	const struct ggml_tensor * src1 = t->src[1];
	if (ask) {
		if (t->op != GGML_OP_MUL_MAT && t->op != GGML_OP_MUL_MAT_ID) {
			// The output layer's norm comes after every blk.* weight. In the
			// last ubatch of a decode it arms the abort callback.
			if (!im->process_output && im->ubatches_left > 0 && strcmp(t->name, "result_norm") == 0 &&
					--im->ubatches_left == 0) {
				im->abort_now.store(true, std::memory_order_relaxed);
			}
			return false;
		}
		if (im->mode == 5) return false; // the pass alone (benchmarks)
		if (t->op == GGML_OP_MUL_MAT_ID) return true;
		if (src1->ne[1] < 16 || src1->type != GGML_TYPE_F32) return false;
		std::string wname = filter_name(src0->name);
		if (!(wname.compare(0, 4, "blk.") == 0 || (im->process_output && wname == "output.weight"))) return false;
		std::lock_guard<std::mutex> lock(im->mu);
		if (im->error || im->last_src1 != src1 || im->last_data != src1->data) return true;
		if (im->mode == 3) return false; // stops only (benchmarks)
		// The same activation as the MUL_MAT summed just before, in this
		// graph (the scheduler asks in node order, after that one's
		// evaluation, and the activation is still alive: this node reads
		// it): add the same sums, queued after that MUL_MAT's on the same
		// backend, and let the scheduler run on.
		if (!device_add_last(im, wname, src1)) return true; // stop and reduce it again
		if (count_rows(im, wname, src1)) im->shared_calls++;
		return false;
	}
	std::string wname = filter_name(src0->name);
	std::lock_guard<std::mutex> lock(im->mu);
	im->last_src1 = nullptr;
	im->last_data = nullptr;
	if (im->error) return true;
	if (im->mode == 3) { // stops only (benchmarks): where mode 0 would stop, nothing collected
		im->last_src1 = src1;
		im->last_data = src1->data;
		return true;
	}

	const bool is_host = ggml_backend_buffer_is_host(src1->buffer);
	if (((!is_host && im->mode == 0) || im->mode == 2 || im->mode == 4) && t->op == GGML_OP_MUL_MAT && ggml_is_contiguous(src1) &&
			src1->ne[2] == 1 && src1->ne[3] == 1 && src0->ne[2] == 1 && src0->ne[3] == 1 &&
			device_reduce(im, t, wname)) {
		// The dense case on a GPU: the device sums the squares over the
		// rows and adds them to the weight's sums there (float rounding
		// differs from adding row by row, well inside float32 summation
		// order); only the rows are counted here.
		if (!im->error && count_rows(im, wname, src1)) {
			im->device_calls++;
			im->last_src1 = src1;
			im->last_data = src1->data;
		}
		return true;
	}
	if (!is_host) {
		const size_t n = ggml_nbytes(src1);
		im->src1.resize(n);
		ggml_backend_tensor_get(src1, im->src1.data(), 0, n);
	}
	const char * data = is_host ? (const char *) src1->data : im->src1.data();
	if (src1->type != GGML_TYPE_F32 || src1->nb[0] != ggml_element_size(src1)) {
		im->error = 2;
		im->error_tensor = wname;
		return true;
	}
	const int64_t ne0 = src1->ne[0];

	if (t->op == GGML_OP_MUL_MAT_ID) {
		// ids -> [n_expert_used, n_tokens]; src1 -> [cols, n_expert_used, n_tokens]
		const struct ggml_tensor * ids = t->src[2];
		const int64_t n_as = src0->ne[2];
		const int64_t n_ids = ids->ne[0];
		if (ids->ne[1] != src1->ne[2] || ggml_nrows(src1) != src1->ne[1] * src1->ne[2]) {
			im->error = 2;
			im->error_tensor = wname;
			return true;
		}
		im->ids.resize(ggml_nbytes(ids));
		ggml_backend_tensor_get(ids, im->ids.data(), 0, ggml_nbytes(ids));
		auto & e = im->stats[wname];
		if (e.values.empty()) {
			e.values.assign(ne0 * n_as, 0.0f);
			e.counts.assign(n_as, 0);
		} else if ((int64_t) e.values.size() != ne0 * n_as || (int64_t) e.counts.size() != n_as) {
			im->error = 2;
			im->error_tensor = wname;
			return true;
		}
		for (int64_t ex = 0; ex < n_as; ++ex) {
			float * v = e.values.data() + ex * ne0;
			for (int64_t idx = 0; idx < n_ids; ++idx) {
				for (int64_t row = 0; row < src1->ne[2]; ++row) {
					const int excur = *(const int32_t *) (im->ids.data() + row * ids->nb[1] + idx * ids->nb[0]);
					if (excur < 0 || excur >= n_as) {
						im->error = 2;
						im->error_tensor = wname;
						return true;
					}
					if (excur != ex) continue;
					const int64_t i11 = idx % src1->ne[1];
					const float * x = (const float *) (data + i11 * src1->nb[1] + row * src1->nb[2]);
					e.counts[ex]++;
					for (int64_t j = 0; j < ne0; ++j) v[j] += x[j] * x[j];
				}
			}
			for (int64_t j = 0; j < ne0; ++j) {
				if (!std::isfinite(v[j])) {
					im->error = 1;
					im->error_tensor = wname;
					return true;
				}
			}
		}
		return true;
	}

	auto & e = im->stats[wname];
	const int64_t n_mat = src0->ne[2] * src0->ne[3];
	if (e.values.empty()) {
		e.values.assign(ne0 * n_mat, 0.0f);
		if (e.counts.empty()) e.counts.assign(1, 0);
	}
	if ((int64_t) e.values.size() != ne0 * n_mat || e.counts.size() != 1) {
		im->error = 2;
		im->error_tensor = wname;
		return true;
	}
	for (int64_t i3 = 0; i3 < src1->ne[3]; ++i3) {
		for (int64_t i2 = 0; i2 < src1->ne[2]; ++i2) {
			const int64_t mat_id = (i3 % src0->ne[3]) * src0->ne[2] + (i2 % src0->ne[2]);
			float * v = e.values.data() + mat_id * ne0;
			for (int64_t row = 0; row < src1->ne[1]; ++row) {
				const float * x = (const float *) (data + row * src1->nb[1] + i2 * src1->nb[2] + i3 * src1->nb[3]);
				for (int64_t j = 0; j < ne0; ++j) v[j] += x[j] * x[j];
			}
			for (int64_t j = 0; j < ne0; ++j) {
				if (!std::isfinite(v[j])) {
					im->error = 1;
					im->error_tensor = wname;
					return true;
				}
			}
		}
	}
	for (auto & c : e.counts) c += ggml_nrows(src1) / n_mat;
	return true;
}

int sattva_imatrix_error(sattva_imatrix * im, char * tensor, int n) {
	std::lock_guard<std::mutex> lock(im->mu);
	if (im->error && n > 0) {
		strncpy(tensor, im->error_tensor.c_str(), n - 1);
		tensor[n - 1] = 0;
	}
	return im->error;
}

int64_t sattva_imatrix_device_calls(sattva_imatrix * im) {
	std::lock_guard<std::mutex> lock(im->mu);
	return im->device_calls;
}

int64_t sattva_imatrix_shared_calls(sattva_imatrix * im) {
	std::lock_guard<std::mutex> lock(im->mu);
	return im->shared_calls;
}

int64_t sattva_imatrix_sched_calls(sattva_imatrix * im) {
	std::lock_guard<std::mutex> lock(im->mu);
	return im->sched_calls;
}

// sattva_imatrix_graph_begin is called before each decode.
void sattva_imatrix_graph_begin(sattva_imatrix * im) {
	std::lock_guard<std::mutex> lock(im->mu);
	im->last_src1 = nullptr;
	im->last_data = nullptr;
	im->last_dev = nullptr;
	im->ubatches_left = (im->process_output || im->lctx == nullptr) ? 0 : im->ubatches;
	im->abort_now.store(false, std::memory_order_relaxed);
}

// sattva_imatrix_graph_end is called after each decode, before the
// context synchronises: it queues the additions still pending.
int sattva_imatrix_graph_end(sattva_imatrix * im) {
	std::lock_guard<std::mutex> lock(im->mu);
	if (!flush_pending(im) && !im->error) {
		im->error = 2;
		im->error_tensor = "(shared sums)";
	}
	im->last_dev = nullptr;
	return im->error;
}

// sattva_imatrix_stopped says whether the decode just run was stopped after
// its last weight (llama_decode then returns 2).
bool sattva_imatrix_stopped(sattva_imatrix * im) {
	return im->abort_now.load(std::memory_order_relaxed);
}

// sattva_imatrix_sync reads the device sums back (after the context has
// synchronised) and checks them, as the host path checks its own after each
// addition. It returns the error state.
int sattva_imatrix_sync(sattva_imatrix * im) {
	std::lock_guard<std::mutex> lock(im->mu);
	std::vector<char> mem;
	for (auto & kv : im->dsums) {
		device_sum & d = kv.second;
		reduce_ctx rc(mem);
		if (!rc.ctx) return im->error ? im->error : (im->error = 2);
		struct ggml_tensor * h = header(rc.ctx, ggml_backend_buffer_get_base(d.buf), d.buf, d.cols, 1);
		d.host.resize(d.cols);
		ggml_backend_tensor_get(h, d.host.data(), 0, sizeof(float) * d.cols);
		for (float v : d.host) {
			if (!std::isfinite(v) && !im->error) {
				im->error = 1;
				im->error_tensor = kv.first;
			}
		}
	}
	return im->error;
}

// sattva_imatrix_snapshot lists the entries (sorted) for export; call
// sattva_imatrix_sync first.
int sattva_imatrix_snapshot(sattva_imatrix * im) {
	std::lock_guard<std::mutex> lock(im->mu);
	im->snapshot.clear();
	for (const auto & kv : im->stats) im->snapshot.push_back(kv.first);
	std::sort(im->snapshot.begin(), im->snapshot.end());
	return (int) im->snapshot.size();
}

// entry_values is the sums of one entry: those added on the host plus those
// kept on a device.
static int64_t entry_values(sattva_imatrix * im, const std::string & name, const im_stats & e) {
	int64_t n = (int64_t) e.values.size();
	auto d = im->dsums.find(name);
	if (d != im->dsums.end() && n == 0) n = (int64_t) d->second.host.size();
	return n;
}

const char * sattva_imatrix_entry(sattva_imatrix * im, int i, int64_t * nval, int64_t * nmat) {
	std::lock_guard<std::mutex> lock(im->mu);
	if (i < 0 || i >= (int) im->snapshot.size()) return nullptr;
	auto it = im->stats.find(im->snapshot[i]);
	if (it == im->stats.end()) return nullptr;
	*nval = entry_values(im, it->first, it->second);
	*nmat = (int64_t) it->second.counts.size();
	return im->snapshot[i].c_str();
}

void sattva_imatrix_copy(sattva_imatrix * im, int i, float * values, int64_t * counts) {
	std::lock_guard<std::mutex> lock(im->mu);
	auto it = im->stats.find(im->snapshot[i]);
	if (it == im->stats.end()) return;
	const int64_t n = entry_values(im, it->first, it->second);
	std::fill(values, values + n, 0.0f);
	std::copy(it->second.values.begin(), it->second.values.end(), values);
	auto d = im->dsums.find(it->first);
	if (d != im->dsums.end() && (int64_t) d->second.host.size() == n) {
		for (int64_t j = 0; j < n; j++) values[j] += d->second.host[j];
	}
	std::copy(it->second.counts.begin(), it->second.counts.end(), counts);
}

// The quantize-side map: name -> weights, what llama_model_quantize_params.imatrix points to.
void * sattva_imatrix_map_new(void) {
	return new std::unordered_map<std::string, std::vector<float>>();
}

void sattva_imatrix_map_add(void * m, const char * name, const float * data, int64_t n) {
	auto * mp = static_cast<std::unordered_map<std::string, std::vector<float>> *>(m);
	(*mp)[name] = std::vector<float>(data, data + n);
}

void sattva_imatrix_map_free(void * m) {
	delete static_cast<std::unordered_map<std::string, std::vector<float>> *>(m);
}

// The kv_overrides vector, terminated by an entry with an empty key as
// llama-quantize makes it.
void * sattva_kvo_new(void) { return new std::vector<llama_model_kv_override>(); }

void sattva_kvo_add_str(void * v, const char * key, const char * val) {
	llama_model_kv_override o;
	memset(&o, 0, sizeof(o));
	strncpy(o.key, key, sizeof(o.key) - 1);
	o.tag = LLAMA_KV_OVERRIDE_TYPE_STR;
	strncpy(o.val_str, val, 127);
	o.val_str[127] = 0;
	static_cast<std::vector<llama_model_kv_override> *>(v)->push_back(o);
}

void sattva_kvo_add_int(void * v, const char * key, int64_t val) {
	llama_model_kv_override o;
	memset(&o, 0, sizeof(o));
	strncpy(o.key, key, sizeof(o.key) - 1);
	o.tag = LLAMA_KV_OVERRIDE_TYPE_INT;
	o.val_i64 = val;
	static_cast<std::vector<llama_model_kv_override> *>(v)->push_back(o);
}

// sattva_kvo_finish appends the terminator and returns the vector's pointer
// for params.kv_overrides, or NULL when there is nothing to override.
void * sattva_kvo_finish(void * v) {
	auto * vec = static_cast<std::vector<llama_model_kv_override> *>(v);
	if (vec->empty()) return nullptr;
	vec->emplace_back();
	memset(&vec->back(), 0, sizeof(llama_model_kv_override));
	return vec;
}

void sattva_kvo_free(void * v) { delete static_cast<std::vector<llama_model_kv_override> *>(v); }

} // extern "C"

// The activation tap: an independent path for tests. For every MUL_MAT it
// hands the whole src1 (as contiguous float rows) and the weight's name and
// matrix count to Go, which applies llama-imatrix's formula itself.
extern "C" void sattvaGoTap(uintptr_t handle, char * name, int type, float * data,
		int64_t ne0, int64_t ne1, int64_t ne2, int64_t ne3, int64_t w_ne2, int64_t w_ne3);

// user_data points to the cgo.Handle of the Go function.
extern "C" bool sattva_tap_cb(struct ggml_tensor * t, bool ask, void * user_data) {
	if (ask) return t->op == GGML_OP_MUL_MAT;
	const uintptr_t handle = *static_cast<const uintptr_t *>(user_data);
	const struct ggml_tensor * src0 = t->src[0];
	const struct ggml_tensor * src1 = t->src[1];
	std::string wname = filter_name(src0->name);
	if (src1->type != GGML_TYPE_F32) {
		sattvaGoTap(handle, (char *) wname.c_str(), (int) src1->type, nullptr,
			src1->ne[0], src1->ne[1], src1->ne[2], src1->ne[3], src0->ne[2], src0->ne[3]);
		return true;
	}
	std::vector<char> raw(ggml_nbytes(src1));
	ggml_backend_tensor_get(src1, raw.data(), 0, raw.size());
	std::vector<float> rows((size_t) ggml_nelements(src1));
	size_t k = 0;
	for (int64_t i3 = 0; i3 < src1->ne[3]; ++i3)
		for (int64_t i2 = 0; i2 < src1->ne[2]; ++i2)
			for (int64_t i1 = 0; i1 < src1->ne[1]; ++i1) {
				const char * r = raw.data() + i1 * src1->nb[1] + i2 * src1->nb[2] + i3 * src1->nb[3];
				for (int64_t i0 = 0; i0 < src1->ne[0]; ++i0) rows[k++] = *(const float *) (r + i0 * src1->nb[0]);
			}
	sattvaGoTap(handle, (char *) wname.c_str(), (int) src1->type, rows.data(),
		src1->ne[0], src1->ne[1], src1->ne[2], src1->ne[3], src0->ne[2], src0->ne[3]);
	return true;
}
