package convert

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/sattva/sattva/gguf"
)

func hparamsFrom(t *testing.T, cfg string) *HParams {
	t.Helper()
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(cfg), &raw); err != nil {
		t.Fatal(err)
	}
	hp, err := parseHParams(raw, "config.json")
	if err != nil {
		t.Fatal(err)
	}
	return hp
}

const baseCfg = `"architectures":["LlamaForCausalLM"],"hidden_size":4096,"intermediate_size":14336,"num_hidden_layers":32,
"num_attention_heads":32,"num_key_value_heads":8,"max_position_embeddings":131072,"rms_norm_eps":1e-5,"vocab_size":128256`

// TestRopeParametersForms: transformers 4's rope_scaling + rope_theta and
// transformers 5's rope_parameters give the same hyperparameters and the same
// rope_freqs.
func TestRopeParametersForms(t *testing.T) {
	v4 := hparamsFrom(t, `{`+baseCfg+`,"rope_theta":500000.0,"rope_scaling":{"factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192,"rope_type":"llama3"}}`)
	v5 := hparamsFrom(t, `{`+baseCfg+`,"rope_parameters":{"rope_theta":500000.0,"factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192,"rope_type":"llama3"}}`)
	if v4.RopeTheta != 500000 || v5.RopeTheta != 500000 || v4.Rope.Type != "llama3" || v5.Rope.Type != "llama3" {
		t.Fatalf("theta %v %v, type %q %q", v4.RopeTheta, v5.RopeTheta, v4.Rope.Type, v5.Rope.Type)
	}
	f4, f5 := v4.ropeFreqs(), v5.ropeFreqs()
	if len(f4) != 64 || !slices.Equal(f4, f5) {
		t.Fatalf("rope_freqs differ or have %d values", len(f4))
	}
	// Llama 3.1's factors: 1 for the high frequencies, 8 for the low, smooth between.
	if f4[0] != 1 || f4[63] != 8 || !(f4[32] > 1 && f4[32] < 8) {
		t.Errorf("rope_freqs %v", f4)
	}
	if v4.HeadDim != 128 || v4.KVHeads != 8 {
		t.Errorf("head dim %d kv %d", v4.HeadDim, v4.KVHeads)
	}
}

func TestRopeScalingKVs(t *testing.T) {
	lin := hparamsFrom(t, `{`+baseCfg+`,"rope_scaling":{"type":"linear","factor":2.0}}`)
	kvs := hparamKVs(lin, 1)
	get := func(kvs []gguf.KV, k string) (gguf.Value, bool) {
		for _, kv := range kvs {
			if kv.Key == k {
				return kv.Value, true
			}
		}
		return gguf.Value{}, false
	}
	if v, ok := get(kvs, "llama.rope.scaling.type"); !ok || v.V != "linear" {
		t.Errorf("scaling type %v", v)
	}
	if v, ok := get(kvs, "llama.rope.scaling.factor"); !ok || v.V != float32(2) {
		t.Errorf("scaling factor %v", v)
	}
	if v, ok := get(kvs, "llama.rope.freq_base"); !ok || v.V != float32(10000) {
		t.Errorf("default freq_base %v", v)
	}
	yarn := hparamsFrom(t, `{`+baseCfg+`,"rope_scaling":{"rope_type":"yarn","factor":4.0,"original_max_position_embeddings":32768}}`)
	if v, ok := get(hparamKVs(yarn, 1), "llama.rope.scaling.original_context_length"); !ok || v.V != uint32(32768) {
		t.Errorf("yarn original context %v", v)
	}
	var raw map[string]json.RawMessage
	json.Unmarshal([]byte(`{`+baseCfg+`,"rope_scaling":{"rope_type":"dynamic","factor":2.0}}`), &raw)
	if _, err := parseHParams(raw, "config.json"); err == nil {
		t.Error("dynamic rope scaling accepted")
	}
}

func TestSizeLabel(t *testing.T) {
	for n, want := range map[int64]string{260032: "260K", 4110420: "4.1M", 8030261248: "8.0B", 1235814400: "1.2B", 70_553_706_496: "71B"} {
		if got := sizeLabel(n); got != want {
			t.Errorf("sizeLabel(%d) = %q, want %q", n, got, want)
		}
	}
}
