package gguf_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/fixture"
)

// sharedGGUFs are the outside GGUF files under ../shared/testdata.
var sharedGGUFs = []string{
	"stories260K/ref/stories260K-f32.ref.gguf",
	"vocab/ggml-vocab-llama-spm.gguf",
}

// FuzzReader checks that no input panics the reader, that every error is a
// *FormatError, and that whatever it accepts can be written and read back to
// the same bytes (write∘read is idempotent).
func FuzzReader(f *testing.F) {
	for _, rel := range sharedGGUFs {
		if b, err := os.ReadFile(filepath.Join(fixture.Root(), rel)); err == nil {
			f.Add(b)
			f.Add(b[:min(len(b), 4096)]) // the metadata part, truncated
		}
	}
	ts, _ := tensorsOfEveryType()
	f.Add(encode(f, &gguf.Spec{KVs: allValueKVs(), Tensors: ts[:4]}))
	f.Add(encode(f, &gguf.Spec{Version: 2, Alignment: 64, KVs: allValueKVs()[:3]}))
	for _, c := range corruptCases(f) {
		f.Add(c.data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := gguf.Limits{MaxMetadataBytes: 1 << 20, MaxArrayLen: 1 << 16, MaxStringLen: 1 << 16}
		file, err := gguf.NewReader(bytes.NewReader(data), int64(len(data)), lim)
		if err != nil {
			var fe *gguf.FormatError
			if !errors.As(err, &fe) || !errors.Is(err, gguf.ErrFormat) {
				t.Fatalf("error is not a *FormatError: %v", err)
			}
			if fe.Offset < 0 || fe.Offset > int64(len(data)) {
				t.Fatalf("FormatError offset %d outside the %d-byte input", fe.Offset, len(data))
			}
			return
		}
		writable := true
		for _, ti := range file.Tensors {
			// The writer refuses what llama.cpp cannot load but the reader
			// accepts: tensor names of 64 bytes or more.
			writable = writable && len(ti.Name) < 64
			sr := file.TensorData(ti)
			n, err := sr.Seek(0, 2)
			if err != nil || n != ti.Size() {
				t.Fatalf("tensor %q: section of %d bytes, want %d (%v)", ti.Name, n, ti.Size(), err)
			}
		}
		var m1 memFile
		if !writable {
			return
		}
		if _, err := gguf.Write(context.Background(), &m1, file.Spec(), gguf.WriteOptions{Workers: 1}); err != nil {
			t.Fatalf("writing what was read: %v", err)
		}
		again, err := gguf.NewReader(bytes.NewReader(m1.buf), int64(len(m1.buf)), lim)
		if err != nil {
			t.Fatalf("re-reading a written file: %v", err)
		}
		var m2 memFile
		if _, err := gguf.Write(context.Background(), &m2, again.Spec(), gguf.WriteOptions{Workers: 1}); err != nil {
			t.Fatalf("rewriting: %v", err)
		}
		if !bytes.Equal(m1.buf, m2.buf) {
			t.Fatalf("write(read(write(read(x)))) differs from write(read(x))")
		}
	})
}

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the hand-made seeds under testdata/fuzz/FuzzReader")

// TestFuzzSeeds keeps the committed seed corpus in step with corruptCases:
// with -update-seeds it writes one corpus file per hand-made file.
func TestFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzReader")
	cases := corruptCases(t)
	ts, _ := tensorsOfEveryType()
	cases = append(cases, corruptCase{name: "valid all types", data: encode(t, &gguf.Spec{KVs: allValueKVs(), Tensors: ts[:3]})})
	for _, c := range cases {
		name := "seed-" + strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
				return r
			}
			return '-'
		}, strings.ToLower(c.name))
		path := filepath.Join(dir, name)
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", c.data)
		if *updateSeeds {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Errorf("seed %s missing or stale; run go test ./gguf -run TestFuzzSeeds -update-seeds", path)
		}
	}
}
