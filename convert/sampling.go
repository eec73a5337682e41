package convert

import (
	"errors"
	"io/fs"
	"math"

	"github.com/sattva/sattva/gguf"
)

// generationSampling reads the recommended sampler from
// generation_config.json the way llama.cpp's newest converter does
// (gguf-py's Metadata.load): the fields sequence, top_k, top_p, min_p,
// xtc_probability, xtc_threshold, temperature, penalty_last_n,
// penalty_repeat, mirostat, mirostat_tau and mirostat_eta become the
// general.sampling.* key of the same meaning. transformers' own
// repetition_penalty and do_sample are not read (the converter reads neither).
// A null field is absent; a missing or unreadable file gives no keys, as in
// the converter; a field of the wrong type is an *InputError (the converter
// fails on it when it packs the value).
func generationSampling(fsys fs.FS, dir string) (gguf.Sampling, error) {
	var s gguf.Sampling
	raw, err := readJSONFile(fsys, dir, "generation_config.json")
	if err != nil {
		var ie *InputError
		if errors.Is(err, fs.ErrNotExist) || errors.As(err, &ie) {
			return s, nil // gguf-py: "not all models have valid generation_config.json"
		}
		return s, err
	}
	o := hfObject{file: joinPath(dir, "generation_config.json"), m: raw}
	if v, ok, err := o.String("sequence"); err != nil {
		return s, err
	} else if ok {
		s.Sequence = &v
	}
	for _, f := range []struct {
		key string
		dst **int32
	}{{"top_k", &s.TopK}, {"penalty_last_n", &s.PenaltyLastN}, {"mirostat", &s.Mirostat}} {
		v, ok, err := o.Int(f.key, math.MinInt32, math.MaxInt32)
		if err != nil {
			return s, err
		}
		if ok {
			x := int32(v)
			*f.dst = &x
		}
	}
	for _, f := range []struct {
		key string
		dst **float32
	}{
		{"top_p", &s.TopP}, {"min_p", &s.MinP}, {"xtc_probability", &s.XTCProbability},
		{"xtc_threshold", &s.XTCThreshold}, {"temperature", &s.Temp}, {"penalty_repeat", &s.PenaltyRepeat},
		{"mirostat_tau", &s.MirostatTau}, {"mirostat_eta", &s.MirostatEta},
	} {
		v, ok, err := o.Float(f.key)
		if err != nil {
			return s, err
		}
		if ok {
			x := float32(v)
			*f.dst = &x
		}
	}
	return s, nil
}
