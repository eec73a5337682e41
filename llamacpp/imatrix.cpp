//go:build cgo

// imatrix.cpp holds the C++ half of the importance-matrix support:
//
//   - a collector whose graph-evaluation callback (cb_eval) sums, for every
//     matrix multiplication's weight, the squares of the activations of each
//     input column and counts the rows, as llama-imatrix's
//     IMatrixCollector::collect_imatrix does (tools/imatrix/imatrix.cpp);
//   - the std::unordered_map<std::string, std::vector<float>> and the
//     std::vector<llama_model_kv_override> that llama_model_quantize_params
//     takes as opaque pointers (imatrix, kv_overrides).
//
// Every object is created and freed by the functions below; Go owns them.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "ggml.h"
#include "ggml-alloc.h"
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

// device_reducer computes the column sums of squares of an activation on the
// device that holds it (one backend per device, made on first use), so that
// ne0 floats cross the bus instead of the whole activation.
struct device_reducer {
	ggml_backend_t backend = nullptr;
	ggml_gallocr_t galloc = nullptr;
	bool failed = false;
};

struct sattva_imatrix {
	std::mutex mu;
	std::unordered_map<ggml_backend_dev_t, device_reducer> devices;
	std::vector<float> colsum;
	int64_t device_calls = 0;   // MUL_MATs summed on a device
	int64_t shared_calls = 0;   // MUL_MATs that reused the sums of the one before
	// The activation that colsum was computed from, while its sums may be
	// reused: attn_q, attn_k and attn_v (and ffn_gate, ffn_up) multiply the
	// same tensor, and asking the scheduler to stop at each of them costs a
	// device synchronisation apiece for sums that are already known.
	const struct ggml_tensor * last_src1 = nullptr;
	const void * last_data = nullptr;
	std::unordered_map<std::string, im_stats> stats;
	std::vector<char> src1, ids;
	bool process_output = false;
	int mode = 0; // 0: reduce on the device for non-host buffers; 1: always copy to the host; 2: always reduce with a backend (tests); 3: stop, collect nothing (benchmarks)
	int error = 0;              // first error: 1 non-finite value, 2 inconsistent size
	std::string error_tensor;
	std::vector<std::string> snapshot; // sorted names for export
};

// device_colsumsq sets out[j] = sum over the rows of src1 of src1[row][j]^2,
// computed by ggml on src1's own device (sqr, transpose, sum_rows). It
// returns false when that is not possible; the caller then copies src1.
static bool device_colsumsq(sattva_imatrix * im, const struct ggml_tensor * src1, std::vector<float> & out) {
	ggml_backend_buffer_type_t buft = ggml_backend_buffer_get_type(src1->buffer);
	ggml_backend_dev_t dev = buft ? ggml_backend_buft_get_device(buft) : nullptr;
	if (dev == nullptr && im->mode == 2) {
		// ggml's CPU buffer type names no device; the tests' mode uses the CPU's.
		dev = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
	}
	if (dev == nullptr) return false;
	device_reducer & r = im->devices[dev];
	if (r.failed) return false;
	if (r.backend == nullptr) {
		r.backend = ggml_backend_dev_init(dev, nullptr);
		if (r.backend) r.galloc = ggml_gallocr_new(ggml_backend_get_default_buffer_type(r.backend));
		if (!r.backend || !r.galloc) {
			r.failed = true;
			return false;
		}
	}
	struct ggml_init_params p = { ggml_tensor_overhead() * 8 + ggml_graph_overhead_custom(8, false), nullptr, true };
	struct ggml_context * ctx = ggml_init(p);
	if (!ctx) return false;
	struct ggml_tensor * x = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, src1->ne[0], src1->ne[1]);
	x->data = src1->data;
	x->buffer = src1->buffer;
	struct ggml_tensor * s = ggml_sum_rows(ctx, ggml_cont(ctx, ggml_transpose(ctx, ggml_sqr(ctx, x))));
	struct ggml_cgraph * g = ggml_new_graph_custom(ctx, 8, false);
	ggml_build_forward_expand(g, s);
	bool ok = true;
	for (int i = 0; i < ggml_graph_n_nodes(g); i++) {
		if (!ggml_backend_supports_op(r.backend, ggml_graph_node(g, i))) ok = false;
	}
	ok = ok && ggml_gallocr_alloc_graph(r.galloc, g) && ggml_backend_graph_compute(r.backend, g) == GGML_STATUS_SUCCESS;
	if (ok) {
		out.resize(src1->ne[0]);
		ggml_backend_tensor_get(s, out.data(), 0, sizeof(float) * src1->ne[0]);
	} else {
		r.failed = true;
	}
	ggml_free(ctx);
	return ok;
}

// add_colsum adds im->colsum, the column sums of squares of src1's rows, to
// wname's statistics and counts src1's rows. On a size that differs from
// earlier calls or a non-finite sum it records the error and returns false.
// The caller holds im->mu.
static bool add_colsum(sattva_imatrix * im, const std::string & wname, const struct ggml_tensor * src1) {
	auto & e = im->stats[wname];
	const int64_t ne0 = src1->ne[0];
	if (e.values.empty()) {
		e.values.assign(ne0, 0.0f);
		e.counts.assign(1, 0);
	} else if ((int64_t) e.values.size() != ne0) {
		im->error = 2;
		im->error_tensor = wname;
		return false;
	}
	for (int64_t j = 0; j < ne0; ++j) {
		e.values[j] += im->colsum[j];
		if (!std::isfinite(e.values[j])) {
			im->error = 1;
			im->error_tensor = wname;
			return false;
		}
	}
	for (auto & c : e.counts) c += src1->ne[1];
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
	for (auto & kv : im->devices) {
		if (kv.second.galloc) ggml_gallocr_free(kv.second.galloc);
		if (kv.second.backend) ggml_backend_free(kv.second.backend);
	}
	delete im;
}

void sattva_imatrix_reset(sattva_imatrix * im) {
	std::lock_guard<std::mutex> lock(im->mu);
	im->stats.clear();
	im->error = 0;
}

bool sattva_imatrix_cb(struct ggml_tensor * t, bool ask, void * user_data) {
	auto * im = static_cast<sattva_imatrix *>(user_data);
	const struct ggml_tensor * src0 = t->src[0];
	const struct ggml_tensor * src1 = t->src[1];
	if (ask) {
		if (t->op == GGML_OP_MUL_MAT_ID) return true;
		if (t->op != GGML_OP_MUL_MAT) return false;
		if (src1->ne[1] < 16 || src1->type != GGML_TYPE_F32) return false;
		std::string wname = filter_name(src0->name);
		if (!(wname.compare(0, 4, "blk.") == 0 || (im->process_output && wname == "output.weight"))) return false;
		std::lock_guard<std::mutex> lock(im->mu);
		if (im->error || im->last_src1 != src1 || im->last_data != src1->data) return true;
		if (im->mode == 3) return false; // stops only (benchmarks)
		// The same activation as the MUL_MAT summed just before, in this
		// graph (the scheduler asks in node order, after that one's
		// evaluation, and the activation is still alive: this node reads
		// it): add the same sums and let the scheduler run on.
		if (add_colsum(im, wname, src1)) im->shared_calls++;
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
	if (((!is_host && im->mode == 0) || im->mode == 2) && t->op == GGML_OP_MUL_MAT && ggml_is_contiguous(src1) &&
			src1->ne[2] == 1 && src1->ne[3] == 1 && src0->ne[2] == 1 && src0->ne[3] == 1 &&
			device_colsumsq(im, src1, im->colsum)) {
		// The dense case on a GPU: the device sums the squares over the rows;
		// the host adds the ne0 sums (float rounding differs from adding row
		// by row, well inside float32 summation order).
		if (add_colsum(im, wname, src1)) {
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
		e.counts.assign(1, 0);
	} else if ((int64_t) e.values.size() != ne0 * n_mat) {
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

void sattva_imatrix_graph_begin(sattva_imatrix * im) {
	std::lock_guard<std::mutex> lock(im->mu);
	im->last_src1 = nullptr;
	im->last_data = nullptr;
}

int sattva_imatrix_snapshot(sattva_imatrix * im) {
	std::lock_guard<std::mutex> lock(im->mu);
	im->snapshot.clear();
	for (const auto & kv : im->stats) im->snapshot.push_back(kv.first);
	std::sort(im->snapshot.begin(), im->snapshot.end());
	return (int) im->snapshot.size();
}

const char * sattva_imatrix_entry(sattva_imatrix * im, int i, int64_t * nval, int64_t * nmat) {
	std::lock_guard<std::mutex> lock(im->mu);
	if (i < 0 || i >= (int) im->snapshot.size()) return nullptr;
	auto it = im->stats.find(im->snapshot[i]);
	if (it == im->stats.end()) return nullptr;
	*nval = (int64_t) it->second.values.size();
	*nmat = (int64_t) it->second.counts.size();
	return im->snapshot[i].c_str();
}

void sattva_imatrix_copy(sattva_imatrix * im, int i, float * values, int64_t * counts) {
	std::lock_guard<std::mutex> lock(im->mu);
	auto it = im->stats.find(im->snapshot[i]);
	if (it == im->stats.end()) return;
	std::copy(it->second.values.begin(), it->second.values.end(), values);
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
