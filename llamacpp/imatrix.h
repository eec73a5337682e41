// C declarations of imatrix.cpp (importance-matrix collection and the C++
// containers that llama_model_quantize_params points to).
#pragma once
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ggml_tensor;
struct llama_context;
typedef struct sattva_imatrix sattva_imatrix;

sattva_imatrix *sattva_imatrix_new(int process_output, int mode);
void sattva_imatrix_free(sattva_imatrix *im);
bool sattva_imatrix_cb(struct ggml_tensor *t, bool ask, void *user_data);
int sattva_imatrix_error(sattva_imatrix *im, char *tensor, int n);
int sattva_imatrix_snapshot(sattva_imatrix *im);
void sattva_imatrix_counts(sattva_imatrix *im, int64_t out[5]);
bool sattva_imatrix_kernels(const char *path);
void sattva_imatrix_attach(sattva_imatrix *im, struct llama_context *lctx, int ubatches);
void sattva_imatrix_detach(sattva_imatrix *im);
void sattva_imatrix_graph_begin(sattva_imatrix *im);
bool sattva_imatrix_stopped(sattva_imatrix *im);
int sattva_imatrix_sync(sattva_imatrix *im);
const char *sattva_imatrix_entry(sattva_imatrix *im, int i, int64_t *nval, int64_t *nmat);
void sattva_imatrix_copy(sattva_imatrix *im, int i, float *values, int64_t *counts);

void *sattva_imatrix_map_new(void);
void sattva_imatrix_map_add(void *m, const char *name, const float *data, int64_t n);
void sattva_imatrix_map_free(void *m);

void *sattva_kvo_new(void);
void sattva_kvo_add_str(void *v, const char *key, const char *val);
void sattva_kvo_add_int(void *v, const char *key, int64_t val);
void *sattva_kvo_finish(void *v);
void sattva_kvo_free(void *v);

#ifdef __cplusplus
}
#endif

#ifdef __cplusplus
extern "C" {
#endif
bool sattva_tap_cb(struct ggml_tensor *t, bool ask, void *user_data);
#ifdef __cplusplus
}
#endif
