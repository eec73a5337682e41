//go:build cgo

package llamacpp

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sattva/sattva/internal/fixture"
)

// refIMatrix applies llama-imatrix's formula (IMatrixCollector::collect_imatrix,
// tools/imatrix/imatrix.cpp; the MUL_MAT branch) to the raw MUL_MAT inputs the
// tap saw, in float64: a call counts when src1 has at least 16 rows, is F32
// and the weight's name starts with "blk." (output.weight only with
// --process-output); then for every row x of src1 and every column j,
// sums[mat*ne0+j] += x[j]², mat = (i3 % w.ne3)*w.ne2 + (i2 % w.ne2); the
// count grows by nrows(src1)/n_mat.
type refEntry struct {
	sums  []float64
	count int64
}

func refIMatrix(ins []matMulInput) map[string]*refEntry {
	out := map[string]*refEntry{}
	for _, in := range ins {
		if in.NE[1] < 16 || in.Data == nil || !strings.HasPrefix(in.Weight, "blk.") {
			continue
		}
		ne0 := in.NE[0]
		nmat := in.WeightMats[0] * in.WeightMats[1]
		e := out[in.Weight]
		if e == nil {
			e = &refEntry{sums: make([]float64, ne0*nmat)}
			out[in.Weight] = e
		}
		k := int64(0)
		for i3 := int64(0); i3 < in.NE[3]; i3++ {
			for i2 := int64(0); i2 < in.NE[2]; i2++ {
				mat := (i3%in.WeightMats[1])*in.WeightMats[0] + i2%in.WeightMats[0]
				for r := int64(0); r < in.NE[1]; r++ {
					for j := int64(0); j < ne0; j++ {
						x := float64(in.Data[k])
						e.sums[mat*ne0+j] += x * x
						k++
					}
				}
			}
		}
		e.count += in.NE[1] * in.NE[2] * in.NE[3] / nmat
	}
	return out
}

func storiesTokens(t *testing.T, m *Model, n int) []int32 {
	t.Helper()
	text, err := os.ReadFile(fixture.Path(t, storiesText))
	if err != nil {
		t.Fatal(err)
	}
	var toks []int32
	for len(toks) < n {
		tk, err := m.Tokenize(string(text), len(toks) == 0, false)
		if err != nil {
			t.Fatal(err)
		}
		toks = append(toks, tk...)
	}
	return toks
}

func TestCollectIMatrixMatchesFormula(t *testing.T) {
	m := loadStories(t, ModelOptions{CPUOnly: true})
	checkIMatrixAgainstTap(t, m, 0)
	checkIMatrixAgainstTap(t, m, 2) // the device reduction's graph, on the CPU backend
}

// TestCollectIMatrixGPU (SATTVA_GPU_TEST=1, a GPU backend present): the
// collector's device-side column sums, and its host-copy path, against the
// tap's host copies and llama-imatrix's formula.
func TestCollectIMatrixGPU(t *testing.T) {
	if os.Getenv(gpuTestEnv) != "1" {
		t.Skip("set " + gpuTestEnv + "=1 on a machine with a GPU backend")
	}
	m := loadStories(t, ModelOptions{})
	checkIMatrixAgainstTap(t, m, 0)
	checkIMatrixAgainstTap(t, m, 1)
}

func checkIMatrixAgainstTap(t *testing.T, m *Model, mode int) {
	t.Helper()
	const chunk = 64
	toks := storiesTokens(t, m, 3*chunk+10)
	var done []int
	st, err := m.CollectIMatrix(context.Background(), toks, IMatrixOptions{ChunkSize: chunk, Chunks: 3, Threads: 2,
		Progress: func(d, n int) { done = append(done, d) }, reduceMode: mode})
	if err != nil {
		t.Fatal(err)
	}
	if st.Chunks != 3 || st.ChunkSize != chunk || len(done) != 3 {
		t.Fatalf("chunks %d of %d, progress %v; want 3 chunks of %d", st.Chunks, st.ChunkSize, done, chunk)
	}
	if wantDevice := mode == 2 || (mode == 0 && m.Device().Name != "CPU"); wantDevice != (st.DeviceReduced > 0) {
		t.Errorf("reduce mode %d on %s: %d device reductions", mode, m.Device().Name, st.DeviceReduced)
	}
	// On a device, k and v reuse q's sums and up reuses gate's: 3 of every 7
	// MUL_MATs of a layer (stories260K: 5 layers, 3 chunks).
	if st.DeviceReduced > 0 && (st.SharedReduced != 3*5*3 || st.DeviceReduced != 4*5*3) {
		t.Errorf("reduce mode %d: %d reduced, %d shared; want 60 and 45", mode, st.DeviceReduced, st.SharedReduced)
	}
	var ins []matMulInput
	if err := m.tapMatMuls(toks[:3*chunk], chunk, func(in matMulInput) { ins = append(ins, in) }); err != nil {
		t.Fatal(err)
	}
	ref := refIMatrix(ins)
	// stories260K: 5 layers × (q, k, v, output, gate, up, down).
	if len(ref) != 35 || len(st.Entries) != len(ref) {
		t.Fatalf("collector has %d entries, reference %d; want 35", len(st.Entries), len(ref))
	}
	worst := 0.0
	for i, e := range st.Entries {
		if i > 0 && st.Entries[i-1].Name >= e.Name {
			t.Errorf("entries not sorted: %s after %s", e.Name, st.Entries[i-1].Name)
		}
		r := ref[e.Name]
		if r == nil {
			t.Errorf("%s: not in the reference", e.Name)
			continue
		}
		if len(e.Counts) != 1 || e.Counts[0] != r.count || r.count != 3*chunk {
			t.Errorf("%s: counts %v, reference %d, want %d", e.Name, e.Counts, r.count, 3*chunk)
		}
		if len(e.Sums) != len(r.sums) || e.Cols != len(r.sums) {
			t.Errorf("%s: %d sums (cols %d), reference %d", e.Name, len(e.Sums), e.Cols, len(r.sums))
			continue
		}
		for j, v := range e.Sums {
			d := math.Abs(float64(v)-r.sums[j]) / math.Max(math.Abs(r.sums[j]), 1e-30)
			worst = max(worst, d)
			if d > 1e-4 {
				t.Errorf("%s[%d] = %v, reference %v (relative %.2g)", e.Name, j, v, r.sums[j], d)
				break
			}
		}
	}
	t.Logf("%s: 35 entries, worst relative difference %.2g (reduce mode %d)", m.Device().Name, worst, mode)
}

func TestCollectIMatrixCancelKeepsChunks(t *testing.T) {
	m := loadStories(t, ModelOptions{CPUOnly: true})
	const chunk = 32
	toks := storiesTokens(t, m, 6*chunk)
	ctx, cancel := context.WithCancel(context.Background())
	st, err := m.CollectIMatrix(ctx, toks, IMatrixOptions{ChunkSize: chunk, Threads: 2,
		Progress: func(d, n int) {
			if d == 2 {
				cancel()
			}
		}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if st == nil || st.Chunks != 2 || len(st.Entries) != 35 || st.Entries[0].Counts[0] != 2*chunk {
		t.Fatalf("partial stats %+v, want 2 chunks of every weight", st)
	}
	if _, err := m.CollectIMatrix(context.Background(), toks[:chunk-1], IMatrixOptions{ChunkSize: chunk}); err == nil {
		t.Error("fewer tokens than one chunk: no error")
	}
}

// BenchmarkIMatrixChunk splits the time of one imatrix chunk of 512 tokens
// on the model in SATTVA_BENCH_MODEL (any GGUF; the 8B F16 on a GPU is the
// case of issue #18), one sub-benchmark per added cost, in one process:
//
//	decode-last  the forward pass with the last position's logits (bench's pp512)
//	decode-all   every position's logits, as the imatrix needs (the last layer sees every token)
//	stops        the collector's scheduler stops (4 a layer), collecting nothing
//	device       the collector as `sattva imatrix` runs it (column sums on the device)
//	host         every activation copied to the host and summed there (llama-imatrix's way)
//
// ns/op is per chunk (CollectIMatrix's context setup is amortised over 8
// chunks a call).
func BenchmarkIMatrixChunk(b *testing.B) {
	path := os.Getenv("SATTVA_BENCH_MODEL")
	if path == "" {
		b.Skip("set SATTVA_BENCH_MODEL to a GGUF")
	}
	m, err := Load(path, ModelOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	const chunk, per = 512, 8
	toks := make([]int32, chunk*per)
	for i := range toks {
		toks[i] = int32((i*7919 + 13) % m.NVocab())
	}
	b.Logf("%s on %s", filepath.Base(path), m.Device().Name)
	for _, all := range []bool{false, true} {
		name := map[bool]string{false: "decode-last", true: "decode-all"}[all]
		b.Run(name, func(b *testing.B) {
			c, err := m.NewContext(ContextOptions{ContextSize: chunk, BatchSize: chunk, UBatchSize: chunk})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			if err := c.evalChunk(toks[:chunk], all); err != nil { // warm-up
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := c.evalChunk(toks[(i%per)*chunk:(i%per+1)*chunk], all); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, mode := range []struct {
		name string
		mode int
	}{{"stops", 3}, {"device", 0}, {"host", 1}} {
		b.Run(mode.name, func(b *testing.B) {
			for b.Loop() {
				st, err := m.CollectIMatrix(context.Background(), toks, IMatrixOptions{ChunkSize: chunk, reduceMode: mode.mode})
				if err != nil {
					b.Fatal(err)
				}
				if st.Chunks != per {
					b.Fatalf("%d chunks", st.Chunks)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*per), "ns/chunk")
		})
	}
}
