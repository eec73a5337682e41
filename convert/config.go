package convert

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"slices"
	"strings"
)

// InputError reports an invalid or unsupported input: File is the file's path,
// Field the JSON field or tensor at fault.
type InputError struct {
	File  string
	Field string
	Msg   string
}

func (e *InputError) Error() string {
	s := "convert: " + e.File
	if e.Field != "" {
		s += ": " + e.Field
	}
	return s + ": " + e.Msg
}

// InvalidInput marks the error as "this input is invalid" (exit code 3).
func (e *InputError) InvalidInput() bool { return true }

// ErrUnsupported is wrapped by errors for inputs that are valid but that this
// converter does not handle (another architecture, DoRA adapters, ...).
var ErrUnsupported = errors.New("convert: unsupported input")

// UnsupportedError names what is not supported and why.
type UnsupportedError struct {
	File, Field, Msg string
}

func (e *UnsupportedError) Error() string {
	s := "convert: " + e.File
	if e.Field != "" {
		s += ": " + e.Field
	}
	return s + ": " + e.Msg
}

// Is makes errors.Is(err, ErrUnsupported) true.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

// InvalidInput: an unsupported input is a property of the input (exit code 3).
func (e *UnsupportedError) InvalidInput() bool { return true }

// maxVocab bounds config.json's vocab_size (the token tables are allocated
// from it): 16M tokens, 60x Gemma's.
const maxVocab = 1 << 24

// supportedArchitectures are the config.json architectures this package converts.
var supportedArchitectures = []string{"LlamaForCausalLM", "MistralForCausalLM"}

// RopeScaling is a checkpoint's rope_scaling (transformers 4) or
// rope_parameters (transformers 5) block.
type RopeScaling struct {
	Type            string  // "llama3", "linear", "yarn", ... ("" or "default" for none)
	Factor          float64 // scaling factor
	LowFreqFactor   float64 // llama3
	HighFreqFactor  float64 // llama3
	OriginalContext int64   // original_max_position_embeddings (0 if absent)
	Theta           float64 // rope_theta given inside rope_parameters (0 if absent)
	// YaRN's optional parameters (extrapolation_factor, attention_factor or
	// attn_factor, beta_fast, beta_slow), written by llama.cpp's newest converter.
	YarnExtFactor, YarnAttnFactor, YarnBetaFast, YarnBetaSlow float64
	hasLow, hasHigh                                           bool
	hasFactor, hasTheta                                       bool
	hasYarnExt, hasYarnAttn, hasBetaFast, hasBetaSlow         bool
}

// HParams are the hyperparameters of a Llama-family checkpoint as read from
// config.json.
type HParams struct {
	Architecture  string
	HiddenSize    int64
	Intermediate  int64
	Layers        int64
	Heads         int64
	KVHeads       int64
	HeadDim       int64 // head_dim or hidden/heads
	ContextLength int64 // 0 if absent
	VocabSize     int64 // 0 if absent
	RMSNormEps    float32
	RopeTheta     float64
	TieEmbeddings bool
	Rope          RopeScaling
	NameOrPath    string
	BosTokenID    *int64
	EosTokenID    *int64
	PadTokenID    *int64
	UnkTokenID    *int64
	raw           map[string]json.RawMessage
	file          string
}

// readJSONFile reads name from fsys as a JSON object. A missing file returns
// an error wrapping fs.ErrNotExist; a file that is not a JSON object is an
// *InputError naming it.
func readJSONFile(fsys fs.FS, dir, name string) (map[string]json.RawMessage, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, &InputError{File: joinPath(dir, name), Msg: "not a JSON object: " + err.Error()}
	}
	return m, nil
}

func joinPath(dir, name string) string {
	if dir == "" {
		return name
	}
	return strings.TrimRight(dir, "/") + "/" + name
}

// LoadHParams reads config.json from fsys (dir is used in error messages).
func LoadHParams(fsys fs.FS, dir string) (*HParams, error) {
	raw, err := readJSONFile(fsys, dir, "config.json")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &InputError{File: joinPath(dir, "config.json"), Msg: "missing: a Hugging Face checkpoint folder needs its config.json"}
		}
		return nil, err
	}
	return parseHParams(raw, joinPath(dir, "config.json"))
}

// parseHParams reads the fields of config.json (raw) that the converter
// uses; file names it in errors. The steps run in this order, so a config
// with several faults reports the first of them.
func parseHParams(raw map[string]json.RawMessage, file string) (*HParams, error) {
	r := hparamReader{obj: hfObject{file: file, m: raw}, raw: raw, file: file}
	h := &HParams{raw: raw, file: file}
	arch, err := r.architecture()
	if err != nil {
		return nil, err
	}
	h.Architecture = arch
	if err := r.shape(h); err != nil {
		return nil, err
	}
	eps, ok, err := r.float("rms_norm_eps")
	if err != nil {
		return nil, err
	}
	if !ok {
		eps = 1e-6 // transformers' LlamaConfig default
	}
	h.RMSNormEps = float32(eps)
	theta, hasTheta, err := r.float("rope_theta")
	if err != nil {
		return nil, err
	}
	if h.TieEmbeddings, _, err = r.obj.Bool("tie_word_embeddings"); err != nil {
		return nil, err
	}
	if err := r.rope(h, theta, hasTheta); err != nil {
		return nil, err
	}
	if h.NameOrPath, _, err = r.obj.String("_name_or_path"); err != nil {
		return nil, err
	}
	if err := r.tokenIDs(h); err != nil {
		return nil, err
	}
	return h, nil
}

// hparamReader reads config.json's fields; its errors name the file and the field.
type hparamReader struct {
	obj  hfObject
	raw  map[string]json.RawMessage
	file string
}

func (r hparamReader) bad(field, format string, args ...any) error {
	return &InputError{File: r.file, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// int returns the first of keys present, as a non-negative integer, and
// the key it read; key is "" when none is present.
func (r hparamReader) int(keys ...string) (v int64, key string, err error) {
	for _, k := range keys {
		v, ok, err := r.obj.Int(k, 0, 1<<53)
		if err != nil {
			return 0, k, r.bad(k, "%s is not a non-negative integer", shortJSON(r.raw[k]))
		}
		if ok {
			return v, k, nil
		}
	}
	return 0, "", nil
}

// need sets *dst to the first of keys present; missing or zero is an error
// naming keys[0].
func (r hparamReader) need(dst *int64, keys ...string) error {
	v, k, err := r.int(keys...)
	if err != nil {
		return err
	}
	if k == "" || v == 0 {
		return r.bad(keys[0], "missing or zero")
	}
	*dst = v
	return nil
}

func (r hparamReader) float(key string) (float64, bool, error) {
	f, ok, err := r.obj.Float(key)
	if err != nil {
		return 0, false, r.bad(key, "%s is not a number", shortJSON(r.raw[key]))
	}
	return f, ok, nil
}

// architecture returns the first of config.json's architectures, which
// must be one this package converts. (text_config, of multimodal wrappers,
// is not supported: their architectures say so.)
func (r hparamReader) architecture() (string, error) {
	var archs []string
	raw, ok := r.obj.raw("architectures")
	if !ok {
		return "", r.bad("architectures", "missing")
	}
	if err := json.Unmarshal(raw, &archs); err != nil || len(archs) == 0 {
		return "", r.bad("architectures", "must be a non-empty list of strings")
	}
	if !slices.Contains(supportedArchitectures, archs[0]) {
		return "", &UnsupportedError{File: r.file, Field: "architectures", Msg: fmt.Sprintf("unsupported architecture %q (this converter handles %s)", archs[0], strings.Join(supportedArchitectures, ", "))}
	}
	return archs[0], nil
}

// shape reads the model's sizes: widths, layers, heads, head size, context
// and vocabulary, each checked against the others and a plausible bound.
func (r hparamReader) shape(h *HParams) error {
	if err := r.need(&h.HiddenSize, "hidden_size", "n_embd", "dim"); err != nil {
		return err
	}
	if err := r.need(&h.Intermediate, "intermediate_size", "n_inner", "hidden_dim"); err != nil {
		return err
	}
	if err := r.need(&h.Layers, "num_hidden_layers", "n_layers", "n_layer"); err != nil {
		return err
	}
	if err := r.need(&h.Heads, "num_attention_heads", "n_heads", "n_head"); err != nil {
		return err
	}
	kv, k, err := r.int("num_key_value_heads", "n_kv_heads")
	if err != nil {
		return err
	}
	if k == "" || kv == 0 {
		kv = h.Heads
	}
	h.KVHeads = kv
	if h.Heads%h.KVHeads != 0 {
		return r.bad("num_key_value_heads", "%d does not divide num_attention_heads %d", h.KVHeads, h.Heads)
	}
	hd, k, err := r.int("head_dim")
	if err != nil {
		return err
	}
	if k == "" || hd == 0 {
		if h.HiddenSize%h.Heads != 0 {
			return r.bad("hidden_size", "%d is not a multiple of num_attention_heads %d", h.HiddenSize, h.Heads)
		}
		hd = h.HiddenSize / h.Heads
	}
	if hd%2 != 0 {
		return r.bad("head_dim", "%d is odd; rotary embeddings need an even head size", hd)
	}
	h.HeadDim = hd
	if h.ContextLength, _, err = r.int("max_position_embeddings", "n_ctx", "n_positions", "max_length", "max_sequence_length", "model_max_length"); err != nil {
		return err
	}
	if h.VocabSize, _, err = r.int("vocab_size"); err != nil {
		return err
	}
	if h.VocabSize > maxVocab {
		return r.bad("vocab_size", "%d exceeds the limit of %d tokens", h.VocabSize, maxVocab)
	}
	for _, d := range []struct {
		k string
		v int64
	}{{"hidden_size", h.HiddenSize}, {"intermediate_size", h.Intermediate}, {"num_hidden_layers", h.Layers}, {"num_attention_heads", h.Heads}} {
		if d.v > 1<<20 {
			return r.bad(d.k, "%d is not a plausible size", d.v)
		}
	}
	return nil
}

// rope sets h.Rope and h.RopeTheta from rope_scaling or rope_parameters
// (the first non-default type wins); theta is rope_theta where hasTheta,
// else the scaling's own rope_theta, else 10000.
func (r hparamReader) rope(h *HParams, theta float64, hasTheta bool) error {
	for _, key := range []string{"rope_scaling", "rope_parameters"} {
		raw, has := r.obj.raw(key)
		if !has {
			continue
		}
		rs, err := parseRope(raw, r.file, key)
		if err != nil {
			return err
		}
		if rs.hasTheta && !hasTheta {
			theta, hasTheta = rs.Theta, true
		}
		if h.Rope.Type == "" || h.Rope.Type == "default" {
			h.Rope = rs
		}
	}
	if !hasTheta {
		theta = 10000
	}
	h.RopeTheta = theta
	if h.Rope.OriginalContext == 0 {
		if v, _, err := r.int("original_max_position_embeddings"); err == nil {
			h.Rope.OriginalContext = v
		}
	}
	return nil
}

// tokenIDs reads the special token ids. null, a list (eos_token_id in
// Llama 3.1's config) or a negative id: no id.
func (r hparamReader) tokenIDs(h *HParams) error {
	for _, p := range []struct {
		key string
		dst **int64
	}{{"bos_token_id", &h.BosTokenID}, {"eos_token_id", &h.EosTokenID}, {"pad_token_id", &h.PadTokenID}, {"unk_token_id", &h.UnkTokenID}} {
		v, ok, err := r.obj.TokenID(p.key)
		if err != nil {
			return err
		}
		if ok {
			*p.dst = &v
		}
	}
	return nil
}

func parseRope(r json.RawMessage, file, key string) (RopeScaling, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(r, &m); err != nil {
		return RopeScaling{}, &InputError{File: file, Field: key, Msg: "not a JSON object"}
	}
	o := hfObject{file: file, prefix: key + ".", m: m}
	// transformers 5 may nest per-attention-type parameters.
	if fa, ok, err := o.Object("full_attention"); err != nil {
		return RopeScaling{}, err
	} else if ok {
		o = fa
	}
	var rs RopeScaling
	typ, _, err := o.String("rope_type")
	if err != nil {
		return rs, err
	}
	if typ == "" {
		if typ, _, err = o.String("type"); err != nil {
			return rs, err
		}
	}
	rs.Type = strings.ToLower(typ)
	for _, f := range []struct {
		key string
		dst *float64
		has *bool
	}{
		{"factor", &rs.Factor, &rs.hasFactor},
		{"low_freq_factor", &rs.LowFreqFactor, &rs.hasLow},
		{"high_freq_factor", &rs.HighFreqFactor, &rs.hasHigh},
		{"rope_theta", &rs.Theta, &rs.hasTheta},
		{"extrapolation_factor", &rs.YarnExtFactor, &rs.hasYarnExt},
		{"attention_factor", &rs.YarnAttnFactor, &rs.hasYarnAttn},
		{"beta_fast", &rs.YarnBetaFast, &rs.hasBetaFast},
		{"beta_slow", &rs.YarnBetaSlow, &rs.hasBetaSlow},
	} {
		if *f.dst, *f.has, err = o.Float(f.key); err != nil {
			return rs, err
		}
	}
	if !rs.hasYarnAttn { // the newest converter also reads attn_factor
		if rs.YarnAttnFactor, rs.hasYarnAttn, err = o.Float("attn_factor"); err != nil {
			return rs, err
		}
	}
	if rs.OriginalContext, _, err = o.Int("original_max_position_embeddings", 0, math.MaxUint32); err != nil {
		return rs, err
	}
	switch rs.Type {
	case "", "default", "llama3", "linear", "yarn":
	default:
		return rs, &UnsupportedError{File: file, Field: key + ".rope_type", Msg: fmt.Sprintf("rope scaling %q is not supported (llama3, linear and yarn are)", rs.Type)}
	}
	return rs, nil
}

// ropeFreqs computes llama.cpp's rope_freqs.weight for llama3 rope scaling,
// in float32 step by step as convert_hf_to_gguf.py does with torch.
func (h *HParams) ropeFreqs() []float32 {
	rs := h.Rope
	base := float32(h.RopeTheta)
	dim := h.HeadDim
	factor := 8.0
	if rs.hasFactor {
		factor = rs.Factor
	}
	low := 1.0
	if rs.hasLow {
		low = rs.LowFreqFactor
	}
	high := 4.0
	if rs.hasHigh {
		high = rs.HighFreqFactor
	}
	old := float64(8192)
	if rs.OriginalContext != 0 {
		old = float64(rs.OriginalContext)
	}
	lowWavelen := old / low
	highWavelen := old / high
	out := make([]float32, 0, dim/2)
	for i := int64(0); i < dim; i += 2 {
		e := float32(i) / float32(dim)
		p := float32(math.Pow(float64(base), float64(e)))
		freq := float32(1) / p
		wavelen := float32(2*math.Pi) / freq
		switch {
		case float64(wavelen) < highWavelen:
			out = append(out, 1)
		case float64(wavelen) > lowWavelen:
			out = append(out, float32(factor))
		default:
			smooth := (float32(old)/wavelen - float32(low)) / float32(high-low)
			out = append(out, 1/((1-smooth)/float32(factor)+smooth))
		}
	}
	return out
}
