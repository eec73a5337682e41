package refjson_test

import (
	"math"
	"testing"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/fixture"
	"github.com/sattva/sattva/internal/refjson"
)

// TestStories260K checks the reference GGUF against the JSON description
// written by the same converter run: every KV (arrays by Python-JSON sha256)
// and every tensor by sha256 of its bytes.
func TestStories260K(t *testing.T) {
	for _, jsonName := range []string{"convert_hf_to_gguf.f32.json"} {
		ref, err := refjson.Load(fixture.Path(t, "stories260K/ref/"+jsonName))
		if err != nil {
			t.Fatal(err)
		}
		f, err := gguf.Open(fixture.Path(t, "stories260K/ref/stories260K-f32.ref.gguf"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		diffs, err := refjson.Compare(f, ref, refjson.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range diffs {
			t.Error(d)
		}
		if len(ref.Keys) != len(f.KVs) || len(ref.Tensors) != len(f.Tensors) || len(f.Tensors) == 0 {
			t.Errorf("compared %d keys and %d tensors; file has %d and %d", len(ref.Keys), len(ref.Tensors), len(f.KVs), len(f.Tensors))
		}
	}
}

func TestPyFloat(t *testing.T) {
	// Python 3: repr(x) for each x.
	cases := map[float64]string{
		0: "0.0", 1: "1.0", -2.5: "-2.5", 10000: "10000.0", 1e-5: "1e-05",
		float64(float32(1e-5)): "9.999999747378752e-06", 0.0001: "0.0001", 1e16: "1e+16",
		1234567890123456: "1234567890123456.0", 1.5e300: "1.5e+300", 123.456: "123.456",
		math.Inf(1): "Infinity", 5e-324: "5e-324", 0.1: "0.1", 1e22: "1e+22",
	}
	for x, want := range cases {
		if got := string(refjson.PyJSON(gguf.Float64(x))); got != want {
			t.Errorf("PyJSON(%v) = %s, want %s", x, got, want)
		}
	}
	if got := string(refjson.PyJSON(gguf.Strings([]string{"a\"b", "▁é", "\x01\n", "😀"}))); got != `["a\"b", "▁é", "\u0001\n", "😀"]` {
		t.Errorf("PyJSON strings = %s", got)
	}
}
