//go:build cgo

package differential

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/gguf/modelcheck"
	"github.com/sattva/sattva/internal/hostile"
)

// loaded remembers the metadata (the bytes before the data section) of the
// inputs already loaded in a child: a mutation of tensor bytes alone is
// checked in-process only, so the fuzzer spends its children on metadata.
var loaded sync.Map

// FuzzLoadModel is the differential fuzz of the loader: every mutated GGUF
// that modelcheck accepts as a model is loaded, tokenized and run for two
// tokens by llama.cpp in a child process, and any abort, signal or crash
// report there fails. Inputs modelcheck refuses must be refused with a
// *gguf.FormatError (never a panic). Seeds: TinyLlama and every hostile case;
// the corpus the fuzzer found is kept in testdata/fuzz/FuzzLoadModel.
func FuzzLoadModel(f *testing.F) {
	f.Add(hostile.TinyLlama().Bytes())
	tied := hostile.TinyLlama()
	tied.DropTensor("output.weight")
	f.Add(tied.Bytes())
	for _, c := range hostile.GGUFCases() {
		if c.Kind == hostile.AsModel {
			f.Add(c.Data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		gf, err := gguf.NewReader(bytes.NewReader(data), int64(len(data)), gguf.DefaultLimits())
		if err == nil {
			err = modelcheck.Check(gf, modelcheck.Model)
		}
		if err != nil {
			if !errors.Is(err, gguf.ErrFormat) {
				t.Fatalf("refused with %T, not a FormatError: %v", err, err)
			}
			return
		}
		key := sha256.Sum256(data[:gf.DataOffset])
		if _, seen := loaded.LoadOrStore(key, true); seen {
			return
		}
		r := runChild(t, "model", data, "")
		if why := r.crashed(); why != "" {
			t.Fatalf("modelcheck accepted a file that crashes llama.cpp (%s):\n%s", why, tail(r.out))
		}
		if r.code != childLoaded && r.code != childRefused {
			t.Fatalf("child exit %d:\n%s", r.code, tail(r.out))
		}
	})
}

func tail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}
