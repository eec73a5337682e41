//go:build cgo

package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/fixture"
)

// TestIMatrixCommand: sattva imatrix on stories260K writes llama-imatrix's
// GGUF (and .dat), and quantize --imatrix gives the same bytes with both
// engines, with the quantize.imatrix.* provenance keys.
func TestIMatrixCommand(t *testing.T) {
	model := fixture.Path(t, "stories260K/ref/stories260K-f32.ref.gguf")
	text := fixture.Path(t, "stories260K/llama2c/published_greedy.txt")
	dir := t.TempDir()
	im := filepath.Join(dir, "im.gguf")
	code, out, errOut := runSattva(t, "imatrix", model, "--data", text, "-c", "32", "--chunks", "2", "--ngl", "0", "-t", "2", "-q", "-o", im)
	if code != 0 || !strings.Contains(out, "35 weights, 2 chunks of 32 tokens") {
		t.Fatalf("imatrix: exit %d\n%s\n%s", code, out, errOut)
	}
	f, err := gguf.Open(im)
	if err != nil {
		t.Fatal(err)
	}
	cs, _ := f.Uint32("imatrix.chunk_size")
	cc, _ := f.Uint32("imatrix.chunk_count")
	ds, _ := f.Strings("imatrix.datasets")
	if cs != 32 || cc != 2 || len(ds) != 1 || ds[0] != text || len(f.Tensors) != 70 {
		t.Errorf("imatrix file: chunk_size %d chunk_count %d datasets %q, %d tensors", cs, cc, ds, len(f.Tensors))
	}
	f.Close()
	if code, _, errOut := runSattva(t, "imatrix", model, "--data", text, "-c", "32", "--chunks", "1", "--ngl", "0", "-q",
		"--output-format", "dat", "-o", filepath.Join(dir, "im.dat")); code != 0 {
		t.Fatalf("imatrix .dat: %s", errOut)
	}
	// --json; each pass stops before the output layer (on the CPU), and the
	// log lines llama.cpp writes for that stop stay out of the output.
	code, out, errOut = runSattva(t, "imatrix", model, "--data", text, "-c", "32", "--chunks", "2", "--ngl", "0", "-t", "2",
		"--json", "-o", filepath.Join(dir, "im2.gguf"))
	var sum imatrixSummary
	if code != 0 || json.Unmarshal([]byte(out), &sum) != nil || sum.Chunks != 2 || sum.OutputSkipped != 2 || sum.Weights != 35 {
		t.Errorf("imatrix --json: exit %d, %+v\n%s\n%s", code, sum, out, errOut)
	}
	if strings.Contains(errOut, "failed") || strings.Contains(errOut, "removing memory") {
		t.Errorf("imatrix logs llama.cpp's abort lines:\n%s", errOut)
	}
	var files [][]byte
	for _, engine := range []string{"go", "llamacpp"} {
		q := filepath.Join(dir, engine+".gguf")
		if code, _, errOut := runSattva(t, "quantize", model, q, "Q3_K_M", "--imatrix", im, "--engine", engine, "-q"); code != 0 {
			t.Fatalf("quantize --engine %s: %s", engine, errOut)
		}
		b, _ := os.ReadFile(q)
		files = append(files, b)
	}
	if !bytes.Equal(files[0], files[1]) {
		t.Error("quantize --imatrix: Go and llama.cpp files differ")
	}
	g, err := gguf.Open(filepath.Join(dir, "go.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	file, _ := g.String("quantize.imatrix.file")
	n, _ := g.Uint32("quantize.imatrix.entries_count")
	chunks, _ := g.Uint32("quantize.imatrix.chunks_count")
	dataset, _ := g.String("quantize.imatrix.dataset")
	if file != im[:min(len(im), 127)] || n != 35 || chunks != 2 || dataset != text {
		t.Errorf("provenance: file %q entries %d chunks %d dataset %q", file, n, chunks, dataset)
	}
	if code, _, _ := runSattva(t, "imatrix", model, "--data", text, "-c", "8", "-q"); code == 0 {
		t.Error("-c 8: no usage error")
	}
}
