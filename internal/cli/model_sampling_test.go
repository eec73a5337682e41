package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/sattva/sattva/gguf"
)

// TestWithModelSampling: run/chat take general.sampling.* for the flags the
// user did not give, keep the ones given, and say which with -v.
func TestWithModelSampling(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.gguf")
	spec := &gguf.Spec{KVs: []gguf.KV{
		{Key: "general.architecture", Value: gguf.String("llama")},
		{Key: gguf.KeySamplingTopK, Value: gguf.Int32(20)},
		{Key: gguf.KeySamplingTemp, Value: gguf.Float32(0.6)},
	}}
	if err := gguf.WriteFile(context.Background(), p, spec, gguf.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	var sf samplingFlags
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	sf.bind(fs, 16)
	if err := fs.Parse([]string{"--top-k", "5"}); err != nil {
		t.Fatal(err)
	}
	gen, _ := sf.options()
	var log bytes.Buffer
	got := withModelSampling(&log, sf.flags, p, gen.Sampling, true)
	if got.Temperature != 0.6 || got.TopK != 5 || got.TopP != gen.Sampling.TopP {
		t.Errorf("got %+v", got)
	}
	if !strings.Contains(log.String(), "sampler default from the model: temp 0.6 (general.sampling.temp)") || strings.Contains(log.String(), "top_k") {
		t.Errorf("-v output:\n%s", log.String())
	}
	// quiet without -v; a missing file keeps the flags
	log.Reset()
	withModelSampling(&log, sf.flags, p, gen.Sampling, false)
	if log.Len() != 0 {
		t.Errorf("printed without -v: %s", log.String())
	}
	if got := withModelSampling(&log, sf.flags, filepath.Join(t.TempDir(), "none.gguf"), gen.Sampling, true); got != gen.Sampling {
		t.Errorf("missing file changed the sampler: %+v", got)
	}
}
