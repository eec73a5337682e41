package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/fixture"
)

// ggufTestFile writes a small GGUF with a few KVs and two tensors.
func ggufTestFile(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "small.gguf")
	spec := &gguf.Spec{
		KVs: []gguf.KV{
			{Key: "general.architecture", Value: gguf.String("llama")},
			{Key: "tokenizer.ggml.eos_token_id", Value: gguf.Uint32(2)},
			{Key: "tokenizer.chat_template", Value: gguf.String("{{ messages }}")},
			{Key: "tokenizer.ggml.tokens", Value: gguf.Strings([]string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"})},
			{Key: "nan", Value: gguf.Float32s([]float32{1, float32(nan())})},
			{Key: "bytes", Value: gguf.Uint8s([]uint8{1, 2, 3})},
		},
		Tensors: []gguf.WriteTensor{
			{Name: "w", Dims: []uint64{32, 2}, Type: gguf.TypeQ8_0, Data: gguf.BytesData(make([]byte, 68))},
			{Name: "n", Dims: []uint64{4}, Type: gguf.TypeF32, Data: gguf.BytesData(make([]byte, 16))},
		},
	}
	if err := gguf.WriteFile(context.Background(), p, spec, gguf.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	return p
}

func nan() float64 { var z float64; return z / z }

func TestGGUFInspect(t *testing.T) {
	p := ggufTestFile(t, t.TempDir())
	code, out, errOut := runSattva(t, "gguf", "inspect", p)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// Compare lines with their runs of spaces squeezed, so that column
	// widths do not matter.
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	text := strings.Join(lines, "\n")
	for _, want := range []string{
		"format GGUF v3, alignment 32",
		"parameters 68 in 2 tensors, 84 B of tensor data",
		"tokenizer.ggml.eos_token_id UINT32 2\n",
		`tokenizer.ggml.tokens ARRAY[STRING] ["a", "b", "c", "d", "e", "f", "g", "h", … (10 items)]`,
		"\nw Q8_0 [32, 2] 64 68 B\n",
		"\nQ8_0 1 tensors, 64 parameters, 68 B\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// bits per weight: (68 + 16) bytes * 8 / 68 parameters
	if !strings.Contains(out, "9.88 bits per weight") {
		t.Errorf("bits per weight missing:\n%s", out)
	}
}

func TestGGUFInspectJSON(t *testing.T) {
	p := ggufTestFile(t, t.TempDir())
	code, out, errOut := runSattva(t, "gguf", "inspect", "--json", p)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Version        int     `json:"version"`
		ParameterCount int64   `json:"parameter_count"`
		BitsPerWeight  float64 `json:"bits_per_weight"`
		KV             []struct {
			Key      string          `json:"key"`
			Type     string          `json:"type"`
			ElemType string          `json:"elem_type"`
			Len      int             `json:"len"`
			Value    json.RawMessage `json:"value"`
		} `json:"kv"`
		Tensors []struct {
			Name  string   `json:"name"`
			Type  string   `json:"type"`
			Shape []uint64 `json:"shape"`
			Size  int64    `json:"size"`
		} `json:"tensors"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if doc.Version != 3 || doc.ParameterCount != 68 || len(doc.KV) != 6 || len(doc.Tensors) != 2 {
		t.Fatalf("unexpected document: %+v", doc)
	}
	want := map[string]string{
		"tokenizer.ggml.tokens":       `["a","b","c","d","e","f","g","h","i","j"]`, // in full
		"nan":                         `[1,"NaN"]`,
		"bytes":                       `[1,2,3]`, // numbers, not base64
		"tokenizer.ggml.eos_token_id": `2`,
	}
	for _, kv := range doc.KV {
		if w, ok := want[kv.Key]; ok {
			var compact bytes.Buffer
			json.Compact(&compact, kv.Value)
			if compact.String() != w {
				t.Errorf("%s = %s, want %s", kv.Key, compact.String(), w)
			}
		}
	}
	if doc.KV[3].Type != "ARRAY" || doc.KV[3].ElemType != "STRING" || doc.KV[3].Len != 10 {
		t.Errorf("array KV: %+v", doc.KV[3])
	}
	if tt := doc.Tensors[0]; tt.Name != "w" || tt.Type != "Q8_0" || tt.Size != 68 || len(tt.Shape) != 2 {
		t.Errorf("tensor: %+v", tt)
	}
}

func TestGGUFInspectReference(t *testing.T) {
	p := fixture.Path(t, "stories260K/ref/stories260K-f32.ref.gguf")
	code, out, _ := runSattva(t, "gguf", "inspect", p)
	if code != 0 || !strings.Contains(out, "260,032 in 47 tensors") || !strings.Contains(out, "32.00 bits per weight") ||
		!strings.Contains(out, "… (512 items)") || !strings.Contains(out, "[64, 512]") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

func TestGGUFExitCodes(t *testing.T) {
	dir := t.TempDir()
	p := ggufTestFile(t, dir)
	b, _ := os.ReadFile(p)
	corrupt := filepath.Join(dir, "corrupt.gguf")
	os.WriteFile(corrupt, b[:100], 0o644)
	badMagic := filepath.Join(dir, "magic.gguf")
	os.WriteFile(badMagic, append([]byte("GGML"), b[4:]...), 0o644)
	cases := []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"gguf", "inspect", corrupt}, 3, "truncated or corrupt"},
		{[]string{"gguf", "inspect", badMagic}, 3, "bad magic"},
		{[]string{"gguf", "diff", p, corrupt}, 3, "invalid file"},
		{[]string{"gguf", "set", corrupt, "k", "1"}, 3, "invalid file"},
		{[]string{"gguf", "inspect", filepath.Join(dir, "missing.gguf")}, 3, "no such file"},
		{[]string{"gguf", "inspect"}, 2, "accepts 1 arg"},
		{[]string{"gguf", "inspect", "--nope", p}, 2, "unknown flag"},
		{[]string{"gguf", "set", p, "tokenizer.ggml.eos_token_id", "abc"}, 2, "not a UINT32"},
		{[]string{"gguf", "set", p, "tokenizer.ggml.eos_token_id", "4294967296"}, 2, "out of range"},
		{[]string{"gguf", "set", p, "brand.new", "1"}, 2, "--type"},
		{[]string{"gguf", "set", p, "k", "1", "--type", "uint33"}, 2, "unknown value type"},
		{[]string{"gguf", "set", p, "k"}, 2, "missing VALUE"},
	}
	for _, c := range cases {
		code, _, errOut := runSattva(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.err) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, errOut, c.code, c.err)
		}
	}
	if after, _ := os.ReadFile(p); !bytes.Equal(after, b) {
		t.Error("a failed set changed the input file")
	}
}

func TestGGUFSetAndDiff(t *testing.T) {
	dir := t.TempDir()
	p := ggufTestFile(t, dir)
	orig, _ := os.ReadFile(p)
	out := filepath.Join(dir, "out.gguf")

	code, stdout, errOut := runSattva(t, "gguf", "diff", p, p)
	if code != 0 || !strings.Contains(stdout, "2 tensors identical: files are equivalent") {
		t.Fatalf("diff of a file with itself: exit %d\n%s%s", code, stdout, errOut)
	}

	code, stdout, errOut = runSattva(t, "gguf", "set", p, "tokenizer.ggml.eos_token_id", "128009", "-o", out)
	if code != 0 || !strings.Contains(stdout, "UINT32 128009 (was UINT32 2)") {
		t.Fatalf("set: exit %d\n%s%s", code, stdout, errOut)
	}
	if now, _ := os.ReadFile(p); !bytes.Equal(now, orig) {
		t.Fatal("set -o changed the input")
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := f.Uint32("tokenizer.ggml.eos_token_id"); err != nil || v != 128009 {
		t.Errorf("eos = %d, %v", v, err)
	}
	if f.KVs[1].Key != "tokenizer.ggml.eos_token_id" {
		t.Errorf("set moved the key to position %v", f.KVs)
	}
	f.Close()

	code, stdout, _ = runSattva(t, "gguf", "diff", p, out)
	if code != 1 || !strings.Contains(stdout, "~ tokenizer.ggml.eos_token_id: UINT32 2 → UINT32 128009") || !strings.Contains(stdout, "1 keys differ, 0 tensors differ, 2 tensors identical") {
		t.Errorf("diff after set: exit %d\n%s", code, stdout)
	}

	// A chat template from a file, byte for byte, in place.
	tmpl := "{% for m in messages %}<|{{ m.role }}|>\n{{ m.content }}\t{% endfor %}\n"
	tf := filepath.Join(dir, "t.jinja")
	os.WriteFile(tf, []byte(tmpl), 0o644)
	if code, _, errOut := runSattva(t, "gguf", "set", out, "tokenizer.chat_template", "--value-file", tf); code != 0 {
		t.Fatalf("set --value-file: exit %d %s", code, errOut)
	}
	// New typed keys, an array and a negative number after --.
	if code, _, errOut := runSattva(t, "gguf", "set", out, "x.ids", "[1, -2, 3]", "--type", "array[int32]"); code != 0 {
		t.Fatalf("set array: exit %d %s", code, errOut)
	}
	if code, _, errOut := runSattva(t, "gguf", "set", out, "x.neg", "--type", "int64", "--", "-5"); code != 0 {
		t.Fatalf("set negative: exit %d %s", code, errOut)
	}
	f, err = gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if s, _ := f.String("tokenizer.chat_template"); s != tmpl {
		t.Errorf("template = %q", s)
	}
	if v, _ := f.Int32s("x.ids"); len(v) != 3 || v[1] != -2 {
		t.Errorf("x.ids = %v", v)
	}
	if v, err := f.Int64("x.neg"); v != -5 {
		t.Errorf("x.neg = %d, %v", v, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("temporary files left: %v", entries)
	}

	// Tensor content change: same names, types and shapes.
	g, _ := gguf.Open(p)
	spec := g.Spec()
	spec.Tensors[1].Data = gguf.BytesData([]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	changed := filepath.Join(dir, "changed.gguf")
	if err := gguf.WriteFile(context.Background(), changed, spec, gguf.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	g.Close()
	code, stdout, _ = runSattva(t, "gguf", "diff", p, changed)
	if code != 1 || !strings.Contains(stdout, "~ tensor n: content differs") || !strings.Contains(stdout, "1 tensors identical") {
		t.Errorf("diff of changed tensor: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = runSattva(t, "gguf", "diff", "--json", p, changed)
	var d struct {
		Equal   bool `json:"equal"`
		Tensors []struct {
			Name    string `json:"name"`
			SHA256A string `json:"sha256_a"`
			SHA256B string `json:"sha256_b"`
		} `json:"tensors"`
	}
	if err := json.Unmarshal([]byte(stdout), &d); err != nil || code != 1 || d.Equal || len(d.Tensors) != 1 || d.Tensors[0].SHA256A == d.Tensors[0].SHA256B || len(d.Tensors[0].SHA256A) != 64 {
		t.Errorf("diff --json: exit %d, %v\n%s", code, err, stdout)
	}
}

func TestGGUFInspectQuotesHostileNames(t *testing.T) {
	p := filepath.Join(t.TempDir(), "evil.gguf")
	spec := &gguf.Spec{
		KVs:     []gguf.KV{{Key: "evil\x1b[31m\tkey", Value: gguf.String("v\tw")}},
		Tensors: []gguf.WriteTensor{{Name: "t\nx", Dims: []uint64{1}, Type: gguf.TypeF32, Data: gguf.BytesData(make([]byte, 4))}},
	}
	if err := gguf.WriteFile(context.Background(), p, spec, gguf.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runSattva(t, "gguf", "inspect", p)
	if code != 0 || strings.ContainsAny(out, "\x1b\t") || !strings.Contains(out, `"evil\x1b[31m\tkey"`) || !strings.Contains(out, `"t\nx"`) {
		t.Errorf("exit %d:\n%q", code, out)
	}
}

// TestGGUFInspectSampling: the general.sampling.* keys are shown as the
// sampler line and as "sampling" in --json; a key of the wrong type is named.
func TestGGUFInspectSampling(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, kvs ...gguf.KV) string {
		p := filepath.Join(dir, name)
		spec := &gguf.Spec{KVs: append([]gguf.KV{{Key: "general.architecture", Value: gguf.String("llama")}}, kvs...)}
		if err := gguf.WriteFile(context.Background(), p, spec, gguf.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := write("s.gguf",
		gguf.KV{Key: gguf.KeySamplingTopK, Value: gguf.Int32(40)},
		gguf.KV{Key: gguf.KeySamplingTemp, Value: gguf.Float32(0.6)})
	code, out, errOut := runSattva(t, "gguf", "inspect", p)
	if code != 0 || !strings.Contains(strings.Join(strings.Fields(out), " "), "sampler top_k 40, temp 0.6 (general.sampling.*") {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	code, out, _ = runSattva(t, "gguf", "inspect", "--json", p)
	var doc struct {
		Sampling map[string]float64 `json:"sampling"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &doc) != nil || doc.Sampling["top_k"] != 40 || float32(doc.Sampling["temp"]) != 0.6 {
		t.Fatalf("exit %d: %s", code, out)
	}
	bad := write("bad.gguf", gguf.KV{Key: gguf.KeySamplingTemp, Value: gguf.String("hot")})
	code, out, _ = runSattva(t, "gguf", "inspect", bad)
	if code != 0 || !strings.Contains(out, "general.sampling.temp is STRING") {
		t.Errorf("exit %d: %s", code, out)
	}
}
