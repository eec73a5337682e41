package synth

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"

	"golang.org/x/sync/errgroup"

	"github.com/sattva/sattva/convert/safetensors"
	"github.com/sattva/sattva/half"
	"github.com/sattva/sattva/internal/atomicfile"
	"github.com/sattva/sattva/internal/slicepool"
)

// Shape is the architecture of a Llama-family checkpoint.
type Shape struct {
	Name          string
	Hidden        int64
	Intermediate  int64
	Layers        int64
	Heads         int64
	KVHeads       int64
	Vocab         int64
	Context       int64
	RopeTheta     float64
	RopeFactor    float64 // llama3 rope scaling factor (0: none)
	TieEmbeddings bool
}

// Tiny is synth's own shape: Llama 3's vocabulary and rope around two
// 16-wide layers, for tests. Real models' shapes are plan's (plan.Preset).
func Tiny() Shape {
	return Shape{Name: "tiny", Hidden: 16, Intermediate: 48, Layers: 2, Heads: 2, KVHeads: 1, Vocab: 128256, Context: 131072, RopeTheta: 500000, RopeFactor: 8}
}

// Mini is the smallest Llama-3.1 shape whose rows every quantized type takes
// (256), for walking the whole export path quickly (scripts/first-hour.sh).
func Mini() Shape {
	return Shape{Name: "mini", Hidden: 256, Intermediate: 512, Layers: 2, Heads: 4, KVHeads: 2, Vocab: 128256, Context: 131072, RopeTheta: 500000, RopeFactor: 8}
}

// Options tune Write.
type Options struct {
	DType     string // "bf16" (default), "f16" or "f32"
	Seed      uint64
	Tokenizer string // folder to copy tokenizer files from ("": a minimal built-in byte-level tokenizer)
	// MaxShardBytes starts a new shard when the next tensor would pass it
	// (default 5 GB, transformers' save_pretrained default).
	MaxShardBytes int64
	Workers       int                     // parallel writers (0: GOMAXPROCS)
	Progress      func(done, total int64) // bytes written
}

// synthTensor is one tensor of the synthetic checkpoint.
type synthTensor struct {
	name  string
	shape []int64
	norm  bool
}

func (s Shape) tensors() []synthTensor {
	hd := s.Hidden / s.Heads
	ts := []synthTensor{{name: "model.embed_tokens.weight", shape: []int64{s.Vocab, s.Hidden}}}
	for l := range s.Layers {
		p := fmt.Sprintf("model.layers.%d.", l)
		ts = append(ts,
			synthTensor{name: p + "self_attn.q_proj.weight", shape: []int64{s.Heads * hd, s.Hidden}},
			synthTensor{name: p + "self_attn.k_proj.weight", shape: []int64{s.KVHeads * hd, s.Hidden}},
			synthTensor{name: p + "self_attn.v_proj.weight", shape: []int64{s.KVHeads * hd, s.Hidden}},
			synthTensor{name: p + "self_attn.o_proj.weight", shape: []int64{s.Hidden, s.Heads * hd}},
			synthTensor{name: p + "mlp.gate_proj.weight", shape: []int64{s.Intermediate, s.Hidden}},
			synthTensor{name: p + "mlp.up_proj.weight", shape: []int64{s.Intermediate, s.Hidden}},
			synthTensor{name: p + "mlp.down_proj.weight", shape: []int64{s.Hidden, s.Intermediate}},
			synthTensor{name: p + "input_layernorm.weight", shape: []int64{s.Hidden}, norm: true},
			synthTensor{name: p + "post_attention_layernorm.weight", shape: []int64{s.Hidden}, norm: true},
		)
	}
	ts = append(ts, synthTensor{name: "model.norm.weight", shape: []int64{s.Hidden}, norm: true})
	if !s.TieEmbeddings {
		ts = append(ts, synthTensor{name: "lm_head.weight", shape: []int64{s.Vocab, s.Hidden}})
	}
	return ts
}

func (s Shape) config(dtype string) map[string]any {
	c := map[string]any{
		"architectures":           []string{"LlamaForCausalLM"},
		"attention_bias":          false,
		"attention_dropout":       0.0,
		"bos_token_id":            s.Vocab - 256,
		"eos_token_id":            s.Vocab - 255,
		"hidden_act":              "silu",
		"hidden_size":             s.Hidden,
		"initializer_range":       0.02,
		"intermediate_size":       s.Intermediate,
		"max_position_embeddings": s.Context,
		"mlp_bias":                false,
		"model_type":              "llama",
		"num_attention_heads":     s.Heads,
		"num_hidden_layers":       s.Layers,
		"num_key_value_heads":     s.KVHeads,
		"pretraining_tp":          1,
		"rms_norm_eps":            1e-05,
		"rope_theta":              s.RopeTheta,
		"tie_word_embeddings":     s.TieEmbeddings,
		"torch_dtype":             map[string]string{"bf16": "bfloat16", "f16": "float16", "f32": "float32"}[dtype],
		"transformers_version":    "4.43.0",
		"use_cache":               true,
		"vocab_size":              s.Vocab,
	}
	if s.RopeFactor > 0 {
		c["rope_scaling"] = map[string]any{"factor": s.RopeFactor, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
			"original_max_position_embeddings": 8192, "rope_type": "llama3"}
	}
	return c
}

// u16Pool and bytePool recycle the shard writers' row buffers.
var (
	u16Pool  slicepool.Pool[uint16]
	bytePool slicepool.Pool[byte]
)

// SplitMix64 is a fast, statistically sound PRNG step.
func SplitMix64(x *uint64) uint64 {
	*x += 0x9e3779b97f4a7c15
	z := *x
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// randomBF16 fills dst with random bfloat16 bit patterns: weights of
// magnitude 2^-12..2^-5 with random sign and mantissa, or for norms values
// in [1, 2).
func randomBF16(dst []uint16, state uint64, norm bool) {
	i := 0
	for i < len(dst) {
		r := SplitMix64(&state)
		for k := 0; k < 4 && i < len(dst); k++ {
			v := uint16(r >> (16 * k))
			if norm {
				dst[i] = 0x3f80 | (v & 0x7f)
			} else {
				exp := uint16(115 + (v>>8)&7)
				dst[i] = (v & 0x8000) | exp<<7 | (v & 0x7f)
			}
			i++
		}
	}
}

// WriteShape writes a random-weight Hugging Face checkpoint of shape s to
// outDir (created if needed): safetensors shards with their index (or one
// model.safetensors when it fits a shard), config.json,
// generation_config.json and tokenizer files. Weights come from a seeded
// PRNG, so the same seed gives the same bytes; tensors are written in chunks
// by parallel workers at precomputed offsets.
func WriteShape(ctx context.Context, s Shape, outDir string, o Options) error {
	if s.Hidden <= 0 || s.Heads <= 0 || s.KVHeads <= 0 || s.Hidden%s.Heads != 0 || s.Heads%s.KVHeads != 0 || s.Vocab <= 0 || s.Layers < 0 || s.Intermediate <= 0 {
		return fmt.Errorf("convert: synth shape %+v is not a valid Llama shape", s)
	}
	dtype := strings.ToLower(o.DType)
	if dtype == "" {
		dtype = "bf16"
	}
	stDType := map[string]string{"bf16": "BF16", "f16": "F16", "f32": "F32"}[dtype]
	if stDType == "" {
		return fmt.Errorf("convert: synth dtype %q: want bf16, f16 or f32", o.DType)
	}
	esize, _ := safetensors.DTypeSize(stDType)
	maxShard := o.MaxShardBytes
	if maxShard <= 0 {
		maxShard = 5_000_000_000
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return err
	}
	shards := planShards(s.tensors(), int64(esize), maxShard)
	w := &shardWriter{outDir: outDir, dtype: stDType, esize: int64(esize), seed: o.Seed, weightMap: map[string]string{}}
	defer w.abort()
	for i, sh := range shards {
		name := "model.safetensors"
		if len(shards) > 1 {
			name = fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, len(shards))
		}
		if err := w.create(name, sh); err != nil {
			return err
		}
	}
	if err := w.fill(ctx, o.Workers, o.Progress); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := w.commit(); err != nil {
		return err
	}
	return writeSidecars(s, outDir, dtype, len(shards) > 1, w.total, w.weightMap, o.Tokenizer)
}

// planShards splits tensors, in state-dict order, into shards of at most
// maxShard bytes (a larger tensor has a shard of its own); esize is the
// bytes of an element.
func planShards(tensors []synthTensor, esize, maxShard int64) [][]synthTensor {
	var shards [][]synthTensor
	var cur []synthTensor
	var curBytes int64
	for _, t := range tensors {
		n := esize
		for _, d := range t.shape {
			n *= d
		}
		if len(cur) > 0 && curBytes+n > maxShard {
			shards = append(shards, cur)
			cur, curBytes = nil, 0
		}
		cur = append(cur, t)
		curBytes += n
	}
	return append(shards, cur)
}

// synthChunk is up to chunkElems elements of one tensor, written at off.
type synthChunk struct {
	f     *atomicfile.File
	off   int64
	n     int64 // elements
	seed  uint64
	norm  bool
	dtype string
}

// chunkElems is the elements a worker generates at a time.
const chunkElems = 1 << 22

// shardWriter creates the safetensors shards of a checkpoint, then fills
// their tensors in parallel. Until commit, its files are temporary; abort
// removes them.
type shardWriter struct {
	outDir    string
	dtype     string // safetensors dtype
	esize     int64
	seed      uint64
	files     []*atomicfile.File
	chunks    []synthChunk
	total     int64             // bytes of every shard
	weightMap map[string]string // tensor → shard file
}

// create lays out shard name holding tensors ts, writes its header and
// plans the chunks of its data.
func (w *shardWriter) create(name string, ts []synthTensor) error {
	specs := make([]safetensors.TensorSpec, len(ts))
	for k, t := range ts {
		specs[k] = safetensors.TensorSpec{Name: t.name, DType: w.dtype, Shape: t.shape}
		w.weightMap[t.name] = name
	}
	hdr, offs, size, err := safetensors.Layout(specs, map[string]string{"format": "pt"})
	if err != nil {
		return err
	}
	f, err := atomicfile.Create(filepath.Join(w.outDir, name), 0o644)
	if err != nil {
		return err
	}
	w.files = append(w.files, f)
	if err := f.Truncate(size); err != nil {
		return err
	}
	if _, err := f.WriteAt(hdr, 0); err != nil {
		return err
	}
	w.total += size
	for k, t := range ts {
		n := int64(1)
		for _, d := range t.shape {
			n *= d
		}
		h := fnv.New64a()
		fmt.Fprintf(h, "%d/%s", w.seed, t.name)
		base := h.Sum64()
		for c := int64(0); c*chunkElems < n; c++ {
			m := min(int64(chunkElems), n-c*chunkElems)
			w.chunks = append(w.chunks, synthChunk{f: f, off: offs[k] + c*chunkElems*w.esize, n: m, seed: base + uint64(c)*0x632be59bd9b4e019, norm: t.norm, dtype: w.dtype})
		}
	}
	return nil
}

// fill generates and writes every chunk with workers goroutines
// (GOMAXPROCS when 0), reporting bytes written to progress.
func (w *shardWriter) fill(ctx context.Context, workers int, progress func(done, total int64)) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var done atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(workers)
	for _, c := range w.chunks {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			buf := c.encode()
			defer bytePool.Put(buf)
			if _, err := c.f.WriteAt(buf, c.off); err != nil {
				return err
			}
			if progress != nil {
				progress(done.Add(int64(len(buf))), w.total)
			}
			return nil
		})
	}
	return g.Wait()
}

// encode generates c's random values and returns them in c's dtype, in a
// buffer of bytePool.
func (c synthChunk) encode() []byte {
	bf := u16Pool.Get(int(c.n))
	defer u16Pool.Put(bf)
	randomBF16(bf, c.seed, c.norm)
	var buf []byte
	switch c.dtype {
	case "BF16":
		buf = bytePool.Get(int(2 * c.n))
		for i, v := range bf {
			buf[2*i], buf[2*i+1] = byte(v), byte(v>>8)
		}
	case "F16":
		buf = bytePool.Get(int(2 * c.n))
		for i, v := range bf {
			binary.LittleEndian.PutUint16(buf[2*i:], half.FromFloat32Numpy(half.BF16ToFloat32(v)))
		}
	default:
		buf = bytePool.Get(int(4 * c.n))
		for i, v := range bf {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(half.BF16ToFloat32(v)))
		}
	}
	return buf
}

// commit moves every shard to its final name.
func (w *shardWriter) commit() error {
	for _, f := range w.files {
		if err := f.Commit(); err != nil {
			return err
		}
	}
	w.files = nil
	return nil
}

// abort removes the shards not committed.
func (w *shardWriter) abort() {
	for _, f := range w.files {
		f.Abort()
	}
}

// writeSidecars writes the files beside the shards: the index when sharded
// (or removes a stale one), config.json, generation_config.json and the
// tokenizer (copied from tokenizer, or a minimal one when "").
func writeSidecars(s Shape, outDir, dtype string, sharded bool, total int64, weightMap map[string]string, tokenizer string) error {
	writeJSON := func(name string, v any) error {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		return atomicfile.WriteFile(filepath.Join(outDir, name), append(b, '\n'), 0o644)
	}
	if sharded {
		if err := writeJSON(safetensors.IndexFile, map[string]any{"metadata": map[string]any{"total_size": total}, "weight_map": weightMap}); err != nil {
			return err
		}
	} else {
		os.Remove(filepath.Join(outDir, safetensors.IndexFile))
	}
	if err := writeJSON("config.json", s.config(dtype)); err != nil {
		return err
	}
	if err := writeJSON("generation_config.json", map[string]any{"bos_token_id": s.Vocab - 256, "eos_token_id": []int64{s.Vocab - 255, s.Vocab - 248, s.Vocab - 247}, "do_sample": true, "temperature": 0.6, "top_p": 0.9}); err != nil {
		return err
	}
	if tokenizer != "" {
		return copyTokenizer(tokenizer, outDir)
	}
	return writeMinimalTokenizer(outDir, s.Vocab)
}

// tokenizerFiles are the files copied from a tokenizer folder.
var tokenizerFiles = []string{"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model", "added_tokens.json", "chat_template.jinja"}

func copyTokenizer(src, dst string) error {
	found := false
	for _, n := range tokenizerFiles {
		b, err := os.ReadFile(filepath.Join(src, n))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		found = true
		if err := atomicfile.WriteFile(filepath.Join(dst, n), b, 0o644); err != nil {
			return err
		}
	}
	if !found {
		return &NoTokenizerError{Dir: src}
	}
	return nil
}

// byteLevelAlphabet is GPT-2's bytes_to_unicode: the token text of each byte.
func byteLevelAlphabet() []string {
	var bs []int
	for b := '!'; b <= '~'; b++ {
		bs = append(bs, int(b))
	}
	for b := 0xa1; b <= 0xac; b++ {
		bs = append(bs, b)
	}
	for b := 0xae; b <= 0xff; b++ {
		bs = append(bs, b)
	}
	out := make([]string, 256)
	n := 0
	for b := range 256 {
		if slices.Contains(bs, b) {
			out[b] = string(rune(b))
		} else {
			out[b] = string(rune(256 + n))
			n++
		}
	}
	return out
}

// writeMinimalTokenizer writes a Llama 3-style byte-level BPE tokenizer with
// only the 256 byte tokens (no merges) and Llama 3's 256 special tokens in
// the last 256 ids (128000..128255 for Llama 3's vocab): enough for llama.cpp
// to load and tokenize any text.
func writeMinimalTokenizer(dir string, vocabSize int64) error {
	if vocabSize < 512 {
		return fmt.Errorf("convert: the built-in tokenizer needs a vocab of at least 512, not %d", vocabSize)
	}
	first := int(vocabSize) - 256
	vocab := map[string]int{}
	for b, s := range byteLevelAlphabet() {
		vocab[s] = b
	}
	var added []map[string]any
	special := map[int]string{0: "<|begin_of_text|>", 1: "<|end_of_text|>", 6: "<|start_header_id|>", 7: "<|end_header_id|>", 9: "<|eot_id|>", 8: "<|eom_id|>", 10: "<|python_tag|>", 5: "<|finetune_right_pad_id|>"}
	r := 0
	for i := range 256 {
		name, ok := special[i]
		if !ok {
			name = fmt.Sprintf("<|reserved_special_token_%d|>", r)
			r++
		}
		added = append(added, map[string]any{"id": first + i, "content": name, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true})
	}
	tj := map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil, "added_tokens": added, "normalizer": nil,
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]any{"Regex": `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`}, "behavior": "Isolated", "invert": false},
			map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
		}},
		"post_processor": map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
		"decoder":        map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil, "end_of_word_suffix": nil,
			"fuse_unk": false, "byte_fallback": false, "ignore_merges": true, "vocab": vocab, "merges": []string{}},
	}
	b, err := json.Marshal(tj)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "tokenizer.json"), b, 0o644); err != nil {
		return err
	}
	tc := map[string]any{"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 131072}
	b, _ = json.MarshalIndent(tc, "", "  ")
	return atomicfile.WriteFile(filepath.Join(dir, "tokenizer_config.json"), b, 0o644)
}

// NoTokenizerError is returned when Options.Tokenizer names a folder
// without tokenizer.json or tokenizer.model.
type NoTokenizerError struct{ Dir string }

func (e *NoTokenizerError) Error() string {
	return "synth: " + e.Dir + ": no tokenizer files (tokenizer.json or tokenizer.model)"
}

// InvalidInput marks the error as "this input is invalid" (exit code 3).
func (e *NoTokenizerError) InvalidInput() bool { return true }
