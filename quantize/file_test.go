package quantize_test

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/fixture"
	"github.com/sattva/sattva/quantize"
)

// withBadValue copies the GGUF at in to a new file whose tensor name has v
// at element idx (F32 tensors only).
func withBadValue(t *testing.T, in, name string, idx int, v float32) string {
	t.Helper()
	f, err := gguf.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := f.Spec()
	ti, _ := f.Tensor(name)
	b := make([]byte, ti.Size())
	if _, err := f.TensorData(ti).ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint32(b[4*idx:], math.Float32bits(v))
	for i := range s.Tensors {
		if s.Tensors[i].Name == name {
			s.Tensors[i].Data = gguf.BytesData(b)
		}
	}
	out := filepath.Join(t.TempDir(), "bad.gguf")
	if err := gguf.WriteFile(t.Context(), out, s, gguf.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestNonFiniteIsAnErrorNamingTheTensor: NaN or Inf anywhere, in a tensor
// being quantized or in one copied as is, fails with the tensor's name.
func TestNonFiniteIsAnErrorNamingTheTensor(t *testing.T) {
	in := fixture.Path(t, "stories260K/ref/stories260K-f32.ref.gguf")
	cases := []struct {
		name   string
		tensor string
		idx    int
		v      float32
	}{
		{"NaN in a quantized weight", "blk.2.attn_q.weight", 77, float32(math.NaN())},
		{"+Inf in the embeddings", "token_embd.weight", 1000, float32(math.Inf(1))},
		{"-Inf in a norm copied as is", "blk.1.ffn_norm.weight", 3, float32(math.Inf(-1))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bad := withBadValue(t, in, c.tensor, c.idx, c.v)
			out := filepath.Join(t.TempDir(), "q.gguf")
			_, err := quantize.QuantizeFile(t.Context(), bad, out, gguf.MostlyQ4_K_M, quantize.Options{})
			var ide *quantize.InvalidDataError
			if !errors.As(err, &ide) {
				t.Fatalf("got %v, want *InvalidDataError", err)
			}
			if ide.Tensor != c.tensor || ide.Index != int64(c.idx) {
				t.Errorf("error names %s element %d, want %s element %d", ide.Tensor, ide.Index, c.tensor, c.idx)
			}
			if !ide.InvalidInput() {
				t.Error("InvalidInput() is false")
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("output left behind after the error: %v", err)
			}
		})
	}
}

func TestParseFileType(t *testing.T) {
	for _, c := range []struct {
		in   string
		want gguf.FileType
	}{
		{"q4_k_m", gguf.MostlyQ4_K_M}, {"Q4_K", gguf.MostlyQ4_K_M}, {"Q5_K_M", gguf.MostlyQ5_K_M},
		{"q6_k", gguf.MostlyQ6_K}, {"Q8_0", gguf.MostlyQ8_0}, {"f16", gguf.MostlyF16}, {"BF16", gguf.MostlyBF16},
	} {
		got, err := gguf.ParseFileType(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseFileType(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
		if back, _ := gguf.ParseFileType(got.String()); back != got {
			t.Errorf("%v does not round-trip through its name", got)
		}
	}
	if _, err := gguf.ParseFileType("Q9_K"); err == nil {
		t.Error("Q9_K parsed")
	}
}

// TestPlanLlama31_8B checks the Q4_K_M and Q5_K_M plans on Llama-3.1-8B's
// tensor list against llama.cpp's rules written out by hand: attn_v and
// ffn_down in layers 0-3, 6, 9, …, 27 and 28-31 get Q6_K (use_more_bits over
// 32 layers), output Q6_K, everything else 2-D the default type, norms F32.
func TestPlanLlama31_8B(t *testing.T) {
	const layers, hidden, ffn, vocab, kv = 32, 4096, 14336, 128256, 1024
	var ts []gguf.TensorInfo
	add := func(name string, typ gguf.Type, dims ...uint64) {
		ts = append(ts, gguf.TensorInfo{Name: name, Type: typ, Dims: dims})
	}
	add("token_embd.weight", gguf.TypeF16, hidden, vocab)
	add("rope_freqs.weight", gguf.TypeF32, 64)
	for l := 0; l < layers; l++ {
		p := "blk." + strconv.Itoa(l) + "."
		add(p+"attn_norm.weight", gguf.TypeF32, hidden)
		add(p+"attn_q.weight", gguf.TypeF16, hidden, hidden)
		add(p+"attn_k.weight", gguf.TypeF16, hidden, kv)
		add(p+"attn_v.weight", gguf.TypeF16, hidden, kv)
		add(p+"attn_output.weight", gguf.TypeF16, hidden, hidden)
		add(p+"ffn_norm.weight", gguf.TypeF32, hidden)
		add(p+"ffn_gate.weight", gguf.TypeF16, hidden, ffn)
		add(p+"ffn_up.weight", gguf.TypeF16, hidden, ffn)
		add(p+"ffn_down.weight", gguf.TypeF16, ffn, hidden)
	}
	add("output_norm.weight", gguf.TypeF32, hidden)
	add("output.weight", gguf.TypeF16, hidden, vocab)
	mi := quantize.ModelInfo{Arch: "llama", NLayer: layers, NHead: 32, NHeadKV: 8}
	moreBits := map[int]bool{}
	for _, l := range []int{0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31} {
		moreBits[l] = true
	}
	for _, c := range []struct {
		ft  gguf.FileType
		def gguf.Type
	}{{gguf.MostlyQ4_K_M, gguf.TypeQ4_K}, {gguf.MostlyQ5_K_M, gguf.TypeQ5_K}} {
		plans, err := quantize.PlanTensors(mi, ts, c.ft, quantize.PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(plans) != len(ts) {
			t.Fatalf("%d plans for %d tensors", len(plans), len(ts))
		}
		// llama.cpp's order: tensors without a layer first, by name.
		wantFirst := []string{"output.weight", "output_norm.weight", "rope_freqs.weight", "token_embd.weight", "blk.0.attn_k.weight"}
		for i, n := range wantFirst {
			if plans[i].Name != n {
				t.Errorf("%v: tensor %d is %s, want %s", c.ft, i, plans[i].Name, n)
			}
		}
		for _, p := range plans {
			want, name := c.def, p.Name
			switch {
			case len(p.Dims) == 1:
				want = gguf.TypeF32
			case name == "output.weight":
				want = gguf.TypeQ6_K
			case contains(name, "attn_v") || contains(name, "ffn_down"):
				if moreBits[layerNum(name)] {
					want = gguf.TypeQ6_K
				}
			}
			if p.To != want {
				t.Errorf("%v: %s -> %v, want %v", c.ft, name, p.To, want)
			}
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func layerNum(name string) int {
	n := 0
	for i := 4; i < len(name) && name[i] != '.'; i++ {
		n = n*10 + int(name[i]-'0')
	}
	return n
}
