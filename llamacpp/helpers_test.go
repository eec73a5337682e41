//go:build cgo

package llamacpp

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/fixture"
)

const (
	storiesGGUF   = "stories260K/ref/stories260K-f32.ref.gguf"
	storiesGreedy = "stories260K/ref/greedy.json"
	storiesLogits = "stories260K/ref/logits_first16.f32"
	storiesText   = "stories260K/llama2c/published_greedy.txt"
)

// testLogger logs llama.cpp's warnings and errors to stderr. (Not through
// t.Log: llama.cpp's log is process-wide and outlives a test.)
func testLogger(testing.TB) *slog.Logger { return stderrLogger }

var stderrLogger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

func loadStories(t testing.TB, o ModelOptions) *Model {
	t.Helper()
	if o.Logger == nil {
		o.Logger = testLogger(t)
	}
	m, err := Load(fixture.Path(t, storiesGGUF), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

type greedyRef struct {
	PromptIDs  []int32 `json:"prompt_ids"`
	GreedyIDs  []int32 `json:"greedy_ids"`
	GreedyText string  `json:"greedy_text"`
}

func readGreedy(t testing.TB) greedyRef {
	t.Helper()
	b, err := os.ReadFile(fixture.Path(t, storiesGreedy))
	if err != nil {
		t.Fatal(err)
	}
	var g greedyRef
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// readF32 reads a little-endian float32 file as rows of n.
func readF32(t testing.TB, path string, n int) [][]float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b)%(4*n) != 0 {
		t.Fatalf("%s: %d bytes are not rows of %d float32", path, len(b), n)
	}
	rows := make([][]float32, len(b)/(4*n))
	for i := range rows {
		rows[i] = make([]float32, n)
		for j := range rows[i] {
			rows[i][j] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*(i*n+j):]))
		}
	}
	return rows
}

func maxAbsDiff(a, b [][]float32) float64 {
	d := 0.0
	for i := range a {
		for j := range a[i] {
			d = math.Max(d, math.Abs(float64(a[i][j]-b[i][j])))
		}
	}
	return d
}

// rewriteGGUF copies the GGUF at src to a temporary file, with edit applied
// to its metadata.
func rewriteGGUF(t testing.TB, src string, edit func([]gguf.KV) []gguf.KV) string {
	t.Helper()
	f, err := gguf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	spec := &gguf.Spec{Alignment: uint32(f.Alignment), KVs: edit(append([]gguf.KV(nil), f.KVs...))}
	for _, ti := range f.Tensors {
		b, err := io.ReadAll(f.TensorData(ti))
		if err != nil {
			t.Fatal(err)
		}
		spec.Tensors = append(spec.Tensors, gguf.WriteTensor{Name: ti.Name, Dims: ti.Dims, Type: ti.Type, Data: gguf.BytesData(b)})
	}
	out := filepath.Join(t.TempDir(), "edited.gguf")
	if err := gguf.WriteFile(context.Background(), out, spec, gguf.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	return out
}

func setKV(kvs []gguf.KV, key string, v gguf.Value) []gguf.KV {
	for i := range kvs {
		if kvs[i].Key == key {
			kvs[i].Value = v
			return kvs
		}
	}
	return append(kvs, gguf.KV{Key: key, Value: v})
}
