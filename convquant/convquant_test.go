package quantize_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/sattva/sattva/convert"
	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/fixture"
	"github.com/sattva/sattva/quantize"
)

// TestConvertHFOnePassEqualsTwoSteps: one-pass HF → Q4_K_M (and Q5_K_M,
// Q6_K) equals HF → F16 (convert) then F16 → Q4_K_M (QuantizeFile), byte for
// byte, on stories260K's HF checkpoint; --from-source is marked in the
// metadata. (llama31-tiny's 16-wide rows cannot be k-quantized at all.)
func TestConvertHFOnePassEqualsTwoSteps(t *testing.T) {
	hf := fixture.Path(t, "stories260K/hf")
	twoStep(t, hf, t.TempDir(), []string{"Q4_K_M", "Q5_K_M", "Q6_K"})
}

func twoStep(t *testing.T, hf, dir string, fts []string) {
	t.Helper()
	f16 := filepath.Join(dir, "f16.gguf")
	if _, err := convert.Convert(t.Context(), hf, f16, convert.Options{OutType: gguf.TypeF16}); err != nil {
		t.Fatal(err)
	}
	for _, name := range fts {
		ft, _ := quantize.ParseFileType(name)
		a := filepath.Join(dir, name+".two.gguf")
		b := filepath.Join(dir, name+".one.gguf")
		c := filepath.Join(dir, name+".src.gguf")
		if _, err := quantize.QuantizeFile(t.Context(), f16, a, ft, quantize.Options{}); err != nil {
			t.Fatal(err)
		}
		sum, _, err := quantize.ConvertHF(t.Context(), hf, b, ft, quantize.ConvertOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ba, _ := os.ReadFile(a)
		bb, _ := os.ReadFile(b)
		if !bytes.Equal(ba, bb) {
			t.Errorf("%s: one-pass file differs from convert+quantize (%d vs %d bytes)", name, len(bb), len(ba))
		} else if sum.FileSize != int64(len(bb)) {
			t.Errorf("%s: summary size %d, file %d", name, sum.FileSize, len(bb))
		}
		if _, _, err := quantize.ConvertHF(t.Context(), hf, c, ft, quantize.ConvertOptions{FromSource: true}); err != nil {
			t.Fatal(err)
		}
		fc, err := gguf.Open(c)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := fc.Bool(quantize.KeyFromSource); err != nil || !v {
			t.Errorf("%s --from-source: %s = %v, %v", name, quantize.KeyFromSource, v, err)
		}
		fc.Close()
	}
}
