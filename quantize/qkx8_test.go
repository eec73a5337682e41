package quantize

import (
	"bytes"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/sattva/sattva/gguf"
)

// TestQkx8Layout checks that the field offsets qkx8_amd64.s uses (its
// OFF_ defines) are qkx8's.
func TestQkx8Layout(t *testing.T) {
	checkLayout(t, "qkx8_amd64.s", reflect.TypeFor[qkx8]())
}

// checkLayout compares the #define OFF_NAME N lines of an assembly file
// with the offsets of typ's fields of the same names (case aside).
func checkLayout(t *testing.T, file string, typ reflect.Type) {
	t.Helper()
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	defs := regexp.MustCompile(`(?m)^#define OFF_([A-Z]+) (\d+)$`).FindAllStringSubmatch(string(src), -1)
	if len(defs) < 8 {
		t.Fatalf("found %d OFF_ defines in %s", len(defs), file)
	}
	for _, d := range defs {
		f, ok := typ.FieldByNameFunc(func(name string) bool { return strings.EqualFold(name, d[1]) })
		if !ok {
			t.Errorf("%s: OFF_%s: %v has no such field", file, d[1], typ)
			continue
		}
		if off, _ := strconv.Atoi(d[2]); uintptr(off) != f.Offset {
			t.Errorf("%s: OFF_%s is %d, %v.%s is at %d", file, d[1], off, typ, f.Name, f.Offset)
		}
	}
}

// sameWords reports whether two values of the same type hold the same
// 32-bit words, any two NaNs counting as equal: which NaN an operation on
// two NaNs returns depends on its operand order, which Go leaves to the
// compiler (it differs under -race), and a NaN never decides a candidate.
// The int32 fields (levels 0..nmax, active 0 or -1) compare exactly: 0 is
// no NaN, and neither is a level.
func sameWords[T any](a, b *T) bool {
	n := int(unsafe.Sizeof(*a)) / 4
	wa := unsafe.Slice((*uint32)(unsafe.Pointer(a)), n)
	wb := unsafe.Slice((*uint32)(unsafe.Pointer(b)), n)
	isNaN := func(w uint32) bool { return w&0x7f800000 == 0x7f800000 && w&0x007fffff != 0 }
	for i := range wa {
		if wa[i] != wb[i] && !(isNaN(wa[i]) && isNaN(wb[i])) {
			return false
		}
	}
	return true
}

// qkx8Value draws one value of a row of kind.
func qkx8Value(r *rand.Rand, kind string) float32 {
	switch kind {
	case "normal":
		return float32(r.NormFloat64() * 0.02)
	case "outliers":
		v := float32(r.NormFloat64())
		if r.IntN(16) == 0 {
			v *= 300
		}
		return v
	case "positive":
		return float32(r.Float64())
	case "steps":
		return float32(r.IntN(5)-2) * 0.25
	case "constant":
		return 0.5
	case "tiny":
		return float32(r.NormFloat64() * 1e-38)
	case "huge":
		return float32(r.NormFloat64() * 1e36)
	case "special":
		// non-finite values, which llama.cpp never quantizes: the two
		// searches must still agree on them.
		if r.IntN(2) == 0 {
			return float32(r.NormFloat64())
		}
		return []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1)), 1e-45, 3e38}[r.IntN(7)]
	}
	return 0
}

// qkx8Lanes fills the 8 lanes of g from rows of kind, with weights, as the
// Q4_K/Q5_K callers do.
func qkx8Lanes(r *rand.Rand, g *qkx8, kind string, nmax int32, qkx3 bool) {
	for k := range 8 {
		var x, w [32]float32
		for i := range x {
			x[i] = qkx8Value(r, kind)
			w[i] = float32(r.Float64())
			if r.IntN(8) == 0 {
				w[i] = 0
			}
		}
		g.initLane(k, &x, &w, nmax, qkx3)
	}
}

// TestQkx8StepMatchesGo runs the AVX2 step and qkxStep8Go from the same
// states through make_qkx2/qkx3_quants' candidate loops and requires the
// same bits at every step.
func TestQkx8StepMatchesGo(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2 here: qkxStep8 is qkxStep8Go")
	}
	r := rand.New(rand.NewPCG(8, 8))
	params := []struct {
		nmax         int32
		rmin, rdelta float32
		nstep        int
		qkx3         bool
	}{{15, -1, 0.1, 20, false}, {31, -0.5, 0.1, 15, false}, {15, -0.9, 0.05, 36, true}, {31, -0.9, 0.05, 36, true}}
	kinds := []string{"normal", "outliers", "positive", "steps", "constant", "tiny", "huge", "special"}
	for _, p := range params {
		for _, kind := range kinds {
			for rep := 0; rep < 20; rep++ {
				var a, b qkx8
				qkx8Lanes(r, &a, kind, p.nmax, p.qkx3)
				b = a
				for is := 0; is <= p.nstep; is++ {
					num := p.rmin + float32(p.rdelta*float32(is)) + float32(p.nmax)
					qkxStep8(&a, num, p.nmax)
					qkxStep8Go(&b, num, p.nmax)
					if !sameWords(&a, &b) {
						t.Fatalf("nmax %d, %s rows, repeat %d: the states differ after candidate %d", p.nmax, kind, rep, is)
					}
				}
				qkxLevels8(&a, p.nmax)
				qkxLevels8Go(&b, p.nmax)
				if a.laux != b.laux {
					t.Fatalf("nmax %d, %s rows, repeat %d: the levels differ", p.nmax, kind, rep)
				}
			}
		}
	}
}

// TestQkx8InitW8MatchesGo runs the AVX2 initialisation with importance
// weights and qkxInitW8Go from the same lanes and requires the same bits.
func TestQkx8InitW8MatchesGo(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2 here: qkxInitW8 is qkxInitW8Go")
	}
	r := rand.New(rand.NewPCG(8, 9))
	for _, nmax := range []int32{15, 31} {
		for _, kind := range []string{"normal", "outliers", "positive", "steps", "constant", "tiny", "huge", "special"} {
			for rep := 0; rep < 50; rep++ {
				var src qkx8
				qkx8Lanes(r, &src, kind, nmax, true)
				var qw [32][8]float32
				for i := range qw {
					for k := range qw[i] {
						qw[i][k] = float32(r.ExpFloat64())
						if kind == "special" && r.IntN(9) == 0 {
							qw[i][k] = 0
						}
					}
				}
				sigma2 := float32(r.ExpFloat64())
				if kind == "huge" {
					sigma2 = 1e37
				}
				var a, b qkx8
				a.x, b.x = src.x, src.x
				var swa, swb [8]float32
				qkxInitW8(&a, &qw, sigma2, nmax, &swa)
				qkxInitW8Go(&b, &qw, sigma2, nmax, &swb)
				if !sameWords(&a, &b) || !sameWords(&swa, &swb) {
					t.Fatalf("nmax %d, %s rows, repeat %d: the initial states differ", nmax, kind, rep)
				}
			}
		}
	}
}

// TestQkx8MatchesPairs quantizes the same rows with the AVX2 searches
// (qkx8, qx16) and with the two-at-a-time scalar ones (qkxBlock, qxBlock,
// the path without AVX2), Q4_K, Q5_K and Q6_K, with and without an
// importance matrix, and requires the same bytes. The differential tests compare the default path with ggml.
func TestQkx8MatchesPairs(t *testing.T) {
	saved := useAVX2
	defer func() { useAVX2 = saved }()
	r := rand.New(rand.NewPCG(5, 9))
	const ncols, nrows = 1024, 6
	im := make([]float32, ncols)
	for i := range im {
		im[i] = float32(r.ExpFloat64())
	}
	for _, kind := range []string{"normal", "outliers", "positive", "steps", "zeros", "tiny"} {
		x := make([]float32, ncols*nrows)
		for i := range x {
			switch kind {
			case "normal":
				x[i] = float32(r.NormFloat64() * 0.02)
			case "outliers":
				x[i] = float32(r.NormFloat64())
				if r.IntN(64) == 0 {
					x[i] *= 200
				}
			case "positive":
				x[i] = float32(r.Float64())
			case "steps":
				x[i] = float32(r.IntN(7)-3) * 0.125
			case "tiny":
				x[i] = float32(r.NormFloat64() * 1e-30)
			}
		}
		for _, typ := range []gguf.Type{gguf.TypeQ4_K, gguf.TypeQ5_K, gguf.TypeQ6_K} {
			for _, w := range [][]float32{nil, im} {
				rs, err := RowSize(typ, ncols)
				if err != nil {
					t.Fatal(err)
				}
				var got [2][]byte
				for i, use := range []bool{true, false} {
					useAVX2 = use
					got[i] = make([]byte, rs*nrows)
					if err := QuantizeRows(typ, got[i], x, ncols, w); err != nil {
						t.Fatal(err)
					}
				}
				if !bytes.Equal(got[0], got[1]) {
					t.Errorf("%v, %s rows, imatrix %v: the AVX2 and the scalar searches differ", typ, kind, w != nil)
				}
			}
		}
	}
}

// BenchmarkQkx8 times Q4_K, Q5_K and Q6_K rows, without and with an
// importance matrix, through the AVX2 searches and the scalar pair searches
// side by side in one process (4096 x 32 normal values, one goroutine).
func BenchmarkQkx8(b *testing.B) {
	saved := useAVX2
	defer func() { useAVX2 = saved }()
	r := rand.New(rand.NewPCG(3, 4))
	const ncols, nrows = 4096, 32
	x := make([]float32, ncols*nrows)
	for i := range x {
		x[i] = float32(r.NormFloat64() * 0.02)
	}
	im := make([]float32, ncols)
	for i := range im {
		im[i] = float32(r.ExpFloat64())
	}
	for _, typ := range []gguf.Type{gguf.TypeQ4_K, gguf.TypeQ5_K, gguf.TypeQ6_K} {
		rs, _ := RowSize(typ, ncols)
		dst := make([]byte, rs*nrows)
		for _, w := range []struct {
			name string
			im   []float32
		}{{"", nil}, {"-imatrix", im}} {
			for _, path := range []struct {
				name string
				use  bool
			}{{"scalar", false}, {"avx2", true}} {
				if path.use && !saved {
					continue
				}
				b.Run(typ.String()+"/"+path.name+w.name, func(b *testing.B) {
					useAVX2 = path.use
					b.SetBytes(int64(4 * len(x)))
					for b.Loop() {
						if err := QuantizeRows(typ, dst, x, ncols, w.im); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

// TestQx16Layout checks the field offsets qx16_amd64.s uses.
func TestQx16Layout(t *testing.T) {
	checkLayout(t, "qx16_amd64.s", reflect.TypeFor[qx16]())
}

// TestQx16MatchesGo runs the AVX2 make_qx_quants lanes and their Go twins
// from the same sub-blocks, with and without importance weights, and
// requires the same bits after the setup, after every candidate and for
// the levels.
func TestQx16MatchesGo(t *testing.T) {
	if !useAVX2 {
		t.Skip("no AVX2 here: the qx16 functions are their Go twins")
	}
	r := rand.New(rand.NewPCG(16, 6))
	for _, kind := range []string{"normal", "outliers", "positive", "steps", "constant", "tiny", "huge", "special", "zeros"} {
		for rep := 0; rep < 40; rep++ {
			var src qx16
			var qw [16][16]float32
			for i := range src.x {
				for k := range src.x[i] {
					src.x[i][k] = qkx8Value(r, kind)
					qw[i][k] = float32(r.ExpFloat64())
					if r.IntN(10) == 0 {
						qw[i][k] = 0
					}
				}
			}
			for _, w := range []*[16][16]float32{nil, &qw} {
				a, b := src, src
				qxInit16(&a, w, 32)
				qxInit16Go(&b, w, 32)
				if !sameWords(&a, &b) {
					t.Fatalf("%s rows, repeat %d, weights %v: the setups differ", kind, rep, w != nil)
				}
				for is := -9; is <= 9; is++ {
					if is == 0 {
						continue
					}
					num := -(float32(32) + float32(0.1*float32(is)))
					qxStep16(&a, num, 32)
					qxStep16Go(&b, num, 32)
					if !sameWords(&a, &b) {
						t.Fatalf("%s rows, repeat %d, weights %v: the states differ after candidate %d", kind, rep, w != nil, is)
					}
				}
				qxLevels16(&a, 32)
				qxLevels16Go(&b, 32)
				if a.laux != b.laux {
					t.Fatalf("%s rows, repeat %d, weights %v: the levels differ", kind, rep, w != nil)
				}
			}
		}
	}
}
