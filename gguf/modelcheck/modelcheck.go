// Package modelcheck checks a parsed GGUF file against what the pinned
// llama.cpp (ec98e2002, vendored by github.com/ollama/ollama v0.24.0) would
// otherwise abort on, read past the end of, or refuse while loading it. It is
// pure Go and runs before any file reaches the engine: llamacpp.Load, LoRA
// adapters, quantize --engine llamacpp and the vocabulary-only loads; convert
// runs it on what it is about to write.
//
// A finding is a *gguf.FormatError (errors.Is(err, gguf.ErrFormat), exit 3 on
// the command line) whose Field names the key or tensor and whose Rule names
// the check. The rules, each with the llama.cpp code it guards:
//
//	file.empty-key          gguf.cpp: GGML_ASSERT(!key.empty()) in gguf_kv
//	file.alignment          ggml-backend.cpp: mmapped tensor data must be 32-byte aligned
//	file.nested-array       gguf.cpp refuses arrays of arrays
//	tensor.name-length      gguf.cpp: names shorter than GGML_MAX_NAME (64)
//	tensor.zero-dim         gguf.cpp: INT64_MAX/ne[i] divides by a zero dimension (SIGFPE)
//	tensor.layout           gguf.cpp: tensor data in file order, each padded to the alignment
//	tensor.type             ggml has no weight kernels for Q8_1, Q8_K, I8…I64, F64
//	key.type                gguf_get_val_* and the loader's get_arr assert the type they read
//	arch.supported          only architectures whose loader sattva checks are let through
//	hparam.range            finite, positive, in range: block_count 1..512, heads, eps, rope
//	hparam.divisible        n_embd % n_head, n_head % n_head_kv, rope dims = head dim
//	hparam.experts          llama-model.cpp's expert-count asserts
//	hparam.rope-scaling     GGML_ASSERT(rope_scaling_type != UNSPECIFIED)
//	vocab.model             tokenizer.ggml.model one of the tokenizers sattva checks
//	vocab.length            scores and token_type as long as tokens (else read past the end)
//	vocab.unique-tokens     GGML_ASSERT(id_to_token.size() == token_to_id.size())
//	vocab.byte-token        SPM byte tokens spelled <0xHH> (token_to_byte's substr)
//	vocab.byte-tokens       SPM byte fallback: all 256 <0xHH> tokens present (unordered_map::at throws)
//	vocab.special-id        special token ids inside the vocabulary
//	vocab.merges            merges an array of strings (gguf_get_arr_str asserts)
//	tensor.missing          a tensor the architecture requires is absent
//	tensor.unexpected       a tensor the architecture does not use
//	tensor.shape            a tensor's shape disagrees with the hyperparameters
//	adapter.keys            general.type, adapter.type strings; adapter.lora.alpha a finite FLOAT32
package modelcheck

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/sattva/sattva/gguf"
)

// Kind says how llama.cpp will read the file.
type Kind int

const (
	// Model is a model loaded with weights (llama_model_load_from_file) or
	// quantized (llama_model_quantize).
	Model Kind = iota
	// Vocab is a model loaded with vocab_only: metadata and tokenizer only.
	Vocab
	// Adapter is a LoRA adapter (llama_adapter_lora_init).
	Adapter
	// Quantize is a file given to llama_model_quantize, which reads the
	// architecture and hyperparameters (load_arch, load_hparams) and then
	// each tensor's data, never the tokenizer nor the tensor shape table.
	Quantize
)

func (k Kind) String() string {
	switch k {
	case Model:
		return "model"
	case Vocab:
		return "vocabulary"
	case Adapter:
		return "LoRA adapter"
	case Quantize:
		return "model to quantize"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// architectures are the values of general.architecture whose loader code
// this package checks. Files of other architectures are refused (rule
// arch.supported): llama.cpp's code for them has asserts no check covers.
var architectures = []string{"llama"}

// Architectures returns the values of general.architecture whose loader
// code this package checks; the slice is the caller's.
func Architectures() []string { return slices.Clone(architectures) }

// maxLayers is LLAMA_MAX_LAYERS, maxExperts LLAMA_MAX_EXPERTS (llama-hparams.h).
const (
	maxLayers  = 512
	maxExperts = 512
	maxName    = 64 // GGML_MAX_NAME
	// tensorAlignment is ggml's TENSOR_ALIGNMENT: mmapped tensor data must start on it.
	tensorAlignment = 32
)

// Check returns the first finding of the rules for kind on f, or nil.
func Check(f *gguf.File, kind Kind) error {
	c := &checker{f: f}
	if err := c.file(); err != nil {
		return err
	}
	if kind == Adapter {
		return c.adapter()
	}
	arch, err := c.str("general.architecture", true)
	if err != nil {
		return err
	}
	if !isSupported(arch) {
		return c.kvErr("general.architecture", "arch.supported",
			"architecture %q is not one sattva checks before loading (%s)", arch, strings.Join(architectures, ", "))
	}
	if err := c.commonKeys(arch); err != nil {
		return err
	}
	if kind == Quantize {
		_, err := c.hparams(arch)
		return err
	}
	nVocab, err := c.vocab()
	if err != nil {
		return err
	}
	if kind == Vocab {
		// vocab_only stops load_hparams before the hyperparameters.
		return nil
	}
	hp, err := c.hparams(arch)
	if err != nil {
		return err
	}
	return c.llamaTensors(hp, nVocab)
}

func isSupported(arch string) bool {
	for _, a := range architectures {
		if a == arch {
			return true
		}
	}
	return false
}

type checker struct{ f *gguf.File }

func (c *checker) kvErr(key, rule, format string, args ...any) error {
	off := c.f.KeyOffset(key)
	if off < 0 {
		off = 0
	}
	return &gguf.FormatError{Offset: off, Field: "kv[" + strconv.Quote(key) + "]", Rule: rule, Msg: fmt.Sprintf(format, args...)}
}

func (c *checker) tensorErr(name, rule, format string, args ...any) error {
	off := c.f.TensorInfoOffset(name)
	if off < 0 {
		off = 0
	}
	return &gguf.FormatError{Offset: off, Field: "tensor[" + strconv.Quote(name) + "]", Rule: rule, Msg: fmt.Sprintf(format, args...)}
}

// file checks what gguf.cpp itself asserts on or mishandles.
func (c *checker) file() error {
	f := c.f
	for _, kv := range f.KVs {
		if kv.Key == "" {
			return c.kvErr("", "file.empty-key", "a key is empty (llama.cpp asserts on it)")
		}
		if kv.Value.Type == gguf.ValueArray && kv.Value.Elem == gguf.ValueArray {
			return c.kvErr(kv.Key, "file.nested-array", "arrays of arrays are refused by llama.cpp")
		}
	}
	if v, ok := f.Get(gguf.KeyAlignment); ok {
		a, isU32 := v.V.(uint32)
		if v.Type != gguf.ValueUint32 || !isU32 {
			return c.kvErr(gguf.KeyAlignment, "key.type", "%s is %s, must be UINT32", gguf.KeyAlignment, v.TypeName())
		}
		if a < tensorAlignment || a&(a-1) != 0 {
			return c.kvErr(gguf.KeyAlignment, "file.alignment", "alignment %d must be a power of two of at least %d (ggml maps tensor data at 32-byte boundaries)", a, tensorAlignment)
		}
	}
	var next uint64
	for _, ti := range f.Tensors {
		if len(ti.Name) >= maxName {
			return c.tensorErr(ti.Name, "tensor.name-length", "name of %d bytes; llama.cpp allows at most %d", len(ti.Name), maxName-1)
		}
		for i, d := range ti.Dims {
			if d == 0 {
				return c.tensorErr(ti.Name, "tensor.zero-dim", "dimension %d is 0 (shape %v); llama.cpp divides by it", i, ti.Dims)
			}
		}
		if ti.Offset != next {
			return c.tensorErr(ti.Name, "tensor.layout", "data at offset %d, llama.cpp expects %d (tensors in file order, each padded to %d bytes)", ti.Offset, next, f.Alignment)
		}
		size := uint64(ti.Size())
		next += (size + f.Alignment - 1) &^ (f.Alignment - 1)
	}
	return nil
}

// str returns the STRING value of key; a missing required key or another
// type is a finding.
func (c *checker) str(key string, required bool) (string, error) {
	v, ok := c.f.Get(key)
	if !ok {
		if required {
			return "", c.kvErr(key, "key.type", "required key is missing")
		}
		return "", nil
	}
	s, isStr := v.V.(string)
	if v.Type != gguf.ValueString || !isStr {
		return "", c.kvErr(key, "key.type", "is %s, must be STRING", v.TypeName())
	}
	return s, nil
}

// u32 returns the UINT32 value of key and whether it is present.
func (c *checker) u32(key string, required bool) (uint32, bool, error) {
	v, ok := c.f.Get(key)
	if !ok {
		if required {
			return 0, false, c.kvErr(key, "key.type", "required key is missing")
		}
		return 0, false, nil
	}
	x, isU := v.V.(uint32)
	if v.Type != gguf.ValueUint32 || !isU {
		return 0, false, c.kvErr(key, "key.type", "is %s, must be UINT32", v.TypeName())
	}
	return x, true, nil
}

// f32 returns the FLOAT32 value of key, finite, and whether it is present.
func (c *checker) f32(key string, required bool) (float32, bool, error) {
	v, ok := c.f.Get(key)
	if !ok {
		if required {
			return 0, false, c.kvErr(key, "key.type", "required key is missing")
		}
		return 0, false, nil
	}
	x, isF := v.V.(float32)
	if v.Type != gguf.ValueFloat32 || !isF {
		return 0, false, c.kvErr(key, "key.type", "is %s, must be FLOAT32", v.TypeName())
	}
	if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
		return 0, false, c.kvErr(key, "hparam.range", "is %v, must be finite", x)
	}
	return x, true, nil
}

func (c *checker) boolean(key string) error {
	v, ok := c.f.Get(key)
	if ok && v.Type != gguf.ValueBool {
		return c.kvErr(key, "key.type", "is %s, must be BOOL", v.TypeName())
	}
	return nil
}

// commonKeys checks the type of every key llama.cpp reads with a typed
// getter that asserts rather than throws.
func (c *checker) commonKeys(arch string) error {
	for _, k := range []string{"general.name", "general.type", "tokenizer.chat_template", "tokenizer.ggml.pre"} {
		if _, err := c.str(k, false); err != nil {
			return err
		}
	}
	for _, k := range []string{"general.file_type", arch + ".vocab_size", "general.quantization_version"} {
		if _, _, err := c.u32(k, false); err != nil {
			return err
		}
	}
	return nil
}

// CheckFile opens the GGUF file at path with gguf.Open (which refuses
// anything but a regular file and every malformed GGUF structure) and runs
// Check on it. Findings and parse errors are *gguf.FormatError.
func CheckFile(path string, kind Kind) error {
	f, err := gguf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return Check(f, kind)
}

// CheckSpec runs Check on the file that writing s would produce, before it
// is written (gguf.ParseSpec): a writer that calls it never emits a file
// llama.cpp rejects.
func CheckSpec(s *gguf.Spec, kind Kind) error {
	f, err := gguf.ParseSpec(s)
	if err != nil {
		return err
	}
	return Check(f, kind)
}
