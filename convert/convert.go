// Package convert turns a Hugging Face Llama-family checkpoint folder
// (config.json, safetensors shards, tokenizer files) into a GGUF file that is
// byte for byte what llama.cpp's convert_hf_to_gguf.py writes, and PEFT LoRA
// adapters into llama.cpp's adapter GGUF (convert_lora_to_gguf.py). It
// streams: memory is bounded by a few chunks of rows per worker, whatever
// the model's size.
package convert

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/sattva/sattva/convert/safetensors"
	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/gguf/modelcheck"
	"github.com/sattva/sattva/internal/slicepool"
)

// Options tune Convert.
type Options struct {
	// OutType is the type of the weight matrices: gguf.TypeF32 (the zero
	// value), TypeF16, TypeBF16 or TypeQ8_0. As in llama.cpp, 1-D tensors,
	// norms and non-".weight" tensors stay F32, and a block type whose block
	// does not divide a row falls back to F16. general.file_type follows
	// from it (gguf.FileTypeOf).
	OutType gguf.Type
	// Threads is the number of tensors converted at once (0: GOMAXPROCS).
	Threads int
	// Progress, if set, receives bytes of the output written and its total.
	Progress func(done, total int64)
	// MergeLoRA adapters are merged into the weights while converting:
	// W + Scale*(alpha/r)*B*A in float32 (alpha/sqrt(r) for rsLoRA).
	MergeLoRA []LoRASpec
	// DryRun plans without writing anything.
	DryRun bool
	// Name overrides general.name (default: from the folder's name).
	Name string
	// Logger receives progress notes (nil: discard).
	Logger *slog.Logger
	// ChunkBytes bounds the float32 working buffer of one tensor worker
	// (default 4 MiB; at least one row is always held).
	ChunkBytes int
	// ExtraKVs are set in the metadata as it is written: a key the converter
	// writes itself is replaced in place, a new one appended (provenance).
	// general.sampling.* keys among them replace the sampler of
	// generation_config.json as a whole.
	ExtraKVs []gguf.KV
	// DefaultKVs are appended after ExtraKVs for each key the file would not
	// have otherwise (a chat template for a tokenizer without one).
	DefaultKVs []gguf.KV
	// Rewrite, if set, receives the GGUF content right before it is written
	// and returns what to write instead (package convquant uses it to
	// quantize in the same pass). Tensor data is still produced lazily.
	Rewrite func(*gguf.Spec) (*gguf.Spec, error)
}

// LoRASpec names an adapter folder to merge and its user scale (0 means 1).
type LoRASpec struct {
	Dir   string
	Scale float64
}

// PlanTensor is one output tensor of a Plan.
type PlanTensor struct {
	Name    string    `json:"name"`
	Source  string    `json:"source,omitempty"` // HF tensor name ("" for generated tensors)
	DType   string    `json:"source_dtype,omitempty"`
	Dims    []uint64  `json:"dims"` // GGUF order
	Type    gguf.Type `json:"-"`
	TypeStr string    `json:"type"`
	Bytes   int64     `json:"bytes"`
	Permute bool      `json:"permute,omitempty"` // Q/K rows permuted for llama.cpp's rope
	Merged  []string  `json:"merged_lora,omitempty"`
	data    io.WriterTo
}

// Plan is what Convert writes (or, with DryRun, would write).
type Plan struct {
	Architecture string       `json:"architecture"`
	OutType      string       `json:"out_type"`
	KVs          []gguf.KV    `json:"-"`
	Tensors      []PlanTensor `json:"tensors"`
	TensorBytes  int64        `json:"tensor_bytes"` // sum of tensor sizes
	FileBytes    int64        `json:"file_bytes"`   // size of the GGUF file (metadata, tensors, padding)
	SourceBytes  int64        `json:"source_bytes"` // bytes of the source tensors read
	Output       string       `json:"output,omitempty"`
	DryRun       bool         `json:"dry_run,omitempty"`
}

// maxRowValues bounds the length of one row (the last dimension): a worker
// holds at least one row in memory. Real checkpoints have rows of at most a
// few hundred thousand values (1-D tensors are one row).
const maxRowValues = 1 << 26

// Convert converts the checkpoint folder hfDir to the GGUF file outPath
// (written atomically) and returns the plan it followed. With o.DryRun it
// only plans. Every input is checked before anything is written.
func Convert(ctx context.Context, hfDir, outPath string, o Options) (*Plan, error) {
	fsys := os.DirFS(hfDir)
	hp, err := LoadHParams(fsys, hfDir)
	if err != nil {
		return nil, err
	}
	model, err := openModel(fsys, hfDir, "model")
	if err != nil {
		return nil, err
	}
	defer model.Close()
	var merges []*adapter
	for _, spec := range o.MergeLoRA {
		if math.IsNaN(spec.Scale) || math.IsInf(spec.Scale, 0) {
			return nil, fmt.Errorf("convert: LoRA %s: scale %v is not a finite number", spec.Dir, spec.Scale)
		}
		a, err := loadAdapter(spec.Dir, hp)
		if err != nil {
			return nil, err
		}
		defer a.close()
		a.userScale = spec.Scale
		if a.userScale == 0 {
			a.userScale = 1
		}
		merges = append(merges, a)
	}
	vocab, err := LoadVocab(fsys, hfDir, hp)
	if err != nil {
		return nil, err
	}
	plan, err := planModel(ctx, hp, model, vocab, merges, hfDir, o)
	if err != nil {
		return nil, err
	}
	if err := plan.sizeFile(); err != nil {
		return nil, err
	}
	if err := checkOutput(plan.spec(), modelcheck.Model); err != nil {
		return nil, err
	}
	if o.DryRun {
		plan.DryRun = true
		return plan, nil
	}
	plan.Output = outPath
	if err := writePlan(ctx, outPath, plan, o.Threads, o.Progress, o.Rewrite, modelcheck.Model); err != nil {
		return nil, err
	}
	return plan, nil
}

// openModel opens the safetensors of a folder, with errors naming the folder.
func openModel(fsys fs.FS, dir, prefix string) (*safetensors.Model, error) {
	m, err := safetensors.OpenDirPrefix(fsys, prefix, safetensors.DefaultLimits())
	if err != nil {
		var fe *safetensors.FormatError
		if errors.As(err, &fe) {
			fe.File = joinPath(dir, fe.File)
			return nil, fe
		}
		if errors.Is(err, fs.ErrNotExist) {
			if bins, _ := fs.Glob(fsys, "pytorch_model*.bin"); len(bins) > 0 {
				return nil, &UnsupportedError{File: joinPath(dir, bins[0]), Msg: "pickled PyTorch checkpoints are not read (loading them can run code); save the model with safe_serialization=True (transformers' default) to get safetensors"}
			}
			return nil, &InputError{File: dir, Field: prefix + "*.safetensors", Msg: err.Error()}
		}
		return nil, fmt.Errorf("convert: %s: %w", dir, err)
	}
	return m, nil
}

// checkOutput runs llama.cpp's rules (package modelcheck) on the file about
// to be written, so that convert never emits a GGUF the engine rejects or
// aborts on. The finding stays a *gguf.FormatError with its Rule (exit 3:
// the checkpoint is at fault).
func checkOutput(s *gguf.Spec, kind modelcheck.Kind) error {
	if err := modelcheck.CheckSpec(s, kind); err != nil {
		return fmt.Errorf("convert: the GGUF this checkpoint makes would not load in llama.cpp: %w", err)
	}
	return nil
}

// spec is the plan as the GGUF writer takes it.
func (plan *Plan) spec() *gguf.Spec {
	spec := &gguf.Spec{KVs: plan.KVs}
	for _, t := range plan.Tensors {
		spec.Tensors = append(spec.Tensors, gguf.WriteTensor{Name: t.Name, Dims: t.Dims, Type: t.Type, Data: t.data})
	}
	return spec
}

// sizeFile fills FileBytes from the writer's layout.
func (plan *Plan) sizeFile() error {
	lay, err := gguf.PlanLayout(plan.spec())
	if err != nil {
		return err
	}
	plan.FileBytes = lay.Size
	return nil
}

func writePlan(ctx context.Context, outPath string, plan *Plan, threads int, progress func(done, total int64), rewrite func(*gguf.Spec) (*gguf.Spec, error), kind modelcheck.Kind) error {
	spec := plan.spec()
	if rewrite != nil {
		var err error
		if spec, err = rewrite(spec); err != nil {
			return err
		}
		if err := checkOutput(spec, kind); err != nil {
			return err
		}
	}
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	return gguf.WriteFile(ctx, outPath, spec, gguf.WriteOptions{Workers: threads, Progress: progress})
}

// chooseType applies llama.cpp's prepare_tensors rules.
func chooseType(name string, nDims int, cols int64, out gguf.Type) gguf.Type {
	t := out
	if nDims <= 1 || strings.HasSuffix(name, "_norm.weight") || !strings.HasSuffix(name, ".weight") {
		t = gguf.TypeF32
	}
	if t.BlockSize() > 1 && cols%int64(t.BlockSize()) != 0 {
		t = gguf.TypeF16 // gguf-py's QuantError fallback
	}
	return t
}

func gdims(shape []int64) []uint64 {
	d := make([]uint64, len(shape))
	for i, s := range shape {
		d[len(shape)-1-i] = uint64(s)
	}
	if len(d) == 0 {
		d = []uint64{1}
	}
	return d
}

// planModel lists the tensors of the GGUF to write, in order, each with the
// job that produces its bytes, and the metadata: the rope frequencies first,
// then the checkpoint's tensors with merges' deltas, then the KVs.
func planModel(ctx context.Context, hp *HParams, model *safetensors.Model, vocab *Vocab, merges []*adapter, dir string, o Options) (*Plan, error) {
	if !o.OutType.Valid() {
		return nil, fmt.Errorf("convert: output type %d is not a ggml type", o.OutType)
	}
	if _, err := encoderFor(o.OutType); err != nil {
		return nil, err
	}
	chunk := o.ChunkBytes
	if chunk <= 0 {
		chunk = 4 << 20
	}
	pb := &planBuilder{
		plan:       &Plan{Architecture: "llama", OutType: o.OutType.String()},
		ctx:        ctx,
		outType:    o.OutType,
		chunkBytes: chunk,
	}

	// Extra tensors come first, as in the reference (generate_extra_tensors).
	if hp.Rope.Type == "llama3" {
		f := hp.ropeFreqs()
		if err := pb.add(PlanTensor{Name: "rope_freqs.weight", Dims: []uint64{uint64(len(f))}}, &tensorJob{gen: f, rows: 1, cols: int64(len(f))}); err != nil {
			return nil, err
		}
	}
	used := map[string]bool{}
	for _, st := range model.Tensors {
		pt, job, err := planSourceTensor(st, hp, merges, used, dir)
		if err != nil {
			return nil, err
		}
		if job == nil {
			continue
		}
		pb.plan.SourceBytes += st.Size
		if err := pb.add(pt, job); err != nil {
			return nil, err
		}
	}
	for _, a := range merges {
		for _, d := range a.sortedDeltas() {
			if !d.used {
				return nil, &InputError{File: a.file, Field: d.peftName, Msg: fmt.Sprintf("targets %q, which the base checkpoint does not have", d.base)}
			}
		}
	}
	kvs, err := modelKVs(hp, vocab, pb.plan.Tensors, dir, o)
	if err != nil {
		return nil, err
	}
	pb.plan.KVs = kvs
	return pb.plan, nil
}

// encoderFor returns the row encoder of output type t.
func encoderFor(t gguf.Type) (RowEncoder, error) {
	if e := builtinEncoder(t); e != nil {
		return e, nil
	}
	return nil, fmt.Errorf("convert: no encoder for output type %s (built in: F32, F16, BF16, Q8_0)", t)
}

// planBuilder appends tensors to a plan, each with its type, size and encoder.
type planBuilder struct {
	plan       *Plan
	ctx        context.Context
	outType    gguf.Type
	chunkBytes int
}

// add chooses pt's type, sizes it, binds job to it and appends it to the plan.
func (pb *planBuilder) add(pt PlanTensor, job *tensorJob) error {
	pt.Type = chooseType(pt.Name, len(pt.Dims), int64(pt.Dims[0]), pb.outType)
	enc, err := encoderFor(pt.Type)
	if err != nil {
		return fmt.Errorf("%w (tensor %s)", err, pt.Name)
	}
	size, err := gguf.TensorSize(pt.Type, pt.Dims)
	if err != nil {
		return fmt.Errorf("convert: tensor %s: %w", pt.Name, err)
	}
	pt.Bytes = size
	pt.TypeStr = pt.Type.String()
	job.enc = enc
	job.outType = pt.Type
	job.ctx = pb.ctx
	job.chunkBytes = pb.chunkBytes
	pt.data = job
	pb.plan.Tensors = append(pb.plan.Tensors, pt)
	pb.plan.TensorBytes += size
	return nil
}

// planSourceTensor maps checkpoint tensor st to its llama.cpp tensor and
// the job that reads, permutes and merges it (marking the deltas of merges
// it takes as used); used holds the llama.cpp names already taken. A
// tensor llama.cpp does not load returns a nil job.
func planSourceTensor(st *safetensors.Tensor, hp *HParams, merges []*adapter, used map[string]bool, dir string) (PlanTensor, *tensorJob, error) {
	name, _, ok, skip := llamaTensorName(st.Name)
	if skip {
		return PlanTensor{}, nil, nil
	}
	file := joinPath(dir, st.FileName())
	if !ok {
		return PlanTensor{}, nil, &UnsupportedError{File: file, Field: fmt.Sprintf("tensor %q", st.Name), Msg: "no llama.cpp tensor corresponds to it (a LlamaForCausalLM checkpoint has embed_tokens, layers.N.{self_attn,mlp,*_layernorm}, norm and lm_head)"}
	}
	if !sourceDTypeOK(st.DType) {
		return PlanTensor{}, nil, &UnsupportedError{File: file, Field: fmt.Sprintf("tensor %q.dtype", st.Name), Msg: fmt.Sprintf("dtype %s is not a floating-point weight this converter reads (F32, F16, BF16, F64)", st.DType)}
	}
	if used[name] {
		return PlanTensor{}, nil, &InputError{File: file, Field: fmt.Sprintf("tensor %q", st.Name), Msg: "maps to " + name + " twice"}
	}
	used[name] = true
	if st.NumElements() == 0 {
		return PlanTensor{}, nil, &InputError{File: file, Field: fmt.Sprintf("tensor %q.shape", st.Name), Msg: fmt.Sprintf("%v holds no values", st.Shape)}
	}
	cols := int64(1)
	rows := int64(1)
	if n := len(st.Shape); n > 0 {
		cols = st.Shape[n-1]
		for _, d := range st.Shape[:n-1] {
			rows *= d
		}
	}
	if cols > maxRowValues {
		return PlanTensor{}, nil, &InputError{File: file, Field: fmt.Sprintf("tensor %q.shape", st.Name), Msg: fmt.Sprintf("rows of %d values exceed the limit of %d (a row is the unit held in memory)", cols, maxRowValues)}
	}
	job := &tensorJob{src: st, rows: rows, cols: cols}
	pt := PlanTensor{Name: name, Source: st.Name, DType: st.DType, Dims: gdims(st.Shape)}
	if nh := permuteHeads(st.Name, hp); nh > 0 {
		if len(st.Shape) == 0 || st.Shape[0]%(2*nh) != 0 {
			return PlanTensor{}, nil, &InputError{File: file, Field: fmt.Sprintf("tensor %q.shape", st.Name), Msg: fmt.Sprintf("%v: rows are not a multiple of 2×%d heads", st.Shape, nh)}
		}
		job.headRows = st.Shape[0] / nh
		pt.Permute = true
	}
	for _, a := range merges {
		d, ok := a.deltas[st.Name]
		if !ok {
			continue
		}
		if d.out != rows || d.in != cols {
			return PlanTensor{}, nil, &InputError{File: a.file, Field: fmt.Sprintf("%s lora_B×lora_A", d.peftName), Msg: fmt.Sprintf("gives %d×%d, but base tensor %q is %d×%d", d.out, d.in, st.Name, rows, cols)}
		}
		d.used = true
		job.deltas = append(job.deltas, d)
		pt.Merged = append(pt.Merged, a.dir)
	}
	return pt, job, nil
}

// modelKVs returns the metadata of the GGUF of tensors: general.*, the
// sampler, the hyperparameters and the vocabulary, with o.ExtraKVs and
// o.DefaultKVs applied.
func modelKVs(hp *HParams, vocab *Vocab, tensors []PlanTensor, dir string, o Options) ([]gguf.KV, error) {
	ft := uint32(gguf.FileTypeOf(o.OutType))
	name := o.Name
	if name == "" {
		name = nameFromDir(dir)
	}
	var params int64
	for _, t := range tensors {
		n := int64(1)
		for _, d := range t.Dims {
			n *= int64(d)
		}
		params += n
	}
	sampling, err := generationSampling(os.DirFS(dir), dir)
	if err != nil {
		return nil, err
	}
	kvs := []gguf.KV{
		{Key: "general.architecture", Value: gguf.String("llama")},
		{Key: "general.type", Value: gguf.String("model")},
	}
	// the recommended sampler, where gguf-py's set_gguf_meta_model puts it;
	// general.sampling.* keys among o.ExtraKVs replace the checkpoint's
	// sampler as a whole (sattva export writes the serving sampler)
	samplingKVs := sampling.KVs()
	if extra := slices.DeleteFunc(slices.Clone(o.ExtraKVs), func(kv gguf.KV) bool {
		return !strings.HasPrefix(kv.Key, "general.sampling.")
	}); len(extra) > 0 {
		samplingKVs = extra
	}
	kvs = append(kvs, samplingKVs...)
	kvs = append(kvs,
		gguf.KV{Key: "general.name", Value: gguf.String(name)},
		gguf.KV{Key: "general.size_label", Value: gguf.String(sizeLabel(params))},
	)
	kvs = append(kvs, hparamKVs(hp, ft)...)
	kvs = append(kvs, gguf.KV{Key: "general.quantization_version", Value: gguf.Uint32(2)})
	kvs = append(kvs, vocab.KVs()...)
	return withExtraKVs(kvs, o.ExtraKVs, o.DefaultKVs), nil
}

// withExtraKVs sets extra in kvs (in place or appended) and appends each of
// defaults whose key is still missing.
func withExtraKVs(kvs, extra, defaults []gguf.KV) []gguf.KV {
	s := gguf.Spec{KVs: kvs}
	for _, kv := range extra {
		s.SetKV(kv.Key, kv.Value)
	}
	for _, kv := range defaults {
		if !slices.ContainsFunc(s.KVs, func(have gguf.KV) bool { return have.Key == kv.Key }) {
			s.KVs = append(s.KVs, kv)
		}
	}
	return s.KVs
}

// hparamKVs are the llama.* keys in convert_hf_to_gguf.py's order, with
// general.file_type where it puts it. The rope-scaling keys stand just before
// llama.rope.freq_base, where the newest converter (TextModel.set_gguf_parameters)
// writes them; the pinned one wrote them last, after llama.rope.dimension_count
// (docs/convert.md).
func hparamKVs(hp *HParams, fileType uint32) []gguf.KV {
	kvs := []gguf.KV{{Key: "llama.block_count", Value: gguf.Uint32(uint32(hp.Layers))}}
	if hp.ContextLength > 0 {
		kvs = append(kvs, gguf.KV{Key: "llama.context_length", Value: gguf.Uint32(uint32(hp.ContextLength))})
	}
	kvs = append(kvs,
		gguf.KV{Key: "llama.embedding_length", Value: gguf.Uint32(uint32(hp.HiddenSize))},
		gguf.KV{Key: "llama.feed_forward_length", Value: gguf.Uint32(uint32(hp.Intermediate))},
		gguf.KV{Key: "llama.attention.head_count", Value: gguf.Uint32(uint32(hp.Heads))},
		gguf.KV{Key: "llama.attention.head_count_kv", Value: gguf.Uint32(uint32(hp.KVHeads))},
	)
	kvs = append(kvs, ropeScalingKVs(hp.Rope)...)
	kvs = append(kvs,
		gguf.KV{Key: "llama.rope.freq_base", Value: gguf.Float32(float32(hp.RopeTheta))},
		gguf.KV{Key: "llama.attention.layer_norm_rms_epsilon", Value: gguf.Float32(hp.RMSNormEps)},
		gguf.KV{Key: "llama.attention.key_length", Value: gguf.Uint32(uint32(hp.HeadDim))},
		gguf.KV{Key: "llama.attention.value_length", Value: gguf.Uint32(uint32(hp.HeadDim))},
		gguf.KV{Key: "general.file_type", Value: gguf.Uint32(fileType)},
	)
	if hp.VocabSize > 0 {
		kvs = append(kvs, gguf.KV{Key: "llama.vocab_size", Value: gguf.Uint32(uint32(hp.VocabSize))})
	}
	kvs = append(kvs, gguf.KV{Key: "llama.rope.dimension_count", Value: gguf.Uint32(uint32(hp.HeadDim))})
	return kvs
}

// ropeScalingKVs are the llama.rope.scaling.* keys of linear and YaRN
// scaling, as the newest converter writes them (llama3 scaling is the
// rope_freqs tensor instead).
func ropeScalingKVs(rs RopeScaling) []gguf.KV {
	if !rs.hasFactor || rs.Type != "linear" && rs.Type != "yarn" {
		return nil
	}
	kvs := []gguf.KV{
		{Key: "llama.rope.scaling.type", Value: gguf.String(rs.Type)},
		{Key: "llama.rope.scaling.factor", Value: gguf.Float32(float32(rs.Factor))},
	}
	if rs.Type != "yarn" {
		return kvs
	}
	if rs.OriginalContext > 0 {
		kvs = append(kvs, gguf.KV{Key: "llama.rope.scaling.original_context_length", Value: gguf.Uint32(uint32(rs.OriginalContext))})
	}
	for _, f := range []struct {
		key string
		v   float64
		has bool
	}{
		{"llama.rope.scaling.yarn_ext_factor", rs.YarnExtFactor, rs.hasYarnExt},
		{"llama.rope.scaling.yarn_attn_factor", rs.YarnAttnFactor, rs.hasYarnAttn},
		{"llama.rope.scaling.yarn_beta_fast", rs.YarnBetaFast, rs.hasBetaFast},
		{"llama.rope.scaling.yarn_beta_slow", rs.YarnBetaSlow, rs.hasBetaSlow},
	} {
		if f.has {
			kvs = append(kvs, gguf.KV{Key: f.key, Value: gguf.Float32(float32(f.v))})
		}
	}
	return kvs
}

// nameFromDir derives general.name from a folder path the way gguf-py's
// metadata heuristics roughly do: words of the base name, capitalised.
func nameFromDir(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	base := filepath.Base(abs)
	if strings.EqualFold(base, "hf") {
		base = filepath.Base(filepath.Dir(abs)) + "-" + base
	}
	words := strings.FieldsFunc(base, func(r rune) bool { return r == '-' || r == '_' || r == ' ' })
	for i, w := range words {
		words[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return strings.Join(words, " ")
}

// sizeLabel is gguf-py's model_weight_count_rounded_notation.
func sizeLabel(n int64) string {
	f := float64(n)
	var scaled float64
	var suffix string
	switch {
	case f > 1e12:
		scaled, suffix = f*1e-12, "T"
	case f > 1e9:
		scaled, suffix = f*1e-9, "B"
	case f > 1e6:
		scaled, suffix = f*1e-6, "M"
	default:
		scaled, suffix = f*1e-3, "K"
	}
	digits := len(fmt.Sprintf("%d", int64(math.RoundToEven(scaled))))
	fix := max(2-digits, 0)
	return fmt.Sprintf("%.*f%s", fix, scaled, suffix)
}

// tensorJob produces one output tensor's bytes, streaming chunks of rows:
// read (pread) → float32 → LoRA deltas → Q/K permutation → encode → write.
type tensorJob struct {
	ctx        context.Context
	src        *safetensors.Tensor
	gen        []float32 // generated values (rope_freqs) when src is nil
	rows, cols int64
	headRows   int64 // >0: permute rows within blocks of headRows
	deltas     []*loraDelta
	enc        RowEncoder
	outType    gguf.Type
	chunkBytes int
}

// bytePool and f32Pool recycle the tensor workers' chunk buffers.
var (
	bytePool slicepool.Pool[byte]
	f32Pool  slicepool.Pool[float32]
)

// WriteTo writes the tensor's encoded bytes to w.
func (j *tensorJob) WriteTo(w io.Writer) (int64, error) {
	group := int64(1)
	if j.headRows > 0 {
		group = j.headRows
	}
	chunkRows := int64(j.chunkBytes) / (4 * j.cols)
	chunkRows -= chunkRows % group
	if chunkRows < group {
		chunkRows = group
	}
	if chunkRows > j.rows {
		chunkRows = j.rows
	}
	rowBytes, err := j.outType.RowSize(j.cols)
	if err != nil {
		return 0, err
	}
	var esize int64
	if j.src != nil {
		es, _ := safetensors.DTypeSize(j.src.DType)
		esize = int64(es)
		if fused := fusedEncoder(j.src.DType, j.outType); fused != nil && len(j.deltas) == 0 {
			return j.writeFused(w, fused, chunkRows, esize, rowBytes)
		}
	}
	vals := f32Pool.Get(int(chunkRows * j.cols))
	defer f32Pool.Put(vals)
	var tmp []float32
	if j.headRows > 0 {
		tmp = f32Pool.Get(int(chunkRows * j.cols))
		defer f32Pool.Put(tmp)
	}
	var raw []byte
	if j.src != nil {
		raw = bytePool.Get(int(chunkRows * j.cols * esize))
		defer bytePool.Put(raw)
	}
	out := bytePool.Get(int(chunkRows * rowBytes))
	defer bytePool.Put(out)
	type ab struct{ a, b []float32 }
	loras := make([]ab, len(j.deltas))
	for i, d := range j.deltas {
		a, err := readFloats(d.a)
		if err != nil {
			return 0, err
		}
		b, err := readFloats(d.b)
		if err != nil {
			return 0, err
		}
		loras[i] = ab{a, b}
	}
	var written int64
	for r := int64(0); r < j.rows; r += chunkRows {
		if err := j.ctx.Err(); err != nil {
			return written, err
		}
		n := min(chunkRows, j.rows-r)
		v := vals[:n*j.cols]
		if j.src != nil {
			rb := raw[:n*j.cols*esize]
			if _, err := j.src.ReadAt(rb, r*j.cols*esize); err != nil {
				return written, err
			}
			if err := decodeRows(v, rb, j.src.DType); err != nil {
				return written, err
			}
		} else {
			copy(v, j.gen[r*j.cols:(r+n)*j.cols])
		}
		for i, d := range j.deltas {
			d.addRows(v, r, n, loras[i].a, loras[i].b)
		}
		if j.headRows > 0 {
			t := tmp[:len(v)]
			permuteRows(t, v, int(j.headRows), int(j.cols))
			v = t
		}
		ob := out[:n*rowBytes]
		if err := j.enc(ob, v, int(j.cols)); err != nil {
			return written, err
		}
		m, err := w.Write(ob)
		written += int64(m)
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// ConvertVocab writes a vocabulary-only GGUF (no tensors) for the tokenizer
// in hfDir: tokenizer.model or tokenizer.json with the usual config files,
// as llama.cpp's --vocab-only conversion does. config.json is optional: the
// llama.* hyperparameters, which a vocab-only load reads but does not use,
// then default to Llama 2 7B's (as llama.cpp's ggml-vocab-*.gguf files carry).
func ConvertVocab(ctx context.Context, hfDir, outPath string) error {
	fsys := os.DirFS(hfDir)
	var hp *HParams
	if _, err := fs.Stat(fsys, "config.json"); err == nil {
		if hp, err = LoadHParams(fsys, hfDir); err != nil {
			return err
		}
	}
	vocab, err := LoadVocab(fsys, hfDir, hp)
	if err != nil {
		return err
	}
	if hp == nil {
		hp = &HParams{Layers: 32, ContextLength: 4096, HiddenSize: 4096, Intermediate: 11008, Heads: 32, KVHeads: 32,
			HeadDim: 128, RMSNormEps: 1e-5, RopeTheta: 10000, VocabSize: int64(len(vocab.Tokens))}
	}
	kvs := []gguf.KV{
		{Key: "general.architecture", Value: gguf.String("llama")},
		{Key: "general.type", Value: gguf.String("model")},
		{Key: "general.name", Value: gguf.String(nameFromDir(hfDir))},
	}
	kvs = append(kvs, hparamKVs(hp, 1)...)
	kvs = append(kvs, gguf.KV{Key: "general.quantization_version", Value: gguf.Uint32(2)})
	kvs = append(kvs, vocab.KVs()...)
	spec := &gguf.Spec{KVs: kvs}
	if err := checkOutput(spec, modelcheck.Vocab); err != nil {
		return err
	}
	return gguf.WriteFile(ctx, outPath, spec, gguf.WriteOptions{})
}

// writeFused is WriteTo for a source read and encoded in one pass over its
// raw bytes (no LoRA deltas): read, permute rows as raw bytes, convert, write.
func (j *tensorJob) writeFused(w io.Writer, fused func(dst, raw []byte), chunkRows, esize, rowBytes int64) (int64, error) {
	rawRow := j.cols * esize
	raw := bytePool.Get(int(chunkRows * rawRow))
	defer bytePool.Put(raw)
	var perm []byte
	if j.headRows > 0 {
		perm = bytePool.Get(int(chunkRows * rawRow))
		defer bytePool.Put(perm)
	}
	out := bytePool.Get(int(chunkRows * rowBytes))
	defer bytePool.Put(out)
	var written int64
	for r := int64(0); r < j.rows; r += chunkRows {
		if err := j.ctx.Err(); err != nil {
			return written, err
		}
		n := min(chunkRows, j.rows-r)
		rb := raw[:n*rawRow]
		if _, err := j.src.ReadAt(rb, r*rawRow); err != nil {
			return written, err
		}
		if j.headRows > 0 {
			p := perm[:len(rb)]
			permuteRowBytes(p, rb, int(j.headRows), int(rawRow))
			rb = p
		}
		ob := out[:n*rowBytes]
		fused(ob, rb)
		m, err := w.Write(ob)
		written += int64(m)
		if err != nil {
			return written, err
		}
	}
	return written, nil
}
