package gguf

import (
	"context"
	"path/filepath"
	"testing"
)

// fileOf writes kvs to a GGUF file and opens it.
func fileOf(t *testing.T, kvs ...KV) *File {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.gguf")
	if err := WriteFile(context.Background(), p, &Spec{KVs: kvs}, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestSamplingOf(t *testing.T) {
	f := fileOf(t,
		KV{Key: KeySamplingTopK, Value: Uint32(40)}, // another integer type that fits
		KV{Key: KeySamplingTemp, Value: Float64(0.5)},
		KV{Key: KeySamplingSequence, Value: String("top_k;temp")},
	)
	s, err := SamplingOf(f)
	if err != nil || s.TopK == nil || *s.TopK != 40 || s.Temp == nil || *s.Temp != 0.5 || s.Sequence == nil || s.TopP != nil {
		t.Fatalf("%+v %v", s, err)
	}
	// KVs writes gguf-py's types in its order
	kvs := s.KVs()
	if len(kvs) != 3 || kvs[0].Key != KeySamplingSequence || kvs[1].Value.Type != ValueInt32 || kvs[2].Value.Type != ValueFloat32 {
		t.Errorf("KVs %+v", kvs)
	}
	if got := s.String(); got != `sequence "top_k;temp", top_k 40, temp 0.5` {
		t.Errorf("String %q", got)
	}
	for _, bad := range []KV{
		{Key: KeySamplingTemp, Value: String("hot")},
		{Key: KeySamplingTopK, Value: Float32(40)},
		{Key: KeySamplingTopK, Value: Uint64(1 << 40)},
		{Key: KeySamplingSequence, Value: Int32(1)},
	} {
		if _, err := SamplingOf(fileOf(t, bad)); err == nil {
			t.Errorf("%s = %v accepted", bad.Key, bad.Value)
		}
	}
	if s, err := SamplingOf(fileOf(t)); err != nil || !s.IsZero() || s.String() != "" {
		t.Errorf("empty: %+v %v", s, err)
	}
}
