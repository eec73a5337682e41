// Package refjson checks a GGUF file against the reference descriptions in
// ../shared/testdata (for example stories260K/ref/convert_hf_to_gguf.f32.json):
// what llama.cpp's own converter wrote, as every metadata key with its value
// (arrays longer than 16 as their length, the sha256 of their JSON and their
// first 8 items) and every tensor (name, ggml type, shape in GGUF order,
// sha256 of its bytes).
//
// The sha256 of an array is that of the UTF-8 bytes of Python's
// json.dumps(list, ensure_ascii=False): ", " between items, non-ASCII text as
// UTF-8, floats as repr of the float64 value. PyJSON reproduces that text; the
// three hashes of stories260K's reference (strings, floats, ints) pin it down.
package refjson

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"

	"github.com/sattva/sattva/gguf"
)

// Ref is one reference file.
type Ref struct {
	Keys    []string                   // metadata keys in the file's order
	KV      map[string]json.RawMessage // each key's JSON value
	Tensors []Tensor                   // in the file's order
}

// Tensor is a reference tensor.
type Tensor struct {
	Name   string   `json:"name"`
	Type   string   `json:"type"`
	Shape  []uint64 `json:"shape"`
	SHA256 string   `json:"sha256"`
}

// Summary is how the reference writes an array of more than SummaryOver items.
type Summary struct {
	Len    int               `json:"len"`
	SHA256 string            `json:"sha256"`
	Head   []json.RawMessage `json:"head"`
}

// SummaryOver is the array length above which the reference summarises.
const SummaryOver = 16

// Load reads a reference JSON file.
func Load(path string) (*Ref, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw struct {
		KV      json.RawMessage `json:"kv"`
		Tensors []Tensor        `json:"tensors"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	r := &Ref{KV: map[string]json.RawMessage{}, Tensors: raw.Tensors}
	// Walk the kv object with a Decoder to keep its key order.
	dec := json.NewDecoder(bytes.NewReader(raw.KV))
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("%s: kv: %w", path, err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%s: kv: %w", path, err)
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%s: kv[%q]: %w", path, key, err)
		}
		r.Keys = append(r.Keys, key)
		r.KV[key] = v
	}
	return r, nil
}

// PyJSON returns v as Python's json.dumps(v, ensure_ascii=False) writes it.
func PyJSON(v gguf.Value) []byte { return appendPy(nil, v) }

func appendPy(b []byte, v gguf.Value) []byte {
	if v.Type == gguf.ValueArray {
		b = append(b, '[')
		for i := range v.Len() {
			if i > 0 {
				b = append(b, ", "...)
			}
			e, _ := v.Index(i)
			b = appendPy(b, e)
		}
		return append(b, ']')
	}
	switch x := v.V.(type) {
	case string:
		return appendPyString(b, x)
	case bool:
		return strconv.AppendBool(b, x)
	case float32:
		return appendPyFloat(b, float64(x))
	case float64:
		return appendPyFloat(b, x)
	case uint8, uint16, uint32, uint64, int8, int16, int32, int64:
		return fmt.Appendf(b, "%d", x)
	}
	return fmt.Appendf(b, "%v", v.V)
}

// ArraySHA256 returns the hex sha256 of PyJSON(v), as the reference gives for long arrays.
func ArraySHA256(v gguf.Value) string {
	h := sha256.Sum256(PyJSON(v))
	return hex.EncodeToString(h[:])
}

// Options tune Compare.
type Options struct {
	// IgnoreKeys are metadata keys compared in neither direction (for
	// example general.name, which names the folder the reference came from).
	IgnoreKeys []string
}

// Compare returns every difference between f and ref, one human-readable line
// each (nil when they agree): missing, extra or unequal keys, key order,
// tensors and their order, types, shapes and content hashes. It reads every
// tensor's bytes. An error means f's data could not be read.
func Compare(f *gguf.File, ref *Ref, o Options) ([]string, error) {
	var diffs []string
	add := func(format string, args ...any) { diffs = append(diffs, fmt.Sprintf(format, args...)) }
	ignored := func(k string) bool { return slices.Contains(o.IgnoreKeys, k) }

	var fileKeys, refKeys []string
	for _, kv := range f.KVs {
		if ignored(kv.Key) {
			continue
		}
		fileKeys = append(fileKeys, kv.Key)
		raw, ok := ref.KV[kv.Key]
		if !ok {
			add("key %s: in the file, not in the reference", kv.Key)
			continue
		}
		if msg := compareValue(kv.Value, raw); msg != "" {
			add("key %s: %s", kv.Key, msg)
		}
	}
	for _, k := range ref.Keys {
		if ignored(k) {
			continue
		}
		refKeys = append(refKeys, k)
		if _, ok := f.Get(k); !ok {
			add("key %s: in the reference, not in the file", k)
		}
	}
	if len(diffs) == 0 && !slices.Equal(fileKeys, refKeys) {
		add("keys in a different order")
	}

	if len(f.Tensors) != len(ref.Tensors) {
		add("%d tensors, reference has %d", len(f.Tensors), len(ref.Tensors))
	}
	for i, rt := range ref.Tensors {
		ti, ok := f.Tensor(rt.Name)
		if !ok {
			add("tensor %s: in the reference, not in the file", rt.Name)
			continue
		}
		if i < len(f.Tensors) && f.Tensors[i].Name != rt.Name {
			add("tensor %d is %s, reference has %s", i, f.Tensors[i].Name, rt.Name)
		}
		if ti.Type.String() != rt.Type {
			add("tensor %s: type %s, reference %s", rt.Name, ti.Type, rt.Type)
		}
		if !slices.Equal(ti.Dims, rt.Shape) {
			add("tensor %s: shape %v, reference %v", rt.Name, ti.Dims, rt.Shape)
		}
		h := sha256.New()
		if _, err := io.Copy(h, f.TensorData(ti)); err != nil {
			return diffs, fmt.Errorf("tensor %s: %w", rt.Name, err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != rt.SHA256 {
			add("tensor %s: sha256 %s, reference %s", rt.Name, got, rt.SHA256)
		}
	}
	for _, ti := range f.Tensors {
		if !slices.ContainsFunc(ref.Tensors, func(t Tensor) bool { return t.Name == ti.Name }) {
			add("tensor %s: in the file, not in the reference", ti.Name)
		}
	}
	return diffs, nil
}

// compareValue compares v with its reference JSON; "" means equal. Numbers
// are compared as text in Python's notation, so an integer where a float is
// expected (or the reverse) is a difference.
func compareValue(v gguf.Value, raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if v.Type == gguf.ValueArray {
		if len(raw) > 0 && raw[0] == '{' {
			var s Summary
			if err := json.Unmarshal(raw, &s); err != nil {
				return fmt.Sprintf("bad reference summary: %v", err)
			}
			if v.Len() != s.Len {
				return fmt.Sprintf("%d items, reference %d", v.Len(), s.Len)
			}
			if got := ArraySHA256(v); got != s.SHA256 {
				return fmt.Sprintf("array sha256 %s, reference %s", got, s.SHA256)
			}
			for i, h := range s.Head {
				e, ok := v.Index(i)
				if !ok {
					return fmt.Sprintf("reference head has item %d, the array has %d", i, v.Len())
				}
				if msg := compareValue(e, h); msg != "" {
					return fmt.Sprintf("item %d: %s", i, msg)
				}
			}
			return ""
		}
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return fmt.Sprintf("array, reference %s", raw)
		}
		if v.Len() != len(items) {
			return fmt.Sprintf("%d items, reference %d", v.Len(), len(items))
		}
		for i, it := range items {
			e, _ := v.Index(i)
			if msg := compareValue(e, it); msg != "" {
				return fmt.Sprintf("item %d: %s", i, msg)
			}
		}
		return ""
	}
	if s, ok := v.V.(string); ok {
		var want string
		if err := json.Unmarshal(raw, &want); err != nil {
			return fmt.Sprintf("string %q, reference %s", s, raw)
		}
		if s != want {
			return fmt.Sprintf("%q, reference %q", s, want)
		}
		return ""
	}
	if got := appendPy(nil, v); !bytes.Equal(got, raw) {
		return fmt.Sprintf("%s %s, reference %s", v.TypeName(), got, raw)
	}
	return ""
}
