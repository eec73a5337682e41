package convert

import (
	"encoding/json"
	"fmt"
	"math"
)

// hfObject is one JSON object of a Hugging Face file (config.json,
// generation_config.json, tokenizer_config.json, special_tokens_map.json,
// adapter_config.json). Its readers give a JSON null the meaning transformers
// and PEFT give it when they write one ("pad_token_id": null for a model
// without a pad token): the field is absent, exactly as if the key were
// missing. A value of the wrong type is an *InputError naming the file and
// the field, never a silent zero.
type hfObject struct {
	file   string // the file's path, for errors
	prefix string // the object's path inside the file ("rope_scaling."), for errors
	m      map[string]json.RawMessage
}

// raw returns the key's value unless it is missing or null.
func (o hfObject) raw(key string) (json.RawMessage, bool) {
	r, ok := o.m[key]
	if !ok || isJSONNull(r) {
		return nil, false
	}
	return r, true
}

// has reports whether key holds a value other than null.
func (o hfObject) has(key string) bool {
	_, ok := o.raw(key)
	return ok
}

func (o hfObject) wrong(key string, r json.RawMessage, want string) error {
	return &InputError{File: o.file, Field: o.prefix + key, Msg: fmt.Sprintf("%s is not %s", shortJSON(r), want)}
}

// Int reads an integer in [lo, hi]: a JSON number without a fraction
// (128004 or 128004.0).
func (o hfObject) Int(key string, lo, hi int64) (v int64, ok bool, err error) {
	r, ok := o.raw(key)
	if !ok {
		return 0, false, nil
	}
	var f float64
	if json.Unmarshal(r, &f) != nil || f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
		return 0, false, o.wrong(key, r, fmt.Sprintf("an integer in [%d, %d]", lo, hi))
	}
	return int64(f), true, nil
}

// Float reads a number.
func (o hfObject) Float(key string) (v float64, ok bool, err error) {
	r, ok := o.raw(key)
	if !ok {
		return 0, false, nil
	}
	if json.Unmarshal(r, &v) != nil {
		return 0, false, o.wrong(key, r, "a number")
	}
	return v, true, nil
}

// String reads a string.
func (o hfObject) String(key string) (v string, ok bool, err error) {
	r, ok := o.raw(key)
	if !ok {
		return "", false, nil
	}
	if json.Unmarshal(r, &v) != nil {
		return "", false, o.wrong(key, r, "a string")
	}
	return v, true, nil
}

// Bool reads true or false.
func (o hfObject) Bool(key string) (v bool, ok bool, err error) {
	r, ok := o.raw(key)
	if !ok {
		return false, false, nil
	}
	if json.Unmarshal(r, &v) != nil {
		return false, false, o.wrong(key, r, "true or false")
	}
	return v, true, nil
}

// TokenID reads a *_token_id field. A list of ids (generation_config.json's
// "eos_token_id": [128001, 128008, 128009]) names no single id: it is absent
// for the one-id GGUF key, as in gguf-py's SpecialVocab. A negative id is
// absent too (old configs write -1 for "none").
func (o hfObject) TokenID(key string) (id int64, ok bool, err error) {
	r, ok := o.raw(key)
	if !ok {
		return 0, false, nil
	}
	var list []json.RawMessage
	if json.Unmarshal(r, &list) == nil {
		for i, e := range list {
			var f float64
			if json.Unmarshal(e, &f) != nil || f != math.Trunc(f) {
				return 0, false, o.wrong(fmt.Sprintf("%s[%d]", key, i), e, "a token id")
			}
		}
		return 0, false, nil
	}
	v, ok, err := o.Int(key, math.MinInt32, math.MaxInt32)
	if err != nil || !ok || v < 0 {
		return 0, false, err
	}
	return v, true, nil
}

// Object reads a nested object; a null or missing one is absent.
func (o hfObject) Object(key string) (hfObject, bool, error) {
	r, ok := o.raw(key)
	if !ok {
		return hfObject{}, false, nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(r, &m) != nil {
		return hfObject{}, false, o.wrong(key, r, "a JSON object")
	}
	return hfObject{file: o.file, prefix: o.prefix + key + ".", m: m}, true, nil
}

func isJSONNull(r json.RawMessage) bool {
	for len(r) > 0 && (r[0] == ' ' || r[0] == '\t' || r[0] == '\n' || r[0] == '\r') {
		r = r[1:]
	}
	return len(r) == 0 || string(r) == "null"
}

// shortJSON quotes a JSON value for an error message, cut to 40 bytes.
func shortJSON(r json.RawMessage) string {
	s := string(r)
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return s
}
