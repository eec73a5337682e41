//go:build cgo

package llamacpp

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sattva/sattva/convert"
	"github.com/sattva/sattva/gguf"
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
	checkIMatrixAgainstTap(t, m, 0, 0)
	checkIMatrixAgainstTap(t, m, 2, 0)  // the device reduction's graph on the CPU, each at the last node before the activation may be overwritten
	checkIMatrixAgainstTap(t, m, 0, 16) // four ubatches a chunk: the stop comes after the last
	checkIMatrixAgainstTap(t, m, 2, 16)
}

// TestCollectIMatrixProcessOutput (llama31-tiny, whose output.weight is its
// own tensor): without output.weight every pass stops before the output
// layer; with it the pass runs to the end and output.weight's input is
// summed as llama-imatrix's formula says. The blk.* sums are the same bits
// either way: the stop changes nothing before it.
func TestCollectIMatrixProcessOutput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	if _, err := convert.Convert(context.Background(), fixture.Path(t, "llama31-tiny/hf"), path, convert.Options{OutType: gguf.TypeF32, Threads: 2}); err != nil {
		t.Fatal(err)
	}
	m, err := Load(path, ModelOptions{CPUOnly: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	const chunk = 32
	toks := make([]int32, 2*chunk)
	for i := range toks {
		toks[i] = int32((i*7919 + 13) % m.NVocab())
	}
	run := func(output bool, mode int) *IMatrixStats {
		st, err := m.CollectIMatrix(context.Background(), toks, IMatrixOptions{ChunkSize: chunk, Threads: 2, ProcessOutput: output, reduceMode: mode})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	plain, withOut := run(false, 0), run(true, 0)
	// The device path (here on the CPU's backend) stops where it computes
	// the graph, and sums output.weight's input like the others.
	devPlain, devOut := run(false, 2), run(true, 2)
	if devPlain.OutputSkipped != 2 || devOut.OutputSkipped != 0 || len(devPlain.Entries) != 14 || len(devOut.Entries) != 15 ||
		devOut.DeviceReduced != 2*(4*2+1) {
		t.Errorf("device path: %d and %d passes stopped (want 2 and 0), %d and %d entries (want 14 and 15), %d reductions with output.weight (want 18)",
			devPlain.OutputSkipped, devOut.OutputSkipped, len(devPlain.Entries), len(devOut.Entries), devOut.DeviceReduced)
	}
	if plain.OutputSkipped != 2 || withOut.OutputSkipped != 0 {
		t.Errorf("passes stopped before the output layer: %d without output.weight (want 2), %d with it (want 0)",
			plain.OutputSkipped, withOut.OutputSkipped)
	}
	if len(plain.Entries) != 14 || len(withOut.Entries) != 15 {
		t.Fatalf("%d entries without output.weight, %d with; want 14 and 15", len(plain.Entries), len(withOut.Entries))
	}
	byName := map[string]IMatrixEntry{}
	for _, e := range withOut.Entries {
		byName[e.Name] = e
	}
	for _, e := range plain.Entries {
		o := byName[e.Name]
		if !slices.Equal(e.Sums, o.Sums) || !slices.Equal(e.Counts, o.Counts) {
			t.Errorf("%s: sums differ between the runs without and with output.weight", e.Name)
		}
	}
	out, ok := byName["output.weight"]
	if !ok || out.Counts[0] != 2*chunk {
		t.Fatalf("output.weight %+v, want %d rows counted", out, 2*chunk)
	}
	var ins []matMulInput
	if err := m.tapMatMuls(toks, chunk, 0, func(in matMulInput) {
		if in.Weight == "output.weight" {
			in.Weight = "blk.output" // refIMatrix keeps blk.* only
			ins = append(ins, in)
		}
	}); err != nil {
		t.Fatal(err)
	}
	ref := refIMatrix(ins)["blk.output"]
	if ref == nil || ref.count != 2*chunk || len(ref.sums) != len(out.Sums) {
		t.Fatalf("the tap saw output.weight's input as %+v", ref)
	}
	for _, e := range []IMatrixEntry{out, devOut.Entries[len(devOut.Entries)-1]} {
		if e.Name != "output.weight" || len(e.Sums) != len(ref.sums) {
			t.Fatalf("%s: %d sums, want output.weight's %d", e.Name, len(e.Sums), len(ref.sums))
		}
		for j, v := range e.Sums {
			if d := math.Abs(float64(v)-ref.sums[j]) / math.Max(math.Abs(ref.sums[j]), 1e-30); d > 1e-4 {
				t.Fatalf("output.weight[%d] = %v, reference %v (relative %.2g)", j, v, ref.sums[j], d)
			}
		}
	}
}

// TestCollectIMatrixGPU (SATTVA_GPU_TEST=1, a GPU backend present): the
// collector's device-side column sums, on the second stream and on the
// graph's own, and its host-copy path, against the tap's host copies and
// llama-imatrix's formula.
func TestCollectIMatrixGPU(t *testing.T) {
	if os.Getenv(gpuTestEnv) != "1" {
		t.Skip("set " + gpuTestEnv + "=1 on a machine with a GPU backend")
	}
	m := loadStories(t, ModelOptions{})
	checkIMatrixAgainstTap(t, m, 0, 0)
	checkIMatrixAgainstTap(t, m, 1, 0)
	checkIMatrixAgainstTap(t, m, 3, 0)
	checkIMatrixAgainstTap(t, m, 5, 0)
	checkIMatrixAgainstTap(t, m, 0, 16)
	checkIMatrixAgainstTap(t, m, 3, 16)
}

func checkIMatrixAgainstTap(t *testing.T, m *Model, mode, ubatch int) {
	t.Helper()
	const chunk = 64
	toks := storiesTokens(t, m, 3*chunk+10)
	var done []int
	st, err := m.CollectIMatrix(context.Background(), toks, IMatrixOptions{ChunkSize: chunk, Chunks: 3, Threads: 2,
		Progress: func(d, n int) { done = append(done, d) }, reduceMode: mode, uBatchSize: ubatch})
	if err != nil {
		t.Fatal(err)
	}
	if st.Chunks != 3 || st.ChunkSize != chunk || len(done) != 3 {
		t.Fatalf("chunks %d of %d, progress %v; want 3 chunks of %d", st.Chunks, st.ChunkSize, done, chunk)
	}
	gpu := m.Device().Name != "CPU"
	if wantDevice := mode == 2 || ((mode == 0 || mode == 3 || mode == 5) && gpu); wantDevice != (st.DeviceReduced > 0) {
		t.Errorf("reduce mode %d on %s: %d device reductions", mode, m.Device().Name, st.DeviceReduced)
	}
	// Modes 0 and 5 on a GPU reduce on the second stream, the others on the
	// graph's own; mode 0 with libsattva-cuda's kernel where it is built.
	side := (mode == 0 || mode == 5) && gpu
	kernel := mode == 0 && gpu && fileExists(filepath.Join(initEngine("", nil).dir, "libsattva-cuda"+soExt))
	if want := map[bool]int64{true: st.DeviceReduced, false: 0}[kernel]; st.kernelReduced != want {
		t.Errorf("reduce mode %d: %d of %d device reductions by libsattva-cuda's kernel, want %d",
			mode, st.kernelReduced, st.DeviceReduced, want)
	}
	if want := map[bool]int64{true: st.DeviceReduced, false: 0}[side]; st.sideReduced != want {
		t.Errorf("reduce mode %d: %d of %d device reductions on the second stream, want %d",
			mode, st.sideReduced, st.DeviceReduced, want)
	}
	if want := map[bool]int64{true: 0, false: st.DeviceReduced}[side]; st.schedReduced != want {
		t.Errorf("reduce mode %d: %d of %d device reductions on the graph's stream, want %d",
			mode, st.schedReduced, st.DeviceReduced, want)
	}
	// Every pass stops before the output layer: on a CPU through the abort
	// callback, on a GPU where the collector computes the graph (not in
	// mode 1, which leaves the GPU's graph alone).
	if want := map[bool]int{true: 0, false: 3}[mode == 1 && gpu]; st.OutputSkipped != want {
		t.Errorf("reduce mode %d on %s: %d passes stopped before the output layer, want %d", mode, m.Device().Name, st.OutputSkipped, want)
	}
	// On a device, k and v reuse q's sums and up reuses gate's: 3 of every 7
	// MUL_MATs of a layer (stories260K: 5 layers, 3 chunks, each of 1 or 4
	// ubatches).
	ub := int64(1)
	if ubatch > 0 {
		ub = chunk / int64(ubatch)
	}
	if st.DeviceReduced > 0 && (st.SharedReduced != 3*5*3*ub || st.DeviceReduced != 4*5*3*ub) {
		t.Errorf("reduce mode %d: %d reduced, %d shared; want %d and %d", mode, st.DeviceReduced, st.SharedReduced, 60*ub, 45*ub)
	}
	// A pass stopped before the output layer leaves llama.cpp's graph to be
	// reused by the next (every ubatch after the first).
	if st.graphsReused != int(3*ub-1) {
		t.Errorf("reduce mode %d: llama.cpp reused its graph %d times in %d ubatches, want %d", mode, st.graphsReused, 3*ub, 3*ub-1)
	}
	var ins []matMulInput
	if err := m.tapMatMuls(toks[:3*chunk], chunk, ubatch, func(in matMulInput) { ins = append(ins, in) }); err != nil {
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
	t.Logf("%s: 35 entries, worst relative difference %.2g (reduce mode %d, ubatch %d, %d of %d reductions by sattva's CUDA kernel)",
		m.Device().Name, worst, mode, ubatch, st.kernelReduced, st.DeviceReduced)
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
//	decode-all   every position's logits, as the imatrix asks (the last layer sees every token)
//	pass         the collector's pass with the stop before the output layer alone, nothing collected
//	full         the collector as `sattva imatrix` runs it: column sums on the device, on a
//	             second stream beside the graph's, by libsattva-cuda's kernel where it is built
//	side-ggml    the same with ggml's kernels (square, transpose, sum rows, add)
//	graph-stream ggml's kernels on the graph's own stream, between its segments
//	allcpus      full with all CPU threads (the default on a GPU is 4)
//
// ns/chunk is per chunk after the first of each call (as `sattva imatrix`
// reports it: without the context's setup and the first pass).
func BenchmarkIMatrixChunk(b *testing.B) {
	path := os.Getenv("SATTVA_BENCH_MODEL")
	if path == "" {
		b.Skip("set SATTVA_BENCH_MODEL to a GGUF")
	}
	const chunk, per = 512, 24
	collect := func(b *testing.B, m *Model, toks []int32, mode, threads int) {
		var chunks time.Duration // from the end of each call's first chunk to the end of its last
		for b.Loop() {
			var first, last time.Time
			st, err := m.CollectIMatrix(context.Background(), toks, IMatrixOptions{ChunkSize: chunk, reduceMode: mode, Threads: threads,
				Progress: func(d, _ int) {
					switch d {
					case 1:
						first = time.Now()
					case per:
						last = time.Now()
					}
				}})
			if err != nil {
				b.Fatal(err)
			}
			if st.Chunks != per {
				b.Fatalf("%d chunks", st.Chunks)
			}
			chunks += last.Sub(first)
		}
		b.ReportMetric(float64(chunks.Nanoseconds())/float64(b.N*(per-1)), "ns/chunk")
	}
	m, err := Load(path, ModelOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
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
		name          string
		mode, threads int
	}{{"pass", 4, 0}, {"full", 0, 0}, {"side-ggml", 5, 0}, {"graph-stream", 3, 0}, {"allcpus", 0, runtime.NumCPU()}} {
		b.Run(mode.name, func(b *testing.B) { collect(b, m, toks, mode.mode, mode.threads) })
	}
}
