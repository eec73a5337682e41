//go:build cgo

package llamacpp

/*
#include "helpers.h"
#include "ggml-opt.h"

extern int sattvaGoTrainFilter(char *name, int64_t nelements, uintptr_t handle);

static bool sattva_train_filter(const struct ggml_tensor *t, void *ud) {
	return sattvaGoTrainFilter((char *)ggml_get_name(t), ggml_nelements(t), (uintptr_t)ud) != 0;
}

// sattva_opt_state is what the optimizer-parameter callback reads: the
// parameters for the next step and the optimization context.
struct sattva_opt_state {
	struct ggml_opt_optimizer_params pars;
	ggml_opt_context_t opt;
};

// sattva_opt_pars runs inside ggml_opt_eval before each optimizer step's
// graph is computed. It zeroes the gradient accumulators first: with the
// graphs llama.cpp rebuilds for every batch, ggml-opt's own reset runs on a
// graph it has already dropped (ggml_graph_reset(NULL) in ggml_opt_alloc),
// so without this every step would apply the sum of all gradients so far.
static struct ggml_opt_optimizer_params sattva_opt_pars(void *ud) {
	struct sattva_opt_state *s = (struct sattva_opt_state *)ud;
	if (s->opt) {
		ggml_opt_reset(s->opt, false);
	}
	return s->pars;
}

static __thread ggml_opt_context_t sattva_seen_opt;

static void sattva_epoch_cb(bool train, ggml_opt_context_t opt, ggml_opt_dataset_t ds, ggml_opt_result_t res,
		int64_t ibatch, int64_t ibatch_max, int64_t t_start_us) {
	sattva_seen_opt = opt;
}

// sattva_opt_init sets up training on ctx: cross-entropy, the optimizer, the
// tensors the Go filter (handle) chooses, and the optimizer state.
static void sattva_opt_init(struct llama_context *ctx, struct llama_model *model, uintptr_t handle,
		struct sattva_opt_state *st, int sgd) {
	// One decode first: llama.cpp hands its thread count and threadpool to
	// the CPU backend only when it computes a graph itself, and ggml-opt's
	// computations would otherwise run with ggml's default of 4 threads
	// spinning on barriers.
	llama_token tok = 0;
	llama_decode(ctx, llama_batch_get_one(&tok, 1));
	llama_memory_clear(llama_get_memory(ctx), true);
	struct llama_opt_params p;
	memset(&p, 0, sizeof p);
	p.n_ctx_train = 0;
	p.param_filter = sattva_train_filter;
	p.param_filter_ud = (void *)handle;
	p.get_opt_pars = sattva_opt_pars;
	p.get_opt_pars_ud = st;
	p.optimizer_type = sgd ? GGML_OPT_OPTIMIZER_TYPE_SGD : GGML_OPT_OPTIMIZER_TYPE_ADAMW;
	llama_opt_init(ctx, model, p);
}

static void sattva_opt_set(struct sattva_opt_state *s, float lr, float wd) {
	struct ggml_opt_optimizer_params *p = &s->pars;
	p->adamw.alpha = lr;
	p->adamw.beta1 = 0.9f;
	p->adamw.beta2 = 0.999f;
	p->adamw.eps = 1e-8f;
	p->adamw.wd = wd;
	p->sgd.alpha = lr;
	p->sgd.wd = wd;
}

// sattva_opt_window trains on one window (one optimizer step): data and
// labels are n tokens each. It returns the window's mean loss.
static double sattva_opt_window(struct llama_context *ctx, struct sattva_opt_state *st, ggml_opt_dataset_t ds,
		ggml_opt_result_t res, const int32_t *data, const int32_t *labels, int64_t n) {
	memcpy(ggml_opt_dataset_data(ds)->data, data, n * sizeof(int32_t));
	memcpy(ggml_opt_dataset_labels(ds)->data, labels, n * sizeof(int32_t));
	ggml_opt_result_reset(res);
	sattva_seen_opt = NULL;
	llama_opt_epoch(ctx, ds, res, NULL, 1, sattva_epoch_cb, NULL);
	if (sattva_seen_opt) {
		st->opt = sattva_seen_opt;
	}
	double loss = 0;
	ggml_opt_result_loss(res, &loss, NULL);
	return loss;
}
*/
import "C"

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/cgo"
	"strings"
	"time"
	"unsafe"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/gguf/modelcheck"
)

// trainFilter is what the param-filter callback reaches through its handle.
type trainFilter struct {
	keep    func(string) bool
	blocks  int
	names   []string
	tensors int
	params  int64
}

//export sattvaGoTrainFilter
func sattvaGoTrainFilter(name *C.char, n C.int64_t, h C.uintptr_t) C.int {
	f, ok := cgo.Handle(h).Value().(*trainFilter)
	if !ok || name == nil {
		return 0
	}
	s := C.GoString(name)
	if !Trainable(s, f.blocks) || (f.keep != nil && !f.keep(s)) {
		return 0
	}
	f.names = append(f.names, s)
	f.tensors++
	f.params += int64(n)
	return 1
}

// Train trains the model at o.Model on o.Sequences and writes checkpoints to
// o.Out (see TrainOptions and the package's training notes). When ctx ends,
// training stops after the current optimizer step and Train returns the
// result so far with Stopped set and ctx's error; o.Out then holds the last
// complete checkpoint, untouched by the interrupted run after it.
func Train(ctx context.Context, o TrainOptions) (*TrainResult, error) {
	plan, err := planTrain(o)
	if err != nil {
		return nil, err
	}
	if plan.o.Engine == EngineGraph {
		return trainGraph(ctx, plan)
	}
	return trainLlamaOpt(ctx, plan)
}

// trainLlamaOpt is Train with EngineLlamaOpt.
func trainLlamaOpt(ctx context.Context, plan *trainPlan) (*TrainResult, error) {
	o := plan.o
	src, err := readSourceMeta(o.Model)
	if err != nil {
		return nil, err
	}
	if !src.anyTrainable(o.TrainTensor) {
		return nil, ErrNothingToTrain
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m, err := Load(o.Model, ModelOptions{NoMmap: true, GPULayers: o.GPULayers, CPUOnly: o.CPUOnly, MainGPU: o.MainGPU, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	defer m.Close()
	for _, t := range plan.stream {
		if t < 0 || int(t) >= m.nvocab {
			return nil, trainErr("token id %d outside the vocabulary of %d", t, m.nvocab)
		}
	}
	c, err := m.NewContext(ContextOptions{
		ContextSize: o.Context, BatchSize: o.Context, UBatchSize: o.Context, Threads: o.Threads,
		// ggml has no backward pass for flash attention, and OUT_PROD wants an F32 cache.
		KVCacheType: "f32", FlashAttention: FlashAttentionOff,
	})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if got := int(C.llama_n_ctx(c.ctx)); got != o.Context {
		return nil, trainErr("llama.cpp made a context of %d tokens, not %d", got, o.Context)
	}

	filter := &trainFilter{keep: o.TrainTensor, blocks: src.blocks}
	h := cgo.NewHandle(filter)
	defer h.Delete()
	pars := (*C.struct_sattva_opt_state)(C.calloc(1, C.size_t(unsafe.Sizeof(C.struct_sattva_opt_state{}))))
	defer C.free(unsafe.Pointer(pars))
	C.sattva_opt_set(pars, C.float(o.LearningRate), C.float(o.WeightDecay))
	sgd := C.int(0)
	if o.Optimizer == OptimizerSGD {
		sgd = 1
	}
	C.sattva_opt_init(c.ctx, m.model, C.uintptr_t(h), pars, sgd)
	if filter.tensors == 0 {
		return nil, ErrNothingToTrain
	}

	n := int64(o.Context)
	ds := C.ggml_opt_dataset_init(C.GGML_TYPE_I32, C.GGML_TYPE_I32, C.int64_t(n), C.int64_t(n), 1, 1)
	if ds == nil {
		return nil, trainErr("ggml_opt_dataset_init failed")
	}
	defer C.ggml_opt_dataset_free(ds)
	res := C.ggml_opt_result_init()
	defer C.ggml_opt_result_free(res)
	data := (*C.int32_t)(C.malloc(C.size_t(2 * n * 4)))
	defer C.free(unsafe.Pointer(data))
	buf := unsafe.Slice((*int32)(unsafe.Pointer(data)), 2*n)
	labels := (*C.int32_t)(unsafe.Pointer(&buf[n]))

	out := &TrainResult{Engine: EngineLlamaOpt, EngineNote: plan.note, Epochs: o.Epochs, Windows: plan.windows, Context: o.Context, StreamTokens: len(plan.stream),
		TrainableTensors: filter.tensors, TrainableParams: filter.params, TrainedTensors: filter.names, Device: m.Device().Name}
	meta := src.checkpointKVs(o.Metadata)
	one := func(w, step int, lr float64) (float64, error) {
		C.sattva_opt_set(pars, C.float(lr), C.float(o.WeightDecay))
		off := w * o.Stride
		copy(buf[:n], plan.stream[off:off+int(n)])
		copy(buf[n:], plan.stream[off+1:off+1+int(n)])
		loss := float64(C.sattva_opt_window(c.ctx, pars, ds, res, data, labels, C.int64_t(n)))
		out.Tokens += n
		return loss, nil
	}
	return stepLoop(ctx, plan, out, one, func() error { return saveCheckpoint(m, o.Out, meta) })
}

// stepLoop is the loop both engines share: epochs of the plan's windows in
// an order drawn from the seed, the learning-rate schedule, cancellation
// between steps, the loss check, checkpoints (every CheckpointSteps and at
// the end, through save) and OnStep. one trains window w at learning rate lr
// as step step, adds the tokens it trained to out, and returns the loss.
func stepLoop(ctx context.Context, plan *trainPlan, out *TrainResult, one func(w, step int, lr float64) (float64, error), save func() error) (*TrainResult, error) {
	o := plan.o
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x5a77a))
	start := time.Now()
	finish := func() {
		out.Seconds = time.Since(start).Seconds()
		if out.Seconds > 0 {
			out.TokensPerSecond = float64(out.Tokens) / out.Seconds
		}
	}
	step := 0
	for epoch := 1; epoch <= o.Epochs && step < plan.steps; epoch++ {
		order := rng.Perm(plan.windows)
		for wi, w := range order {
			if err := ctx.Err(); err != nil {
				out.Stopped = true
				finish()
				return out, err
			}
			step++
			lr := plan.rate(step)
			loss, err := one(w, step, lr)
			if err != nil {
				finish()
				return out, err
			}
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				finish()
				return out, trainErr("loss is %g at step %d (learning rate %g too high?)", loss, step, lr)
			}
			out.Steps = step
			out.Losses = append(out.Losses, loss)
			ev := TrainStep{Step: step, Steps: plan.steps, Epoch: epoch, Loss: loss, LearningRate: lr, Tokens: out.Tokens, Elapsed: time.Since(start)}
			last := step == plan.steps || wi == len(order)-1
			if last || (o.CheckpointSteps > 0 && step%o.CheckpointSteps == 0) {
				if err := save(); err != nil {
					finish()
					return out, err
				}
				out.Checkpoint, out.CheckpointStep, ev.Checkpoint = o.Out, step, o.Out
			}
			if o.OnStep != nil {
				if err := o.OnStep(ev); err != nil {
					out.Stopped = true
					finish()
					return out, err
				}
			}
			if step == plan.steps {
				break
			}
		}
	}
	finish()
	return out, nil
}

// sourceMeta is what Train keeps from the input GGUF: its KVs (llama.cpp's
// saver drops general.*, the chat template and others) and its context length
// (llama_opt_init overwrites the model's with the training window's).
type sourceMeta struct {
	kvs     []gguf.KV
	ctxKey  string
	ctxLen  gguf.Value
	blocks  int
	tensors []gguf.TensorInfo
}

func readSourceMeta(path string) (*sourceMeta, error) {
	if err := preflight(path, modelcheck.Model); err != nil {
		return nil, err
	}
	f, err := gguf.Open(path)
	if err != nil {
		return nil, &LoadError{Path: path, Msg: "not a readable GGUF", Invalid: true, Err: err}
	}
	defer f.Close()
	s := &sourceMeta{kvs: append([]gguf.KV(nil), f.KVs...), tensors: append([]gguf.TensorInfo(nil), f.Tensors...)}
	if v, ok := f.Get("general.architecture"); ok {
		if arch, ok := v.V.(string); ok {
			s.ctxKey = arch + ".context_length"
			s.ctxLen, _ = f.Get(s.ctxKey)
			if n, err := f.Uint32(arch + ".block_count"); err == nil {
				s.blocks = int(n)
			}
		}
	}
	return s, nil
}

// anyTrainable reports whether the file has an F32 tensor keep chooses.
func (s *sourceMeta) anyTrainable(keep func(string) bool) bool {
	for _, t := range s.tensors {
		if t.Type == gguf.TypeF32 && Trainable(t.Name, s.blocks) && (keep == nil || keep(t.Name)) {
			return true
		}
	}
	return false
}

// checkpointKVs are the keys written over the saver's: the source's context
// length, the source's keys the saver left out (added by mergeKVs), and extra.
func (s *sourceMeta) checkpointKVs(extra []gguf.KV) func(*gguf.Spec) error {
	return func(spec *gguf.Spec) error {
		// llama.cpp's saver writes every special token id, LLAMA_TOKEN_NULL
		// (-1) for those the vocabulary lacks; its loader reads that back
		// as an out-of-range id, which sattva's model check refuses. Drop
		// the null ids the source did not set.
		src := map[string]bool{}
		for _, kv := range s.kvs {
			src[kv.Key] = true
		}
		kept := spec.KVs[:0]
		for _, kv := range spec.KVs {
			if !src[kv.Key] && isNullTokenID(kv) {
				continue
			}
			kept = append(kept, kv)
		}
		spec.KVs = kept
		have := map[string]int{}
		for i, kv := range spec.KVs {
			have[kv.Key] = i
		}
		set := func(kv gguf.KV) {
			if i, ok := have[kv.Key]; ok {
				spec.KVs[i] = kv
				return
			}
			have[kv.Key] = len(spec.KVs)
			spec.KVs = append(spec.KVs, kv)
		}
		for _, kv := range s.kvs {
			if _, ok := have[kv.Key]; !ok && kv.Key != gguf.KeyAlignment {
				set(kv)
			}
		}
		if s.ctxKey != "" && s.ctxLen.V != nil {
			set(gguf.KV{Key: s.ctxKey, Value: s.ctxLen})
		}
		for _, kv := range extra {
			set(kv)
		}
		return nil
	}
}

// isNullTokenID reports whether kv is a tokenizer.ggml.*_token_id holding
// LLAMA_TOKEN_NULL (-1, or 0xFFFFFFFF as UINT32).
func isNullTokenID(kv gguf.KV) bool {
	if !strings.HasPrefix(kv.Key, "tokenizer.ggml.") || !strings.HasSuffix(kv.Key, "_token_id") {
		return false
	}
	switch v := kv.Value.V.(type) {
	case int32:
		return v == -1
	case uint32:
		return v == math.MaxUint32
	}
	return false
}

// saveCheckpoint writes m's weights to out atomically: llama.cpp's saver
// writes a temporary file in out's folder, which is rewritten with the
// metadata edit into a second temporary file, synced and renamed over out.
func saveCheckpoint(m *Model, out string, edit func(*gguf.Spec) error) error {
	dir := filepath.Dir(out)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(out)+".*.raw")
	if err != nil {
		return err
	}
	tmpName := tmp.Name()
	tmp.Close()
	defer os.Remove(tmpName)
	cpath := C.CString(tmpName)
	defer C.free(unsafe.Pointer(cpath))
	C.llama_model_save_to_file(m.model, cpath)
	if st, err := os.Stat(tmpName); err != nil || st.Size() == 0 {
		return trainErr("llama.cpp wrote no checkpoint to %s", tmpName)
	}
	// A checkpoint is finished even when the caller's context ends now.
	if err := gguf.Rewrite(context.Background(), tmpName, out, edit, gguf.WriteOptions{}); err != nil {
		return fmt.Errorf("llamacpp: train: writing checkpoint %s: %w", out, err)
	}
	return nil
}
