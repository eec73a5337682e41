package gguf

import (
	"fmt"
	"strconv"
	"strings"
)

// The general.sampling.* keys: a model's recommended sampler, which
// llama.cpp's tools (llama-cli, llama-server) take as their defaults when the
// user sets none (common_params_sampling). Names and types are gguf-py's
// Keys.General.SAMPLING_* and GGUFWriter.add_sampling_*.
const (
	KeySamplingSequence       = "general.sampling.sequence"        // string, sampler names joined by ';'
	KeySamplingTopK           = "general.sampling.top_k"           // int32
	KeySamplingTopP           = "general.sampling.top_p"           // float32
	KeySamplingMinP           = "general.sampling.min_p"           // float32
	KeySamplingXTCProbability = "general.sampling.xtc_probability" // float32
	KeySamplingXTCThreshold   = "general.sampling.xtc_threshold"   // float32
	KeySamplingTemp           = "general.sampling.temp"            // float32
	KeySamplingPenaltyLastN   = "general.sampling.penalty_last_n"  // int32
	KeySamplingPenaltyRepeat  = "general.sampling.penalty_repeat"  // float32
	KeySamplingMirostat       = "general.sampling.mirostat"        // int32
	KeySamplingMirostatTau    = "general.sampling.mirostat_tau"    // float32
	KeySamplingMirostatEta    = "general.sampling.mirostat_eta"    // float32
)

// Sampling is a model's recommended sampler as the general.sampling.* keys
// hold it. A nil field is absent.
type Sampling struct {
	Sequence       *string
	TopK           *int32
	TopP           *float32
	MinP           *float32
	XTCProbability *float32
	XTCThreshold   *float32
	Temp           *float32
	PenaltyLastN   *int32
	PenaltyRepeat  *float32
	Mirostat       *int32
	MirostatTau    *float32
	MirostatEta    *float32
}

// samplingField is one general.sampling.* key and the Sampling field behind it.
type samplingField struct {
	key string
	str **string
	i32 **int32
	f32 **float32
}

// fields lists s's fields in gguf-py's writing order (Metadata.set_gguf_meta_model).
func (s *Sampling) fields() []samplingField {
	return []samplingField{
		{key: KeySamplingSequence, str: &s.Sequence},
		{key: KeySamplingTopK, i32: &s.TopK},
		{key: KeySamplingTopP, f32: &s.TopP},
		{key: KeySamplingMinP, f32: &s.MinP},
		{key: KeySamplingXTCProbability, f32: &s.XTCProbability},
		{key: KeySamplingXTCThreshold, f32: &s.XTCThreshold},
		{key: KeySamplingTemp, f32: &s.Temp},
		{key: KeySamplingPenaltyLastN, i32: &s.PenaltyLastN},
		{key: KeySamplingPenaltyRepeat, f32: &s.PenaltyRepeat},
		{key: KeySamplingMirostat, i32: &s.Mirostat},
		{key: KeySamplingMirostatTau, f32: &s.MirostatTau},
		{key: KeySamplingMirostatEta, f32: &s.MirostatEta},
	}
}

// KVs returns the keys s holds, in the order llama.cpp's converter writes
// them (just before general.name).
func (s Sampling) KVs() []KV {
	var out []KV
	for _, f := range s.fields() {
		switch {
		case f.str != nil && *f.str != nil:
			out = append(out, KV{Key: f.key, Value: String(**f.str)})
		case f.i32 != nil && *f.i32 != nil:
			out = append(out, KV{Key: f.key, Value: Int32(**f.i32)})
		case f.f32 != nil && *f.f32 != nil:
			out = append(out, KV{Key: f.key, Value: Float32(**f.f32)})
		}
	}
	return out
}

// IsZero reports whether s holds no key.
func (s Sampling) IsZero() bool { return len(s.KVs()) == 0 }

// String lists the keys s holds, "temp 0.6, top_k 40, top_p 0.9"; "" when none.
func (s Sampling) String() string {
	var parts []string
	for _, kv := range s.KVs() {
		name := strings.TrimPrefix(kv.Key, "general.sampling.")
		switch v := kv.Value.V.(type) {
		case string:
			parts = append(parts, name+" "+strconv.Quote(v))
		case float32:
			parts = append(parts, name+" "+strconv.FormatFloat(float64(v), 'g', -1, 32))
		default:
			parts = append(parts, fmt.Sprintf("%s %v", name, v))
		}
	}
	return strings.Join(parts, ", ")
}

// SamplingOf reads the general.sampling.* keys of f. A key of another type
// than gguf-py writes is an error naming it (llama.cpp would read it as text
// and parse what it can); integer keys are also accepted as any integer type
// that fits int32, float keys as float64.
func SamplingOf(f *File) (Sampling, error) {
	var s Sampling
	for _, fl := range s.fields() {
		v, ok := f.Get(fl.key)
		if !ok {
			continue
		}
		bad := func() error {
			return fmt.Errorf("gguf: %s is %s, want %s", fl.key, v.Type, map[bool]string{true: "int32", false: "float32"}[fl.i32 != nil])
		}
		switch {
		case fl.str != nil:
			str, ok := v.V.(string)
			if !ok {
				return s, fmt.Errorf("gguf: %s is %s, want string", fl.key, v.Type)
			}
			*fl.str = &str
		case fl.i32 != nil:
			n, ok := intOf(v)
			if !ok || n < -1<<31 || n > 1<<31-1 {
				return s, bad()
			}
			x := int32(n)
			*fl.i32 = &x
		default:
			var x float32
			switch t := v.V.(type) {
			case float32:
				x = t
			case float64:
				x = float32(t)
			default:
				return s, bad()
			}
			*fl.f32 = &x
		}
	}
	return s, nil
}

// intOf returns an integer value of any width.
func intOf(v Value) (int64, bool) {
	switch t := v.V.(type) {
	case int8:
		return int64(t), true
	case uint8:
		return int64(t), true
	case int16:
		return int64(t), true
	case uint16:
		return int64(t), true
	case int32:
		return int64(t), true
	case uint32:
		return int64(t), true
	case int64:
		return t, true
	case uint64:
		if t > 1<<62 {
			return 0, false
		}
		return int64(t), true
	}
	return 0, false
}
