package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/sattva/sattva/internal/fixture"
)

// build returns a safetensors file with a hand-written JSON header and data.
func build(header string, data []byte) []byte {
	b := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func parse(b []byte) (*File, error) {
	return NewFile(bytes.NewReader(b), int64(len(b)), "x.safetensors", DefaultLimits())
}

func TestParseGood(t *testing.T) {
	data := make([]byte, 24)
	for i := range data {
		data[i] = byte(i)
	}
	b := build(`{"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[2,2],"data_offsets":[8,24]},"a":{"dtype":"BF16","shape":[4],"data_offsets":[0,8]}}  `, data)
	f, err := parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tensors) != 2 || f.Tensors[0].Name != "a" || f.Tensors[1].Name != "b" {
		t.Fatalf("tensors not sorted by name: %+v", f.Tensors)
	}
	if f.Metadata["format"] != "pt" {
		t.Errorf("metadata = %v", f.Metadata)
	}
	tb, _ := f.Tensor("b")
	got := make([]byte, 16)
	if _, err := tb.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data[8:24]) {
		t.Errorf("b's data = %v", got)
	}
	if tb.NumElements() != 4 {
		t.Errorf("NumElements = %d", tb.NumElements())
	}
}

func TestParseBad(t *testing.T) {
	cases := []struct {
		name, header string
		data         int
		field        string
	}{
		{"not json", `{"a":`, 0, `tensor "a"`},
		{"garbage", `nope`, 0, "header"},
		{"not object", `[1,2]`, 0, "header"},
		{"unknown dtype", `{"a":{"dtype":"F17","shape":[1],"data_offsets":[0,4]}}`, 4, `tensor "a".dtype`},
		{"missing dtype", `{"a":{"shape":[1],"data_offsets":[0,4]}}`, 4, `tensor "a".dtype`},
		{"size mismatch", `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, 8, `tensor "a".data_offsets`},
		{"past end", `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 4, `tensor "a".data_offsets`},
		{"reversed offsets", `{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}`, 4, `tensor "a".data_offsets`},
		{"negative dim", `{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, 4, `tensor "a".shape`},
		{"overflow", `{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}}`, 4, `tensor "a".shape`},
		{"overlap", `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8, `tensor "b".data_offsets`},
		{"duplicate", `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8, `tensor "a"`},
		{"trailing", `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}{}`, 4, "header"},
		{"bad metadata", `{"__metadata__":{"a":1}}`, 0, "__metadata__"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parse(build(c.header, make([]byte, c.data)))
			var fe *FormatError
			if !errors.As(err, &fe) || !errors.Is(err, ErrFormat) {
				t.Fatalf("err = %v, want a *FormatError", err)
			}
			if fe.Field != c.field || fe.File != "x.safetensors" {
				t.Errorf("field = %q file = %q, want %q (%v)", fe.Field, fe.File, c.field, err)
			}
		})
	}
}

func TestHeaderLength(t *testing.T) {
	b := build(`{}`, nil)
	binary.LittleEndian.PutUint64(b, 1<<40)
	_, err := parse(b)
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Field != "header length" {
		t.Fatalf("err = %v", err)
	}
	if _, err := parse([]byte{1, 2}); !errors.Is(err, ErrFormat) {
		t.Fatalf("short file: err = %v", err)
	}
}

func TestLayoutRoundTrip(t *testing.T) {
	specs := []TensorSpec{{"w", "BF16", []int64{3, 2}}, {"n", "F32", []int64{3}}, {"s", "F32", nil}}
	hdr, offs, size, err := Layout(specs, map[string]string{"format": "pt"})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, size)
	copy(buf, hdr)
	for i := range buf[len(hdr):] {
		buf[len(hdr)+i] = byte(i)
	}
	f, err := parse(buf)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range specs {
		tt, ok := f.Tensor(s.Name)
		if !ok || tt.Offset != offs[i] || tt.DType != s.DType || len(tt.Shape) != len(s.Shape) {
			t.Errorf("%s: got %+v, offset want %d", s.Name, tt, offs[i])
		}
	}
	if (len(hdr)-8)%8 != 0 {
		t.Errorf("header not padded to 8: %d", len(hdr))
	}
}

func shard(t *testing.T, specs []TensorSpec) []byte {
	t.Helper()
	hdr, _, size, err := Layout(specs, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, size)
	copy(b, hdr)
	return b
}

func TestOpenDirSharded(t *testing.T) {
	s1 := shard(t, []TensorSpec{{"b", "F32", []int64{2}}, {"a", "F32", []int64{1}}})
	s2 := shard(t, []TensorSpec{{"c", "F16", []int64{4}}})
	idx := `{"metadata":{},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00001-of-00002.safetensors","c":"model-00002-of-00002.safetensors"}}`
	good := fstest.MapFS{
		"model-00001-of-00002.safetensors": {Data: s1},
		"model-00002-of-00002.safetensors": {Data: s2},
		IndexFile:                          {Data: []byte(idx)},
	}
	m, err := OpenDir(good)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tt := range m.Tensors {
		names = append(names, tt.Name)
	}
	if strings.Join(names, ",") != "a,b,c" {
		t.Errorf("order = %v", names)
	}
	m.Close()

	missingShard := fstest.MapFS{"model-00001-of-00002.safetensors": good["model-00001-of-00002.safetensors"], IndexFile: good[IndexFile]}
	_, err = OpenDir(missingShard)
	var fe *FormatError
	if !errors.As(err, &fe) || fe.File != IndexFile || !strings.Contains(fe.Msg, "model-00002-of-00002.safetensors") {
		t.Errorf("missing shard: err = %v", err)
	}

	notInIndex := fstest.MapFS{
		"model-00001-of-00002.safetensors": good["model-00001-of-00002.safetensors"],
		"model-00002-of-00002.safetensors": good["model-00002-of-00002.safetensors"],
		IndexFile:                          {Data: []byte(`{"weight_map":{"a":"model-00001-of-00002.safetensors","c":"model-00002-of-00002.safetensors"}}`)},
	}
	if _, err = OpenDir(notInIndex); !errors.As(err, &fe) || fe.Field != `weight_map["b"]` {
		t.Errorf("tensor missing from index: err = %v", err)
	}

	missingTensor := fstest.MapFS{
		"model-00001-of-00002.safetensors": good["model-00001-of-00002.safetensors"],
		"model-00002-of-00002.safetensors": good["model-00002-of-00002.safetensors"],
		IndexFile:                          {Data: []byte(`{"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00001-of-00002.safetensors","c":"model-00002-of-00002.safetensors","d":"model-00002-of-00002.safetensors"}}`)},
	}
	if _, err = OpenDir(missingTensor); !errors.As(err, &fe) || fe.Field != `tensor "d"` || fe.File != "model-00002-of-00002.safetensors" {
		t.Errorf("tensor missing from shard: err = %v", err)
	}
}

func TestOpenReal(t *testing.T) {
	dir := fixture.Path(t, "llama31-tiny/hf")
	m, err := OpenDir(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	emb, ok := m.Tensor("model.embed_tokens.weight")
	if !ok || emb.DType != "BF16" || emb.Shape[0] != 128256 || emb.Shape[1] != 16 {
		t.Fatalf("embed_tokens = %+v", emb)
	}
	f, err := Open(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tensors) != len(m.Tensors) {
		t.Errorf("Open gives %d tensors, OpenDir %d", len(f.Tensors), len(m.Tensors))
	}
	f.Close()
	f.Close()
}

func TestTruncatedAfterOpen(t *testing.T) {
	b := shard(t, []TensorSpec{{"a", "F32", []int64{4}}})
	f, err := parse(b)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := f.Tensor("a")
	f.r = bytes.NewReader(b[:len(b)-3])
	_, err = a.ReadAt(make([]byte, 16), 0)
	if !errors.Is(err, ErrFormat) {
		t.Fatalf("err = %v", err)
	}
}

// FuzzHeader checks that no header makes the parser panic, and that every
// accepted header describes tensors that lie inside the file.
func FuzzHeader(f *testing.F) {
	f.Add([]byte(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`), 8)
	f.Add([]byte(`{"__metadata__":{"format":"pt"},"w":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,12]}}`), 12)
	f.Add([]byte(`{"a":{"dtype":"F16","shape":[],"data_offsets":[0,2]},"b":{"dtype":"I8","shape":[0],"data_offsets":[2,2]}}`), 2)
	f.Add([]byte(`{}`), 0)
	f.Fuzz(func(t *testing.T, hdr []byte, ndata int) {
		if ndata < 0 || ndata > 1<<16 {
			return
		}
		b := build(string(hdr), make([]byte, ndata))
		file, err := parse(b)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error is not ErrFormat: %v", err)
			}
			return
		}
		for _, tt := range file.Tensors {
			if tt.Offset < file.DataOffset || tt.Offset+tt.Size > int64(len(b)) {
				t.Fatalf("tensor %q outside the file", tt.Name)
			}
			if _, err := tt.ReadAt(make([]byte, tt.Size), 0); err != nil {
				t.Fatalf("read %q: %v", tt.Name, err)
			}
		}
	})
}
