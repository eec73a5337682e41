package convquant_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/sattva/sattva/convert"
	"github.com/sattva/sattva/convquant"
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
		ft, _ := gguf.ParseFileType(name)
		a := filepath.Join(dir, name+".two.gguf")
		b := filepath.Join(dir, name+".one.gguf")
		c := filepath.Join(dir, name+".src.gguf")
		if _, err := quantize.QuantizeFile(t.Context(), f16, a, ft, quantize.Options{}); err != nil {
			t.Fatal(err)
		}
		res, err := convquant.Convert(t.Context(), hf, b, ft, convquant.Options{})
		if err != nil {
			t.Fatal(err)
		}
		ba, _ := os.ReadFile(a)
		bb, _ := os.ReadFile(b)
		if !bytes.Equal(ba, bb) {
			t.Errorf("%s: one-pass file differs from convert+quantize (%d vs %d bytes)", name, len(bb), len(ba))
		} else if res.Quantized.FileSize != int64(len(bb)) {
			t.Errorf("%s: summary size %d, file %d", name, res.Quantized.FileSize, len(bb))
		}
		if _, err := convquant.Convert(t.Context(), hf, c, ft, convquant.Options{FromSource: true}); err != nil {
			t.Fatal(err)
		}
		fc, err := gguf.Open(c)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := fc.Bool(convquant.KeyFromSource); err != nil || !v {
			t.Errorf("%s --from-source: %s = %v, %v", name, convquant.KeyFromSource, v, err)
		}
		fc.Close()
	}
}

// TestExtraKVsEqualRewrite: provenance keys passed at write time give the
// bytes of writing the file without them and setting them afterwards (in
// place, new ones appended), then quantizing, for a direct and a quantized
// file type; a default key is only added where the file has none.
func TestExtraKVsEqualRewrite(t *testing.T) {
	hf := fixture.Path(t, "stories260K/hf")
	dir := t.TempDir()
	extra := []gguf.KV{
		{Key: "general.name", Value: gguf.String("renamed")},
		{Key: "general.provenance.base.sha256", Value: gguf.String("abc")},
	}
	defaults := []gguf.KV{
		{Key: "general.architecture", Value: gguf.String("not written: the file has one")},
		{Key: "sattva.test.default", Value: gguf.Uint32(7)},
	}
	setAfter := func(in, out string) {
		t.Helper()
		err := gguf.Rewrite(t.Context(), in, out, func(s *gguf.Spec) error {
			for _, kv := range extra {
				s.SetKV(kv.Key, kv.Value)
			}
			s.SetKV("sattva.test.default", gguf.Uint32(7))
			return nil
		}, gguf.WriteOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	f16 := filepath.Join(dir, "f16.gguf")
	if _, err := convert.Convert(t.Context(), hf, f16, convert.Options{OutType: gguf.TypeF16}); err != nil {
		t.Fatal(err)
	}
	f16kv := filepath.Join(dir, "f16kv.gguf")
	setAfter(f16, f16kv)
	q4 := filepath.Join(dir, "q4.gguf")
	if _, err := quantize.QuantizeFile(t.Context(), f16kv, q4, gguf.MostlyQ4_K_M, quantize.Options{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ft   gguf.FileType
		want string
	}{{gguf.MostlyF16, f16kv}, {gguf.MostlyQ4_K_M, q4}} {
		out := filepath.Join(dir, c.ft.String()+".one.gguf")
		o := convquant.Options{Convert: convert.Options{ExtraKVs: extra, DefaultKVs: defaults}}
		if _, err := convquant.Convert(t.Context(), hf, out, c.ft, o); err != nil {
			t.Fatal(err)
		}
		got, _ := os.ReadFile(out)
		want, _ := os.ReadFile(c.want)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: keys at write time differ from keys set afterwards (%d vs %d bytes)", c.ft, len(got), len(want))
		}
	}
}

func TestParseOutType(t *testing.T) {
	for _, c := range []struct {
		in     string
		want   gguf.FileType
		direct bool
	}{
		{"f32", gguf.AllF32, true}, {"F16", gguf.MostlyF16, true}, {"bf16", gguf.MostlyBF16, true},
		{"q8_0", gguf.MostlyQ8_0, true}, {"q4_k_m", gguf.MostlyQ4_K_M, false}, {"q4_k", gguf.MostlyQ4_K_M, false},
		{"Q6_K", gguf.MostlyQ6_K, false}, {"q4_0", gguf.MostlyQ4_0, false},
	} {
		ft, err := convquant.ParseOutType(c.in)
		if err != nil || ft != c.want {
			t.Errorf("ParseOutType(%q) = %v, %v; want %v", c.in, ft, err, c.want)
			continue
		}
		if _, direct := convquant.DirectType(ft); direct != c.direct {
			t.Errorf("%q: direct %v, want %v", c.in, direct, c.direct)
		}
	}
	for _, bad := range []string{"q9_9", "", "i8"} {
		if _, err := convquant.ParseOutType(bad); err == nil {
			t.Errorf("ParseOutType(%q) accepted", bad)
		}
	}
}
