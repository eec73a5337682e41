//go:build cgo

// imatrix.cpp holds the C++ half of the importance-matrix support:
//
//   - a collector that sums, for every matrix multiplication's weight, the
//     squares of the activations of each input column and counts the rows,
//     as llama-imatrix's IMatrixCollector::collect_imatrix does
//     (tools/imatrix/imatrix.cpp): on a GPU between the graph's nodes, on a
//     second stream of the device (collect_inline); on the host in the
//     graph-evaluation callback (cb_eval) otherwise;
//   - a stop after the last weight it needs: the output layer's norm and the
//     vocabulary projection are skipped, and so is llama_decode's copy of
//     every position's logits (see sattva_imatrix_abort and collect_inline);
//   - the std::unordered_map<std::string, std::vector<float>> and the
//     std::vector<llama_model_kv_override> that llama_model_quantize_params
//     takes as opaque pointers (imatrix, kv_overrides).
//
// Every object is created and freed by the functions below; Go owns them.

#include <algorithm>
#include <atomic>
#include <climits>
#include <dlfcn.h>
#include <cmath>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "ggml.h"
#include "ggml-backend.h"
#include "ggml-impl.h"         // struct ggml_cgraph, ggml_graph_view
#include "ggml-backend-impl.h" // struct ggml_backend (its graph_compute)
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
// gives the collector the scheduler: its backends, whose graph_compute
// collect_inline takes over, and the backend of each node. It is a call to a
// function of the same library, resolved by the linker; a llama.cpp without
// it fails to link.
struct llama_context {
	ggml_backend_sched_t get_sched() const;
};

// device_reducer holds, per device, what the device-side reductions need: a
// scratch buffer for the intermediates, the column sums of the last
// reduction (colsum), and the side stream: a backend of the device's own
// (own) whose stream runs the reductions beside the graph's, ordered with it
// by two events (see collect_inline).
struct device_reducer {
	ggml_backend_dev_t dev = nullptr;
	ggml_backend_t own = nullptr;
	ggml_backend_t checked = nullptr;        // the backend that ran a whole reduction
	ggml_backend_buffer_t scratch = nullptr; // sqr(x) and its transpose
	size_t scratch_size = 0;
	ggml_backend_buffer_t colsum_buf = nullptr; // F32 [colsum_n]
	int64_t colsum_n = 0;
	std::vector<char> ctx_mem;               // a reduction graph's ggml context
	bool failed = false;
	ggml_backend_event_t ev_graph = nullptr; // recorded on the graph's stream
	ggml_backend_event_t ev_side = nullptr;  // recorded on own's
	bool no_side = false;
};

// device_sum is the running column sums of one activation on a device: buf
// holds the sums over every chunk so far (the device adds each ubatch's sums
// to them); host is buf read back by sattva_imatrix_sync.
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
	// The inline path keeps one device sum per activation: group maps each
	// weight to the first weight that reads the same activation (attn_k and
	// attn_v to attn_q, ffn_up to ffn_gate), whose dsums entry holds the sums.
	std::unordered_map<std::string, std::string> group;
	int64_t device_calls = 0;   // reductions on a device (one per activation)
	int64_t shared_calls = 0;   // MUL_MATs that shared another's reduction (same activation)
	int64_t sched_calls = 0;    // device reductions on the graph's own stream
	int64_t side_calls = 0;     // device reductions on the side stream
	int64_t kernel_calls = 0;   // of those, by libsattva-cuda's kernel
	std::vector<ggml_backend_t> hooked; // the scheduler's backends whose graphs collect_inline runs
	std::unordered_map<std::string, im_stats> stats;
	std::vector<char> src1, ids;
	bool process_output = false;
	// 0: sum GPU activations on their device (collect_inline), the others on
	// the host; 1: everything on the host; 2: 0 on every backend, the CPU's
	// too (tests); 3: 0 without the side stream (tests, benchmarks); 4: the
	// pass and its stop alone, nothing collected (benchmarks); 5: 0 without
	// libsattva-cuda's kernel (tests, benchmarks).
	int mode = 0;
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

// count_rows adds src1's rows to wname's count (the device path keeps the
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

// collect_host adds t's input to wname's sums on the host, as
// llama-imatrix's collect_imatrix does: src1 is read back first when it lives
// on a device. Errors go to im->error. The caller holds im->mu.
static void collect_host(sattva_imatrix * im, const struct ggml_tensor * t, const std::string & wname) {
	const struct ggml_tensor * src0 = t->src[0];
	const struct ggml_tensor * src1 = t->src[1];
	const bool is_host = ggml_backend_buffer_is_host(src1->buffer);
	if (!is_host) {
		const size_t n = ggml_nbytes(src1);
		im->src1.resize(n);
		ggml_backend_tensor_get(src1, im->src1.data(), 0, n);
	}
	const char * data = is_host ? (const char *) src1->data : im->src1.data();
	if (src1->type != GGML_TYPE_F32 || src1->nb[0] != ggml_element_size(src1)) {
		im->error = 2;
		im->error_tensor = wname;
		return;
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
			return;
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
			return;
		}
		for (int64_t ex = 0; ex < n_as; ++ex) {
			float * v = e.values.data() + ex * ne0;
			for (int64_t idx = 0; idx < n_ids; ++idx) {
				for (int64_t row = 0; row < src1->ne[2]; ++row) {
					const int excur = *(const int32_t *) (im->ids.data() + row * ids->nb[1] + idx * ids->nb[0]);
					if (excur < 0 || excur >= n_as) {
						im->error = 2;
						im->error_tensor = wname;
						return;
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
					return;
				}
			}
		}
		return;
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
		return;
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
					return;
				}
			}
		}
	}
	for (auto & c : e.counts) c += ggml_nrows(src1) / n_mat;
}

// Device reductions. Stopping the scheduler at each activation (cb_eval's
// ask) costs a device synchronisation and leaves the GPU idle while the host
// launches what follows: about 50 µs a stop on an H100, 6 ms a pass of an 8B
// model, and the reductions then ran between the graph's kernels. The
// collector instead takes over the graph_compute of the scheduler's GPU
// backends (struct ggml_backend's iface, in the collector's own context
// only, given back by sattva_imatrix_detach): collect_inline computes the
// graph in segments and queues each reduction on a second stream of the
// device, beside the MUL_MATs that read the activation. Nothing waits on
// the host; the scheduler's asks let those MUL_MATs run on (inline_handles).

using graph_compute_fn = enum ggml_status (*)(ggml_backend_t, struct ggml_cgraph *, int);

struct hooked_backend {
	ggml_backend_t be;
	graph_compute_fn orig;
	sattva_imatrix * im;
};

static std::mutex hooks_mu;
static std::vector<hooked_backend> hooks;

// collected says whether the weight named wname is collected, as
// llama-imatrix's ask filters: blk.*, and output.weight with --process-output.
static bool collected(const sattva_imatrix * im, const std::string & wname) {
	return wname.compare(0, 4, "blk.") == 0 || (im->process_output && wname == "output.weight");
}

// dense_weight says whether t is a MUL_MAT whose weight is collected and
// whose input the device path can sum: one contiguous F32 matrix of at
// least 16 rows times one 2-D weight. It sets wname.
static bool dense_weight(const sattva_imatrix * im, const struct ggml_tensor * t, std::string & wname) {
	if (t->op != GGML_OP_MUL_MAT) return false;
	const struct ggml_tensor * src0 = t->src[0];
	const struct ggml_tensor * src1 = t->src[1];
	if (src1->type != GGML_TYPE_F32 || src1->ne[1] < 16 || !ggml_is_contiguous(src1) || src1->ne[2] != 1 || src1->ne[3] != 1 ||
			src0->ne[2] != 1 || src0->ne[3] != 1) {
		return false;
	}
	wname = filter_name(src0->name);
	return collected(im, wname);
}

// inline_handles says whether collect_inline sums t's input: a dense
// weight on a backend the collector hooked.
static bool inline_handles(sattva_imatrix * im, struct ggml_tensor * t) {
	if (im->hooked.empty() || im->lctx == nullptr) return false;
	std::string wname;
	if (!dense_weight(im, t, wname)) return false;
	ggml_backend_sched_t sched = im->lctx->get_sched();
	ggml_backend_t be = sched ? ggml_backend_sched_get_tensor_backend(sched, t) : nullptr;
	return be && std::find(im->hooked.begin(), im->hooked.end(), be) != im->hooked.end();
}

// group_ok checks that the weights in names read the activation they read
// before: they share one device sum, that of the first (its key), every
// time, and it has cols columns on r's device. Otherwise it sets the error.
static bool group_ok(sattva_imatrix * im, const std::vector<std::string> & names, const device_reducer & r, int64_t cols) {
	const std::string & key = names[0];
	for (const auto & n : names) {
		auto g = im->group.find(n);
		if (g != im->group.end() && g->second != key) {
			im->error = 2; // read another activation than before
			im->error_tensor = n;
			return false;
		}
	}
	auto it = im->dsums.find(key);
	if (it != im->dsums.end() && (it->second.cols != cols || it->second.r != &r)) {
		im->error = 2; // another size than before (or another device)
		im->error_tensor = key;
		return false;
	}
	return true;
}

// reduced records a device reduction of src1 for the weights in names: their
// group, their rows, the counters.
static void reduced(sattva_imatrix * im, const std::vector<std::string> & names, const struct ggml_tensor * src1, bool side) {
	for (const auto & n : names) {
		im->group[n] = names[0];
		count_rows(im, n, src1);
	}
	im->device_calls++;
	(side ? im->side_calls : im->sched_calls)++;
	im->shared_calls += (int64_t) names.size() - 1;
}

// reduce_inline queues on be, through its own graph_compute (orig), the sum
// over the rows of x*x for x = src1, and its addition to the device sums of
// every weight in names. It returns false when that is not possible (no
// device memory, an op be lacks): the caller then sums on the host.
static bool reduce_inline(sattva_imatrix * im, ggml_backend_t be, graph_compute_fn orig, const struct ggml_tensor * src1,
		const std::vector<std::string> & names, int batch, bool side) {
	ggml_backend_dev_t dev = ggml_backend_get_device(be);
	if (dev == nullptr) return false;
	device_reducer & r = im->devices[dev];
	if (r.failed) return false;
	if (!r.dev) r.dev = dev;
	const int64_t cols = src1->ne[0], rows = src1->ne[1];
	if (!group_ok(im, names, r, cols)) return true;
	// The reductions queued before still read the scratch buffer: freeing
	// it waits for the device.
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
	device_sum * d = r.scratch_size && r.colsum_n ? device_sum_for(im, names[0], r, cols) : nullptr;
	if (!d) {
		r.failed = true;
		return false;
	}
	reduce_ctx rc(r.ctx_mem);
	if (!rc.ctx) return false;
	struct ggml_cgraph * g = ggml_new_graph_custom(rc.ctx, reduce_ctx::reduce_nodes, false);
	char * scratch = (char *) ggml_backend_buffer_get_base(r.scratch);
	void * colsum = ggml_backend_buffer_get_base(r.colsum_buf);
	struct ggml_tensor * x = header(rc.ctx, src1->data, src1->buffer, cols, rows);
	struct ggml_tensor * sq = place(ggml_sqr(rc.ctx, x), r.scratch, scratch);
	// sum_rows(cont(transpose(sqr(x)))): ggml's kernels in float32 (a
	// matrix product here would go through cuBLAS, which ggml sets to TF32).
	struct ggml_tensor * tr = place(ggml_transpose(rc.ctx, sq), r.scratch);
	struct ggml_tensor * ct = place(ggml_cont(rc.ctx, tr), r.scratch, scratch + part);
	struct ggml_tensor * s = place(ggml_reshape_2d(rc.ctx, place(ggml_sum_rows(rc.ctx, ct), r.colsum_buf, colsum), cols, 1), r.colsum_buf);
	struct ggml_tensor * a = header(rc.ctx, ggml_backend_buffer_get_base(d->buf), d->buf, cols, 1);
	ggml_build_forward_expand(g, place(ggml_add_inplace(rc.ctx, a, s), d->buf));
	if (r.checked != be) {
		for (int i = 0; i < ggml_graph_n_nodes(g); i++) {
			if (!ggml_backend_supports_op(be, ggml_graph_node(g, i))) {
				r.failed = true;
				return false;
			}
		}
	}
	if (orig(be, g, batch) != GGML_STATUS_SUCCESS) {
		r.failed = true;
		return false;
	}
	r.checked = be;
	reduced(im, names, src1, side);
	return true;
}

// libsattva-cuda.so (llamacpp/cuda/colsumsq.cu): one kernel that adds the
// column sums of squares of an activation to a device sum in one read, on a
// stream of its own between two CUDA events. Loaded once per process by
// sattva_imatrix_kernels; without it the side stream runs ggml's kernels.
using colsumsq_fn = int (*)(int, void *, void *, const float *, float *, int64_t, int64_t);
static std::mutex kernels_mu;
static colsumsq_fn cuda_colsumsq = nullptr;

// cuda_index is the CUDA device number of dev ("CUDA3" -> 3), or -1.
static int cuda_index(ggml_backend_dev_t dev) {
	const char * name = dev ? ggml_backend_dev_name(dev) : nullptr;
	if (name == nullptr || strncmp(name, "CUDA", 4) != 0 || name[4] < '0' || name[4] > '9') return -1;
	return atoi(name + 4);
}

// side_of returns r's side stream for the graph's backend be (own, a
// second backend on the same device, and the two events), made on first
// use; null where the device has no events (the CPU) or in mode 3.
static device_reducer * side_of(sattva_imatrix * im, ggml_backend_t be) {
	if (im->mode == 3) return nullptr;
	ggml_backend_dev_t dev = ggml_backend_get_device(be);
	if (dev == nullptr) return nullptr;
	device_reducer & r = im->devices[dev];
	if (!r.dev) r.dev = dev;
	if (r.no_side || r.failed) return nullptr;
	if (!r.ev_side) {
		if (!r.ev_graph) r.ev_graph = ggml_backend_event_new(dev);
		r.ev_side = r.ev_graph ? ggml_backend_event_new(dev) : nullptr;
		if (r.ev_side && !r.own) r.own = ggml_backend_dev_init(dev, nullptr);
		if (!r.ev_side || !r.own) {
			r.no_side = true;
			return nullptr;
		}
	}
	return &r;
}

// reuse_at is where the memory of x may next be written in g, from the
// index of its last reader in g (last, of x's root tensor, -1 when none
// reads it: that of the MUL_MAT at first): after that reader when it is a
// matrix product (whose result never takes its input's place), else at it.
static int reuse_at(struct ggml_cgraph * g, int last, int first) {
	if (last < first) last = first;
	const enum ggml_op op = g->nodes[last]->op;
	return op == GGML_OP_MUL_MAT || op == GGML_OP_MUL_MAT_ID ? last + 1 : last;
}

// reduce_kernel queues libsattva-cuda's kernel for src1 after r's ev_graph
// (just recorded on the graph's stream) and has it record ev_side: it adds
// the column sums of squares to the device sum of names' group. It returns
// false when that is not possible (the caller's ggml path then runs; what
// the kernel queued before stays ordered by ev_side).
static bool reduce_kernel(sattva_imatrix * im, device_reducer & r, colsumsq_fn kernel, const struct ggml_tensor * src1,
		const std::vector<std::string> & names) {
	const int64_t cols = src1->ne[0], rows = src1->ne[1];
	if (!group_ok(im, names, r, cols)) return true;
	device_sum * d = device_sum_for(im, names[0], r, cols);
	if (!d) return false;
	if (kernel(cuda_index(r.dev), r.ev_graph->context, r.ev_side->context, (const float *) src1->data,
			(float *) ggml_backend_buffer_get_base(d->buf), cols, rows) != 0) {
		return false;
	}
	reduced(im, names, src1, true);
	im->kernel_calls++;
	return true;
}

// collect_inline computes g (a graph, or a part of one, the scheduler gives
// be) with orig in segments, and sums each input that inline_handles let
// run on, without a synchronisation:
//
//   - on a GPU, on the side stream: the graph's stream records ev_graph
//     after the segment that makes the input (ending before the first
//     MUL_MAT that reads it); the side stream waits for it, reduces, and
//     records ev_side; the graph's stream waits for ev_side before the
//     first node that may overwrite the input (reuse_at). The reduction
//     runs beside the MUL_MATs that read the same input;
//   - where there is no side stream (mode 3, or no events), between the
//     segments on the graph's own stream;
//   - on a CPU backend (mode 2, the tests), at the last point where the
//     input is intact, which checks reuse_at.
//
// The other MUL_MATs that read the same input share its sums.
static enum ggml_status collect_inline(sattva_imatrix * im, ggml_backend_t be, graph_compute_fn orig, struct ggml_cgraph * g, int batch) {
	const int n = g->n_nodes;
	// The stop before the output layer that the scheduler's ask armed at
	// result_norm comes here, where that node is (the abort callback, which
	// the CPU backend asks after every node, would end the segments before
	// it; a GPU backend never asks it).
	bool armed = false;
	int norm_at = -1;
	if (im->abort_now.load(std::memory_order_relaxed)) {
		for (int i = 0; i < n; i++) {
			if (strcmp(g->nodes[i]->name, "result_norm") == 0) {
				norm_at = i;
				break;
			}
		}
		if (norm_at >= 0) armed = im->abort_now.exchange(false);
	}
	// The last reader in g of every tensor's memory (a view's is its root's).
	std::unordered_map<const struct ggml_tensor *, int> last_read;
	for (int j = 0; j < n; j++) {
		for (int k = 0; k < GGML_MAX_SRC; k++) {
			const struct ggml_tensor * t = g->nodes[j]->src[k];
			if (t) last_read[t->view_src ? t->view_src : t] = j;
		}
	}
	device_reducer * side;
	{
		std::lock_guard<std::mutex> lock(im->mu);
		side = side_of(im, be);
	}
	const bool late = side == nullptr && ggml_backend_dev_type(ggml_backend_get_device(be)) == GGML_BACKEND_DEVICE_TYPE_CPU;
	colsumsq_fn kernel = nullptr;
	if (side && im->mode != 5 && cuda_index(side->dev) >= 0) {
		std::lock_guard<std::mutex> lock(kernels_mu);
		kernel = cuda_colsumsq;
	}
	struct pending {
		const struct ggml_tensor * x;
		std::vector<std::string> names;
		std::vector<int> readers;
		int at;
	};
	std::vector<pending> due;      // late: the reductions still to run, at their reuse_at
	int wait_at = INT_MAX;         // where the graph's stream next waits for the side stream
	std::vector<char> done(n, 0);
	int start = 0;
	auto run = [&](int end) -> enum ggml_status {
		if (armed && start <= norm_at && norm_at < end) {
			// The stop: what comes before the output layer's norm, then
			// GGML_STATUS_ABORTED, as the CPU backend's abort would give.
			struct ggml_cgraph v = ggml_graph_view(g, start, norm_at);
			const enum ggml_status st = norm_at > start ? orig(be, &v, batch) : GGML_STATUS_SUCCESS;
			start = norm_at;
			im->abort_now.store(true, std::memory_order_relaxed);
			return st == GGML_STATUS_SUCCESS ? GGML_STATUS_ABORTED : st;
		}
		if (end <= start) return GGML_STATUS_SUCCESS;
		struct ggml_cgraph v = ggml_graph_view(g, start, end);
		start = end;
		return orig(be, &v, batch);
	};
	// reduce sums x for names on be's stream now, or on the host when the
	// device cannot (after waiting for it).
	auto reduce = [&](const struct ggml_tensor * x, const std::vector<std::string> & names, const std::vector<int> & readers) {
		std::lock_guard<std::mutex> lock(im->mu);
		if (im->error || reduce_inline(im, be, orig, x, names, batch, false)) return;
		ggml_backend_synchronize(be);
		for (size_t k = 0; k < readers.size() && !im->error; k++) collect_host(im, g->nodes[readers[k]], names[k]);
	};
	// settle runs the graph up to end and what is due before it: the wait
	// for the side stream, or the late reductions.
	auto settle = [&](int end) -> enum ggml_status {
		while (true) {
			int at = wait_at;
			for (const auto & p : due) at = std::min(at, p.at);
			if (at > end) break;
			const enum ggml_status st = run(at);
			if (st != GGML_STATUS_SUCCESS) return st;
			if (at == wait_at) {
				ggml_backend_event_wait(be, side->ev_side);
				wait_at = INT_MAX;
			}
			for (size_t k = 0; k < due.size();) {
				if (due[k].at == at) {
					reduce(due[k].x, due[k].names, due[k].readers);
					due.erase(due.begin() + k);
				} else {
					k++;
				}
			}
		}
		return run(end);
	};
	enum ggml_status st = GGML_STATUS_SUCCESS;
	std::vector<std::string> names;
	std::vector<int> readers;
	for (int i = 0; i < n && st == GGML_STATUS_SUCCESS; i++) {
		struct ggml_tensor * t = g->nodes[i];
		std::string wname;
		if (done[i] || im->mode == 4 || !dense_weight(im, t, wname)) continue;
		const struct ggml_tensor * src1 = t->src[1];
		names.assign(1, wname);
		readers.assign(1, i);
		for (int j = i + 1; j < n; j++) {
			struct ggml_tensor * u = g->nodes[j];
			if (u->op == GGML_OP_MUL_MAT && u->src[1] == src1 && !done[j] && dense_weight(im, u, wname)) {
				done[j] = 1;
				names.push_back(wname);
				readers.push_back(j);
			}
		}
		auto lr = last_read.find(src1->view_src ? src1->view_src : src1);
		const int at = reuse_at(g, lr == last_read.end() ? -1 : lr->second, readers.back());
		if (late) {
			due.push_back({src1, names, readers, at});
			continue;
		}
		st = settle(i);
		if (st != GGML_STATUS_SUCCESS) break;
		bool queued = false;
		if (side) {
			std::lock_guard<std::mutex> lock(im->mu);
			if (im->error) continue;
			ggml_backend_event_record(side->ev_graph, be);
			if (kernel) {
				queued = reduce_kernel(im, *side, kernel, src1, names);
			} else {
				ggml_backend_event_wait(side->own, side->ev_graph);
				queued = reduce_inline(im, side->own, side->own->iface.graph_compute, src1, names, batch, true);
				ggml_backend_event_record(side->ev_side, side->own);
			}
			if (queued) {
				wait_at = std::min(wait_at, at);
			} else {
				// The graph's stream waits for what the side stream has
				// queued so far, and the reductions stay on it from now.
				ggml_backend_event_wait(be, side->ev_side);
				side->no_side = true;
				side = nullptr;
			}
		}
		if (!queued) reduce(src1, names, readers);
	}
	if (st == GGML_STATUS_SUCCESS) st = settle(n);
	if (side && wait_at != INT_MAX) ggml_backend_event_wait(be, side->ev_side); // the stop, or an error, before the wait
	return st;
}

// inline_compute is the graph_compute of a hooked backend.
static enum ggml_status inline_compute(ggml_backend_t be, struct ggml_cgraph * g, int batch) {
	hooked_backend h = {};
	{
		std::lock_guard<std::mutex> lock(hooks_mu);
		for (const auto & x : hooks) {
			if (x.be == be) h = x;
		}
	}
	if (h.orig == nullptr) return GGML_STATUS_FAILED; // only a hooked backend has this function
	return collect_inline(h.im, be, h.orig, g, batch);
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
		if (kv.second.ev_graph) ggml_backend_event_free(kv.second.ev_graph);
		if (kv.second.ev_side) ggml_backend_event_free(kv.second.ev_side);
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

// sattva_imatrix_attach ties the collector to the context it runs in: it
// takes over the graph_compute of the scheduler's GPU backends (and, in mode
// 2, the CPU's) for collect_inline, and unless output.weight is collected,
// each decode stops after the last weight (ubatches: the ubatches of one
// decode): in collect_inline, or on a CPU backend it did not take over
// through the context's abort callback.
void sattva_imatrix_attach(sattva_imatrix * im, struct llama_context * lctx, int ubatches) {
	std::lock_guard<std::mutex> lock(im->mu);
	im->lctx = lctx;
	im->ubatches = ubatches > 0 ? ubatches : 1;
	if (!im->process_output) llama_set_abort_callback(lctx, sattva_imatrix_abort, im);
	if (im->mode == 1) return;
	ggml_backend_sched_t sched = lctx->get_sched();
	const int nb = sched ? ggml_backend_sched_get_n_backends(sched) : 0;
	std::lock_guard<std::mutex> hl(hooks_mu);
	for (int i = 0; i < nb; i++) {
		ggml_backend_t be = ggml_backend_sched_get_backend(sched, i);
		ggml_backend_dev_t dev = ggml_backend_get_device(be);
		const enum ggml_backend_dev_type type = dev ? ggml_backend_dev_type(dev) : GGML_BACKEND_DEVICE_TYPE_ACCEL;
		const bool gpu = type == GGML_BACKEND_DEVICE_TYPE_GPU || type == GGML_BACKEND_DEVICE_TYPE_IGPU;
		if (!(gpu || (im->mode == 2 && type == GGML_BACKEND_DEVICE_TYPE_CPU)) || be->iface.graph_compute == nullptr ||
				be->iface.graph_compute == inline_compute) {
			continue;
		}
		hooks.push_back({be, be->iface.graph_compute, im});
		be->iface.graph_compute = inline_compute;
		im->hooked.push_back(be);
	}
}

// sattva_imatrix_detach gives the hooked backends their graph_compute back;
// call it before the context is freed.
void sattva_imatrix_detach(sattva_imatrix * im) {
	std::lock_guard<std::mutex> lock(im->mu);
	std::lock_guard<std::mutex> hl(hooks_mu);
	for (ggml_backend_t be : im->hooked) {
		for (auto it = hooks.begin(); it != hooks.end(); ++it) {
			if (it->be == be && it->im == im) {
				be->iface.graph_compute = it->orig;
				hooks.erase(it);
				break;
			}
		}
	}
	im->hooked.clear();
}

bool sattva_imatrix_cb(struct ggml_tensor * t, bool ask, void * user_data) {
	auto * im = static_cast<sattva_imatrix *>(user_data);
	const struct ggml_tensor * src0 = t->src[0];
	const struct ggml_tensor * src1 = t->src[1];
	if (ask) {
		if (t->op != GGML_OP_MUL_MAT && t->op != GGML_OP_MUL_MAT_ID) {
			// The output layer's norm comes after every blk.* weight. In the
			// last ubatch of a decode it arms the stop.
			if (!im->process_output && im->ubatches_left > 0 && strcmp(t->name, "result_norm") == 0 &&
					--im->ubatches_left == 0) {
				im->abort_now.store(true, std::memory_order_relaxed);
			}
			return false;
		}
		if (im->mode == 4) return false; // the pass alone (benchmarks)
		if (t->op == GGML_OP_MUL_MAT_ID) return true;
		if (src1->ne[1] < 16 || src1->type != GGML_TYPE_F32) return false;
		std::string wname = filter_name(src0->name);
		if (!collected(im, wname)) return false;
		// The scheduler stops here, and the callback sums the input on the
		// host, unless collect_inline sums it on the device.
		return !inline_handles(im, t);
	}
	std::string wname = filter_name(src0->name);
	std::lock_guard<std::mutex> lock(im->mu);
	if (!im->error) collect_host(im, t, wname);
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

// sattva_imatrix_counts writes the reduction counters: device, shared,
// graph's stream (sched), side stream, libsattva-cuda's kernel.
void sattva_imatrix_counts(sattva_imatrix * im, int64_t out[5]) {
	std::lock_guard<std::mutex> lock(im->mu);
	out[0] = im->device_calls;
	out[1] = im->shared_calls;
	out[2] = im->sched_calls;
	out[3] = im->side_calls;
	out[4] = im->kernel_calls;
}

// sattva_imatrix_kernels loads libsattva-cuda.so from path, once per
// process; it returns whether its kernel is there.
bool sattva_imatrix_kernels(const char * path) {
	std::lock_guard<std::mutex> lock(kernels_mu);
	if (cuda_colsumsq == nullptr) {
		void * h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
		if (h) cuda_colsumsq = (colsumsq_fn) dlsym(h, "sattva_cuda_colsumsq");
	}
	return cuda_colsumsq != nullptr;
}

// sattva_imatrix_graph_begin is called before each decode.
void sattva_imatrix_graph_begin(sattva_imatrix * im) {
	std::lock_guard<std::mutex> lock(im->mu);
	im->ubatches_left = (im->process_output || im->lctx == nullptr) ? 0 : im->ubatches;
	im->abort_now.store(false, std::memory_order_relaxed);
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

// dsum_of is the device sum holding name's sums (its group's), or null.
static const device_sum * dsum_of(sattva_imatrix * im, const std::string & name) {
	auto g = im->group.find(name);
	auto d = im->dsums.find(g != im->group.end() ? g->second : name);
	return d != im->dsums.end() ? &d->second : nullptr;
}

// entry_values is the sums of one entry: those added on the host plus those
// kept on a device.
static int64_t entry_values(sattva_imatrix * im, const std::string & name, const im_stats & e) {
	int64_t n = (int64_t) e.values.size();
	const device_sum * d = dsum_of(im, name);
	if (d && n == 0) n = (int64_t) d->host.size();
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
	const device_sum * d = dsum_of(im, it->first);
	if (d && (int64_t) d->host.size() == n) {
		for (int64_t j = 0; j < n; j++) values[j] += d->host[j];
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
