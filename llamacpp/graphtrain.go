//go:build cgo

package llamacpp

/*
#include <stdlib.h>
#include "graphtrain.h"
*/
import "C"

import (
	"context"
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"unsafe"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/gguf/modelcheck"
)

// graphModel is a model loaded into sattva's own training graph
// (graphtrain.c). It owns the C object; Close frees it and is idempotent.
type graphModel struct {
	gt      *C.struct_sattva_gt
	n       int // tokens per window
	vocab   int
	device  string
	sizes   map[string]int64 // bytes of each tensor, by name
	trained []string         // in file order
	params  int64
	// frozen are tensors that would train but cannot on this device
	// (frozenOn says why, in frozenWhy).
	frozen    []string
	frozenWhy string
	failed    bool // a step could not allocate or compute the graph
}

// graphHParams reads a Llama's shape from its GGUF.
func graphHParams(f *gguf.File) (C.struct_sattva_gt_hparams, error) {
	var hp C.struct_sattva_gt_hparams
	arch := f.Architecture()
	if arch != "llama" {
		return hp, fmt.Errorf("architecture %q: the graph engine trains llama only", arch)
	}
	u := func(key string, def uint32) (int, error) {
		if _, ok := f.Get(key); !ok && def > 0 {
			return int(def), nil
		}
		v, err := f.Uint32(key)
		if err == nil && (v == 0 || v > 1<<24) {
			err = fmt.Errorf("%s = %d out of range", key, v)
		}
		return int(v), err
	}
	fl := func(key string, def float32) (float32, error) {
		if _, ok := f.Get(key); !ok {
			return def, nil
		}
		return f.Float32(key)
	}
	var err error
	var nEmbd, nLayer, nHead, nHeadKV, nFF, headDim, nRot, nCtx int
	if nEmbd, err = u("llama.embedding_length", 0); err != nil {
		return hp, err
	}
	if nLayer, err = u("llama.block_count", 0); err != nil {
		return hp, err
	}
	if nHead, err = u("llama.attention.head_count", 0); err != nil {
		return hp, err
	}
	if nHeadKV, err = u("llama.attention.head_count_kv", uint32(nHead)); err != nil {
		return hp, err
	}
	if nFF, err = u("llama.feed_forward_length", 0); err != nil {
		return hp, err
	}
	if headDim, err = u("llama.attention.key_length", uint32(nEmbd/nHead)); err != nil {
		return hp, err
	}
	if vl, err := u("llama.attention.value_length", uint32(headDim)); err != nil || vl != headDim {
		return hp, fmt.Errorf("value length %d differs from key length %d (%v)", vl, headDim, err)
	}
	if nRot, err = u("llama.rope.dimension_count", uint32(headDim)); err != nil {
		return hp, err
	}
	if nCtx, err = u("llama.context_length", 2048); err != nil {
		return hp, err
	}
	if t, ok := f.Get("llama.rope.scaling.type"); ok {
		if s, _ := t.V.(string); s != "" && s != "none" && s != "linear" {
			return hp, fmt.Errorf("rope scaling %q: the graph engine knows none and linear", s)
		}
	}
	base, err := fl("llama.rope.freq_base", 10000)
	if err != nil {
		return hp, err
	}
	scale := float32(1)
	if fac, err := fl("llama.rope.scaling.factor", 0); err != nil {
		return hp, err
	} else if fac > 0 {
		scale = 1 / fac
	}
	eps, err := fl("llama.attention.layer_norm_rms_epsilon", 1e-5)
	if err != nil {
		return hp, err
	}
	ti, ok := f.Tensor("token_embd.weight")
	if !ok || len(ti.Dims) != 2 || ti.Dims[1] == 0 || ti.Dims[1] > 1<<24 {
		return hp, fmt.Errorf("no usable token_embd.weight")
	}
	if nHead%nHeadKV != 0 || nRot > headDim {
		return hp, fmt.Errorf("heads %d/%d, rotary dims %d of %d: unsupported", nHead, nHeadKV, nRot, headDim)
	}
	hp.n_vocab = C.int32_t(ti.Dims[1])
	hp.n_embd, hp.n_layer, hp.n_head, hp.n_head_kv = C.int32_t(nEmbd), C.int32_t(nLayer), C.int32_t(nHead), C.int32_t(nHeadKV)
	hp.n_ff, hp.head_dim, hp.n_rot, hp.n_ctx_orig = C.int32_t(nFF), C.int32_t(headDim), C.int32_t(nRot), C.int32_t(nCtx)
	hp.freq_base, hp.freq_scale, hp.norm_eps = C.float(base), C.float(scale), C.float(eps)
	return hp, nil
}

// graphTensors lists f's tensors as sattva_gt_new takes them: names (C
// strings, to free with freeCStrings), four dims each, and bytes by name.
// Every tensor must be F32.
func graphTensors(f *gguf.File) (names []*C.char, dims []int64, sizes map[string]int64, err error) {
	dims = make([]int64, 4*len(f.Tensors))
	sizes = make(map[string]int64, len(f.Tensors))
	for i, ti := range f.Tensors {
		if ti.Type != gguf.TypeF32 {
			return names, nil, nil, fmt.Errorf("%w: %s is %v", ErrNothingToTrain, ti.Name, ti.Type)
		}
		if len(ti.Dims) > 4 {
			return names, nil, nil, trainErr("tensor %s has %d dimensions", ti.Name, len(ti.Dims))
		}
		ne := int64(1)
		for j := range 4 {
			d := int64(1)
			if j < len(ti.Dims) {
				d = int64(ti.Dims[j])
			}
			dims[4*i+j] = d
			ne *= d
		}
		names = append(names, C.CString(ti.Name))
		sizes[ti.Name] = 4 * ne
	}
	return names, dims, sizes, nil
}

func freeCStrings(p []*C.char) {
	for _, s := range p {
		C.free(unsafe.Pointer(s))
	}
}

// graphCheck returns why the graph engine cannot train the GGUF at path in
// windows of n tokens (nil: it can), without loading the weights.
func graphCheck(path string, n int) error {
	f, err := gguf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	hp, err := graphHParams(f)
	if err != nil {
		return err
	}
	names, dims, _, err := graphTensors(f)
	defer freeCStrings(names)
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return ErrNothingToTrain
	}
	var cerr [512]C.char
	if C.sattva_gt_check(&hp, C.int32_t(n), C.int32_t(len(names)), &names[0], (*C.int64_t)(unsafe.Pointer(&dims[0])), &cerr[0], C.size_t(len(cerr))) <= 0 {
		return trainErr("%s", C.GoString(&cerr[0]))
	}
	return nil
}

// cudaDevice names the first CUDA device Train would use with o ("" when
// none is loaded or o.CPUOnly). llama.cpp's llama_opt_epoch aborts there:
// the backward pass of its graphs' views is GGML_OP_ACC with a
// non-contiguous source, which ggml-cuda claims (supports_op) and then
// asserts against (acc.cu: GGML_ASSERT(ggml_is_contiguous(src1))).
func cudaDevice(o *TrainOptions) string {
	if o.CPUOnly {
		return ""
	}
	for _, d := range initEngine("", o.Logger).devices {
		if d.Kind == "GPU" && strings.HasPrefix(d.Name, "CUDA") {
			return d.Name
		}
	}
	return ""
}

// autoEngine chooses the engine of EngineAuto (see TrainOptions.Engine) and
// says why when it is not EngineGraph. On CUDA only the graph engine runs
// (llama-opt aborts there, see cudaDevice), so when the graph engine cannot
// take the model or its sequences there, auto fails and says why.
func autoEngine(o *TrainOptions) (engine, why string, err error) {
	for i, s := range o.Sequences {
		if len(s) > o.Context {
			why = fmt.Sprintf("sequence %d has %d tokens, more than a window of %d", i+1, len(s), o.Context)
			break
		}
	}
	if why == "" {
		if err := graphCheck(o.Model, o.Context); err != nil {
			why = err.Error()
		}
	}
	if why == "" {
		return EngineGraph, "", nil
	}
	if dev := cudaDevice(o); dev != "" {
		return "", "", trainErr("the %s engine cannot train this on %s (%s), and the %s engine %s", EngineGraph, dev, why,
			EngineLlamaOpt, llamaOptCUDA(dev))
	}
	return EngineLlamaOpt, why, nil
}

// cudaGridRows is the most rows ggml-cuda's GET_ROWS_BACK can write: it
// launches one grid row (blockIdx.y) per row of the gradient it writes
// (ggml-cuda/getrows.cu, ggml_cuda_op_get_rows_back), and CUDA's grid y
// dimension stops at 65,535.
const cudaGridRows = 65535

// frozenOn says why the tensor name cannot train on the device dev for a
// vocabulary of vocab tokens ("" when it can): on CUDA the token embedding's
// gradient is GET_ROWS_BACK over every vocabulary row, and with more rows
// than cudaGridRows its launch fails ("invalid argument") and ggml aborts.
// With the embedding tied to the output head (no output.weight) the head
// stays frozen with it.
func frozenOn(dev, name string, vocab int) string {
	if name != "token_embd.weight" || !strings.HasPrefix(dev, "CUDA") || vocab <= cudaGridRows {
		return ""
	}
	return fmt.Sprintf("token_embd.weight stays frozen on %s: its gradient (ggml-cuda's GET_ROWS_BACK) launches one grid row per "+
		"vocabulary entry, and %d entries exceed CUDA's %d; every other tensor trains (train on the CPU with --cpu to train it too)",
		dev, vocab, cudaGridRows)
}

// llamaOptCUDA is why EngineLlamaOpt is refused on the CUDA device dev.
func llamaOptCUDA(dev string) string {
	return fmt.Sprintf("aborts on %s in this llama.cpp (ggml-cuda acc.cu: GGML_ASSERT(ggml_is_contiguous(src1)) in its backward pass): "+
		"train on the CPU (--cpu) or use --trainer fallback", dev)
}

// newGraphModel loads the GGUF at path into a training graph for windows of
// n tokens, marks the tensors keep chooses (nil: all but rope_freqs)
// trainable and builds the graphs.
func newGraphModel(path string, n int, o TrainOptions) (g *graphModel, err error) {
	if err := preflight(path, modelcheck.Model); err != nil {
		return nil, err
	}
	f, err := gguf.Open(path)
	if err != nil {
		return nil, &LoadError{Path: path, Msg: "not a readable GGUF", Invalid: true, Err: err}
	}
	defer f.Close()
	hp, err := graphHParams(f)
	if err != nil {
		return nil, trainErr("%s: %v (use the %s engine)", path, err, EngineLlamaOpt)
	}
	names, dims, sizes, err := graphTensors(f)
	defer freeCStrings(names)
	if err != nil {
		return nil, err
	}
	e := initEngine("", o.Logger)
	gpu := -1
	if !o.CPUOnly {
		ngpu := 0
		for _, d := range e.devices {
			if d.Kind == "GPU" {
				ngpu++
			}
		}
		if ngpu > 0 {
			gpu = min(max(o.MainGPU, 0), ngpu-1)
		}
	}
	threads := o.Threads
	if threads == 0 {
		threads = runtime.NumCPU()
	}
	var cerr [512]C.char
	var pnames **C.char
	var pdims *C.int64_t
	if len(names) > 0 {
		pnames, pdims = &names[0], (*C.int64_t)(unsafe.Pointer(&dims[0]))
	}
	gt := C.sattva_gt_new(&hp, C.int32_t(n), C.int32_t(gpu), C.int32_t(threads), C.int32_t(len(names)), pnames, pdims, &cerr[0], C.size_t(len(cerr)))
	if gt == nil {
		return nil, trainErr("%s", C.GoString(&cerr[0]))
	}
	g = &graphModel{gt: gt, n: n, vocab: int(hp.n_vocab), device: C.GoString(C.sattva_gt_device(gt)), sizes: sizes}
	defer func() {
		if err != nil {
			g.Close()
			g = nil
		}
	}()
	// The weights, in chunks (a Go buffer of 16 MiB at most).
	buf := make([]byte, 16<<20)
	for i, ti := range f.Tensors {
		r := f.TensorData(ti)
		for off := int64(0); off < sizes[ti.Name]; {
			k := min(int64(len(buf)), sizes[ti.Name]-off)
			if _, err := io.ReadFull(r, buf[:k]); err != nil {
				return nil, fmt.Errorf("llamacpp: train: reading %s: %w", ti.Name, err)
			}
			if C.sattva_gt_tensor_set(gt, names[i], unsafe.Pointer(&buf[0]), C.size_t(off), C.size_t(k)) == 0 {
				return nil, trainErr("cannot set tensor %s", ti.Name)
			}
			off += k
		}
		if ti.Name == "rope_freqs.weight" || (o.TrainTensor != nil && !o.TrainTensor(ti.Name)) {
			continue
		}
		if why := frozenOn(g.device, ti.Name, g.vocab); why != "" {
			g.frozen = append(g.frozen, ti.Name)
			g.frozenWhy = why
			continue
		}
		C.sattva_gt_param(gt, names[i])
		g.trained = append(g.trained, ti.Name)
		g.params += sizes[ti.Name] / 4
	}
	if len(g.trained) == 0 {
		return nil, ErrNothingToTrain
	}
	sgd := C.int(0)
	if o.Optimizer == OptimizerSGD {
		sgd = 1
	}
	if C.sattva_gt_build(gt, sgd, &cerr[0], C.size_t(len(cerr))) == 0 {
		return nil, trainErr("%s (use the %s engine)", C.GoString(&cerr[0]), EngineLlamaOpt)
	}
	return g, nil
}

// nodes is the node count of the training graph.
func (g *graphModel) nodes() int { return int(C.sattva_gt_nodes(g.gt)) }

// Close frees the graph and the weights; it is idempotent.
func (g *graphModel) Close() {
	if g != nil && g.gt != nil {
		C.sattva_gt_free(g.gt)
		g.gt = nil
	}
}

// graphWindow is one window's inputs (see sattva_gt_step).
type graphWindow struct {
	tokens, pos, seg, targets []int32
	learn                     []uint8
	tokensUsed, learned       int
}

func newGraphWindow(n int) *graphWindow {
	return &graphWindow{tokens: make([]int32, n), pos: make([]int32, n), seg: make([]int32, n), targets: make([]int32, n), learn: make([]uint8, n)}
}

// fill lays the sequences idx of o out in w: each from position 0, its
// targets the next tokens, learned from the end of its prompt on.
func (w *graphWindow) fill(o *TrainOptions, idx []int) {
	clear(w.tokens)
	clear(w.pos)
	clear(w.learn)
	for i := range w.seg {
		w.seg[i], w.targets[i] = -1, -1
	}
	w.tokensUsed, w.learned = 0, 0
	at := 0
	for k, si := range idx {
		s := o.Sequences[si]
		p := o.promptLen(si)
		for t, tok := range s {
			w.tokens[at+t], w.pos[at+t], w.seg[at+t] = tok, int32(t), int32(k)
			if t+1 < len(s) {
				w.targets[at+t] = s[t+1]
				if t+1 >= p {
					w.learn[at+t] = 1
					w.learned++
				}
			}
		}
		at += len(s)
	}
	w.tokensUsed = at
}

// step computes w and, with train, takes one optimizer step. It returns the
// mean cross-entropy of w's learned positions (NaN if there are none).
func (g *graphModel) step(w *graphWindow, train bool, lr, wd float64) float64 {
	tr := C.int(0)
	if train {
		tr = 1
	}
	l := float64(C.sattva_gt_step(g.gt, (*C.int32_t)(&w.tokens[0]), (*C.int32_t)(&w.pos[0]), (*C.int32_t)(&w.seg[0]),
		(*C.int32_t)(&w.targets[0]), (*C.uint8_t)(&w.learn[0]), tr, C.float(lr), C.float(wd)))
	runtime.KeepAlive(w)
	if l == -2 {
		g.failed = true
	}
	if l < 0 {
		return math.NaN()
	}
	return l
}

// tensorData streams a tensor's bytes out of the backend, 4 MiB at a time.
type tensorData struct {
	g    *graphModel
	name string
	size int64
}

func (t tensorData) WriteTo(w io.Writer) (int64, error) {
	cname := C.CString(t.name)
	defer C.free(unsafe.Pointer(cname))
	buf := make([]byte, min(t.size, 4<<20))
	var n int64
	for n < t.size {
		k := min(int64(len(buf)), t.size-n)
		if C.sattva_gt_tensor_get(t.g.gt, cname, unsafe.Pointer(&buf[0]), C.size_t(n), C.size_t(k)) == 0 {
			return n, trainErr("cannot read tensor %s", t.name)
		}
		m, err := w.Write(buf[:k])
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// save writes the source GGUF src with g's trained tensors and extra keys to
// out atomically (gguf.Rewrite: temporary file, sync, rename).
func (g *graphModel) save(src, out string, extra []gguf.KV) error {
	trained := make(map[string]bool, len(g.trained))
	for _, n := range g.trained {
		trained[n] = true
	}
	edit := func(s *gguf.Spec) error {
		for i := range s.Tensors {
			if name := s.Tensors[i].Name; trained[name] {
				s.Tensors[i].Data = tensorData{g: g, name: name, size: g.sizes[name]}
			}
		}
		for _, kv := range extra {
			s.SetKV(kv.Key, kv.Value)
		}
		return nil
	}
	// A checkpoint is finished even when the caller's context ends now. One
	// writer: the tensors are read out of the backend one after the other.
	if err := gguf.Rewrite(context.Background(), src, out, edit, gguf.WriteOptions{Workers: 1}); err != nil {
		return fmt.Errorf("llamacpp: train: writing checkpoint %s: %w", out, err)
	}
	return nil
}

// trainGraph is Train with EngineGraph.
func trainGraph(ctx context.Context, plan *trainPlan) (*TrainResult, error) {
	o := plan.o
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	g, err := newGraphModel(o.Model, o.Context, o)
	if err != nil {
		return nil, err
	}
	defer g.Close()
	n := 0
	for _, s := range o.Sequences {
		n += len(s)
		for _, t := range s {
			if t < 0 || int(t) >= g.vocab {
				return nil, trainErr("token id %d outside the vocabulary of %d", t, g.vocab)
			}
		}
	}
	out := &TrainResult{Engine: EngineGraph, EngineNote: plan.note, Epochs: o.Epochs, Windows: plan.windows, Context: o.Context, StreamTokens: n,
		TrainableTensors: len(g.trained), TrainableParams: g.params, TrainedTensors: g.trained, Device: g.device,
		FrozenTensors: g.frozen, FrozenWhy: g.frozenWhy}
	w := newGraphWindow(o.Context)
	one := func(pi, step int, lr float64) (float64, error) {
		w.fill(&o, plan.packs[pi])
		loss := g.step(w, true, lr, o.WeightDecay)
		if g.failed {
			return 0, trainErr("step %d: the %s backend could not allocate or compute the training graph (out of memory?)", step, g.device)
		}
		out.Tokens += int64(w.tokensUsed)
		out.LearnedTokens += int64(w.learned)
		return loss, nil
	}
	return stepLoop(ctx, plan, out, one, func() error { return g.save(o.Model, o.Out, o.Metadata) })
}
