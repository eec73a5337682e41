package quantize_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"testing"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/fixture"
	"github.com/sattva/sattva/quantize"
)

type refTensor struct {
	Name   string   `json:"name"`
	Type   string   `json:"type"`
	Shape  []uint64 `json:"shape"`
	SHA256 string   `json:"sha256"`
}

// TestQ8_0MatchesConvertRef quantizes the F32 tensors of llama.cpp's own
// conversion of stories260K and compares every tensor with the hashes that
// convert_hf_to_gguf.py --outtype q8_0 produced (Q8_0 where rows allow it,
// F16 for rows of 172, F32 for norms). gguf-py's numpy Q8_0 is ggml's
// quantize_row_q8_0_ref operation for operation (its np_roundf,
// floor(a) + floor(2*(a - floor(a))), is exactly roundf), so one Go Q8_0
// serves both `convert --outtype q8_0` and `quantize … Q8_0`.
func TestQ8_0MatchesConvertRef(t *testing.T) {
	f, err := gguf.Open(fixture.Path(t, "stories260K/ref/stories260K-f32.ref.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	raw, err := os.ReadFile(fixture.Path(t, "stories260K/ref/convert_hf_to_gguf.q8_0.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct{ Tensors []refTensor }
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	nq8 := 0
	for _, rt := range ref.Tensors {
		ti, ok := f.Tensor(rt.Name)
		if !ok {
			t.Fatalf("tensor %s missing from the F32 GGUF", rt.Name)
		}
		b, err := io.ReadAll(f.TensorData(ti))
		if err != nil {
			t.Fatal(err)
		}
		x := make([]float32, ti.NumElements())
		if err := quantize.DequantizeRows(gguf.TypeF32, x, b); err != nil {
			t.Fatal(err)
		}
		typ, err := gguf.ParseType(rt.Type)
		if err != nil {
			t.Fatal(err)
		}
		rs, err := quantize.RowSize(typ, int(ti.Dims[0]))
		if err != nil {
			t.Fatal(err)
		}
		out := make([]byte, rs*len(x)/int(ti.Dims[0]))
		if err := quantize.QuantizeRows(typ, out, x, int(ti.Dims[0]), nil); err != nil {
			t.Fatal(err)
		}
		if h := sha256.Sum256(out); hex.EncodeToString(h[:]) != rt.SHA256 {
			t.Errorf("%s (%s): ggml-rounding bytes differ from convert_hf_to_gguf's", rt.Name, rt.Type)
		}
		if typ == gguf.TypeQ8_0 {
			nq8++
		}
	}
	if nq8 == 0 {
		t.Fatal("no Q8_0 tensor in the reference")
	}
}
