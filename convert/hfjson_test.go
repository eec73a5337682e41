package convert

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/fixture"
)

func object(t *testing.T, js string) hfObject {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatal(err)
	}
	return hfObject{file: "f.json", m: m}
}

// TestHFObjectNullMeansAbsent: for each reader, a null and a missing key are
// both absent, a wrong type is an *InputError naming the field, a present
// value is read.
func TestHFObjectNullMeansAbsent(t *testing.T) {
	o := object(t, `{"n": null, "i": 128004, "f": 0.6, "s": "x", "b": true, "list": [1, 2], "neg": -1, "str": "7", "frac": 1.5, "obj": {"k": null}}`)
	type res struct {
		ok  bool
		err bool
	}
	check := func(name string, ok bool, err error, want res) {
		t.Helper()
		if ok != want.ok || (err != nil) != want.err {
			t.Errorf("%s: ok=%v err=%v, want ok=%v err=%v", name, ok, err, want.ok, want.err)
		}
		var ie *InputError
		if err != nil && (!errors.As(err, &ie) || ie.File != "f.json" || ie.Field == "") {
			t.Errorf("%s: error %v does not name the file and field", name, err)
		}
	}
	for _, key := range []string{"n", "missing"} {
		_, ok, err := o.Int(key, 0, 1<<31)
		check("Int "+key, ok, err, res{})
		_, ok, err = o.Float(key)
		check("Float "+key, ok, err, res{})
		_, ok, err = o.String(key)
		check("String "+key, ok, err, res{})
		_, ok, err = o.Bool(key)
		check("Bool "+key, ok, err, res{})
		_, ok, err = o.TokenID(key)
		check("TokenID "+key, ok, err, res{})
		_, ok, err = o.Object(key)
		check("Object "+key, ok, err, res{})
	}
	if v, ok, err := o.Int("i", 0, 1<<31); v != 128004 || !ok || err != nil {
		t.Errorf("Int i = %d %v %v", v, ok, err)
	}
	if v, ok, err := o.TokenID("i"); v != 128004 || !ok || err != nil {
		t.Errorf("TokenID i = %d %v %v", v, ok, err)
	}
	if v, ok, err := o.Float("f"); v != 0.6 || !ok || err != nil {
		t.Errorf("Float f = %v %v %v", v, ok, err)
	}
	if v, ok, err := o.String("s"); v != "x" || !ok || err != nil {
		t.Errorf("String s = %q %v %v", v, ok, err)
	}
	if v, ok, err := o.Bool("b"); !v || !ok || err != nil {
		t.Errorf("Bool b = %v %v %v", v, ok, err)
	}
	// wrong types
	_, ok, err := o.Int("str", 0, 1<<31)
	check("Int str", ok, err, res{err: true})
	_, ok, err = o.Int("frac", 0, 1<<31)
	check("Int frac", ok, err, res{err: true})
	_, ok, err = o.Int("i", 0, 100)
	check("Int out of range", ok, err, res{err: true})
	_, ok, err = o.Float("s")
	check("Float s", ok, err, res{err: true})
	_, ok, err = o.String("i")
	check("String i", ok, err, res{err: true})
	_, ok, err = o.Bool("s")
	check("Bool s", ok, err, res{err: true})
	_, ok, err = o.TokenID("s")
	check("TokenID s", ok, err, res{err: true})
	_, ok, err = o.Object("s")
	check("Object s", ok, err, res{err: true})
	// a list of ids and a negative id name no single id
	_, ok, err = o.TokenID("list")
	check("TokenID list", ok, err, res{})
	_, ok, err = o.TokenID("neg")
	check("TokenID neg", ok, err, res{})
	// nested objects keep the path in errors
	in, ok, err := o.Object("obj")
	if !ok || err != nil || in.has("k") {
		t.Fatalf("Object obj: %v %v, k present %v", ok, err, in.has("k"))
	}
}

// TestConfigNulls: every config.json field that matters, null, missing,
// wrong-typed and present.
func TestConfigNulls(t *testing.T) {
	parse := func(extra string) (*HParams, error) {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal([]byte(`{`+baseCfg+extra+`}`), &raw); err != nil {
			t.Fatal(err)
		}
		return parseHParams(raw, "config.json")
	}
	tests := []struct {
		name  string
		extra string
		check func(*HParams) bool
		err   bool
	}{
		{"pad null", `,"pad_token_id":null`, func(h *HParams) bool { return h.PadTokenID == nil }, false},
		{"pad missing", ``, func(h *HParams) bool { return h.PadTokenID == nil }, false},
		{"pad present", `,"pad_token_id":128004`, func(h *HParams) bool { return h.PadTokenID != nil && *h.PadTokenID == 128004 }, false},
		{"pad wrong type", `,"pad_token_id":"128004"`, nil, true},
		{"pad -1 is none", `,"pad_token_id":-1`, func(h *HParams) bool { return h.PadTokenID == nil }, false},
		{"eos list is no single id", `,"eos_token_id":[128001,128008,128009]`, func(h *HParams) bool { return h.EosTokenID == nil }, false},
		{"bos null", `,"bos_token_id":null`, func(h *HParams) bool { return h.BosTokenID == nil }, false},
		{"bos present", `,"bos_token_id":128000`, func(h *HParams) bool { return h.BosTokenID != nil && *h.BosTokenID == 128000 }, false},
		{"unk null", `,"unk_token_id":null`, func(h *HParams) bool { return h.UnkTokenID == nil }, false},
		{"tie null", `,"tie_word_embeddings":null`, func(h *HParams) bool { return !h.TieEmbeddings }, false},
		{"tie true", `,"tie_word_embeddings":true`, func(h *HParams) bool { return h.TieEmbeddings }, false},
		{"tie wrong type", `,"tie_word_embeddings":"yes"`, nil, true},
		{"rope_theta null", `,"rope_theta":null`, func(h *HParams) bool { return h.RopeTheta == 10000 }, false},
		{"rope_theta wrong", `,"rope_theta":"5e5"`, nil, true},
		{"rope_scaling null", `,"rope_scaling":null`, func(h *HParams) bool { return h.Rope.Type == "" }, false},
		{"rope factor null", `,"rope_scaling":{"rope_type":"linear","factor":null}`, func(h *HParams) bool { return !h.Rope.hasFactor }, false},
		{"rope type wrong", `,"rope_scaling":{"rope_type":3,"factor":2}`, nil, true},
		{"head_dim null", `,"head_dim":null`, func(h *HParams) bool { return h.HeadDim == 128 }, false},
		{"kv heads null", `,"num_key_value_heads":null`, func(h *HParams) bool { return h.KVHeads == 32 }, false},
		{"context null", `,"max_position_embeddings":null,"n_positions":2048`, func(h *HParams) bool { return h.ContextLength == 2048 }, false},
		{"eps null", `,"rms_norm_eps":null`, func(h *HParams) bool { return h.RMSNormEps == 1e-6 }, false},
		{"name null", `,"_name_or_path":null`, func(h *HParams) bool { return h.NameOrPath == "" }, false},
		{"name wrong", `,"_name_or_path":5`, nil, true},
		{"vocab wrong", `,"vocab_size":"128256"`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := parse(tt.extra)
			if tt.err {
				var ie *InputError
				if !errors.As(err, &ie) || ie.Field == "" {
					t.Fatalf("err = %v, want an *InputError naming the field", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(h) {
				t.Errorf("%+v", h)
			}
		})
	}
	// the JSON keys repeat in baseCfg order; a null hidden_size is missing
	var raw map[string]json.RawMessage
	json.Unmarshal([]byte(`{"architectures":["LlamaForCausalLM"],"hidden_size":null,"intermediate_size":8,"num_hidden_layers":1,"num_attention_heads":1}`), &raw)
	if _, err := parseHParams(raw, "config.json"); err == nil {
		t.Error("hidden_size null accepted")
	}
	json.Unmarshal([]byte(`{"architectures":null,"hidden_size":8}`), &raw)
	if _, err := parseHParams(raw, "config.json"); err == nil {
		t.Error("architectures null accepted")
	}
}

// TestSpecialVocabNulls: tokenizer_config.json, special_tokens_map.json and
// generation_config.json with nulls.
func TestSpecialVocabNulls(t *testing.T) {
	load := func(files map[string]string, hp *HParams) (*specialVocab, error) {
		fsys := fstest.MapFS{}
		for k, v := range files {
			fsys[k] = &fstest.MapFile{Data: []byte(v)}
		}
		s := newSpecialVocab(1000, false)
		return s, s.load(fsys, "", hp, nil)
	}
	id := func(s *specialVocab, typ string) (int64, bool) {
		for _, e := range s.ids {
			if e.typ == typ {
				return e.id, true
			}
		}
		return 0, false
	}
	add := func(s *specialVocab, typ string) (bool, bool) {
		for _, e := range s.add {
			if e.typ == typ {
				return e.v, true
			}
		}
		return false, false
	}
	// add_*_token: null absent, true present, wrong type an error
	s, err := load(map[string]string{"tokenizer_config.json": `{"add_bos_token": null, "add_eos_token": true}`}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := add(s, "bos"); ok {
		t.Error("add_bos_token null written")
	}
	if v, ok := add(s, "eos"); !ok || !v {
		t.Error("add_eos_token true lost")
	}
	if _, err := load(map[string]string{"tokenizer_config.json": `{"add_bos_token": "yes"}`}, nil); err == nil {
		t.Error("add_bos_token \"yes\" accepted")
	}
	// chat_template null is absent: chat_template.jinja wins
	s, err = load(map[string]string{"tokenizer_config.json": `{"chat_template": null}`, "chat_template.jinja": "{{ x }}"}, nil)
	if err != nil || s.template != "{{ x }}" {
		t.Errorf("template %v, %v", s.template, err)
	}
	// a null *_token in tokenizer_config.json is absent: special_tokens_map.json fills it
	tok := &tokenizerJSON{AddedTokens: []addedToken{{ID: 5, Content: "<s>"}, {ID: 6, Content: "</s>"}}}
	loadTok := func(files map[string]string) *specialVocab {
		fsys := fstest.MapFS{}
		for k, v := range files {
			fsys[k] = &fstest.MapFile{Data: []byte(v)}
		}
		s := newSpecialVocab(1000, false)
		if err := s.load(fsys, "", nil, tok); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if v, ok := id(loadTok(map[string]string{"tokenizer_config.json": `{"bos_token": null}`, "special_tokens_map.json": `{"bos_token": "<s>"}`}), "bos"); !ok || v != 5 {
		t.Errorf("bos_token null + special_tokens_map: %d %v, want 5", v, ok)
	}
	if _, ok := id(loadTok(map[string]string{"tokenizer_config.json": `{"bos_token": null}`}), "bos"); ok {
		t.Error("bos_token null gave an id")
	}
	if v, ok := id(loadTok(map[string]string{"tokenizer_config.json": `{"eos_token": {"content": "</s>"}}`, "special_tokens_map.json": `{"eos_token": null}`}), "eos"); !ok || v != 6 {
		t.Errorf("eos_token present, map null: %d %v, want 6", v, ok)
	}
	// generation_config ids: null none, a list none, a number the id, a string an error
	pad := int64(7)
	s, err = load(map[string]string{"generation_config.json": `{"pad_token_id": null, "eos_token_id": [1, 2], "bos_token_id": 3}`}, &HParams{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := id(s, "pad"); ok {
		t.Error("generation_config pad_token_id null gave an id")
	}
	if _, ok := id(s, "eos"); ok {
		t.Error("generation_config eos list gave an id")
	}
	if v, ok := id(s, "bos"); !ok || v != 3 {
		t.Errorf("bos %d %v", v, ok)
	}
	if _, err := load(map[string]string{"generation_config.json": `{"pad_token_id": "0"}`}, nil); err == nil {
		t.Error("pad_token_id \"0\" accepted")
	}
	// config.json's id (through HParams) is used; null there leaves generation_config's
	s, _ = load(map[string]string{"generation_config.json": `{"pad_token_id": 9}`}, &HParams{PadTokenID: &pad})
	if v, _ := id(s, "pad"); v != 7 {
		t.Errorf("config pad %d, want 7 (config.json before generation_config.json)", v)
	}
	s, _ = load(map[string]string{"generation_config.json": `{"pad_token_id": 9}`}, &HParams{})
	if v, _ := id(s, "pad"); v != 9 {
		t.Errorf("generation_config pad %d, want 9", v)
	}
}

// copyTiny makes a copy of the llama31-tiny checkpoint whose files can be
// edited; the large files are symbolic links to the fixture.
func copyTiny(t *testing.T, sub string) string {
	t.Helper()
	src := fixture.Path(t, "llama31-tiny/"+sub)
	dst := filepath.Join(t.TempDir(), sub)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if filepath.Ext(e.Name()) == ".json" && e.Name() != "tokenizer.json" {
			b, err := os.ReadFile(filepath.Join(src, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.Symlink(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// setJSON sets (or, for a nil value, writes null into) keys of a JSON file.
func setJSON(t *testing.T, path string, set map[string]any) {
	t.Helper()
	var m map[string]any
	b, err := os.ReadFile(path)
	if err == nil {
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
	} else {
		m = map[string]any{}
	}
	for k, v := range set {
		m[k] = v
	}
	out, _ := json.Marshal(m)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func convertEdited(t *testing.T, dir string) *gguf.File {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.gguf")
	if _, err := Convert(context.Background(), dir, out, Options{OutType: gguf.TypeF32, Threads: 2}); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestConvertPadTokenNull: the case. A config.json whose pad_token_id
// is null writes no padding id (it was 0, "!" in Llama 3's vocabulary); one
// with 128004 writes 128004.
func TestConvertPadTokenNull(t *testing.T) {
	dir := copyTiny(t, "hf")
	setJSON(t, filepath.Join(dir, "config.json"), map[string]any{"pad_token_id": nil})
	f := convertEdited(t, dir)
	if v, ok := f.Get("tokenizer.ggml.padding_token_id"); ok {
		t.Errorf("pad_token_id null wrote padding id %v", v.V)
	}
	setJSON(t, filepath.Join(dir, "config.json"), map[string]any{"pad_token_id": 128004})
	f = convertEdited(t, dir)
	if v, err := f.Uint32("tokenizer.ggml.padding_token_id"); err != nil || v != 128004 {
		t.Errorf("padding id %d, %v; want 128004", v, err)
	}
	// the same through generation_config.json
	setJSON(t, filepath.Join(dir, "config.json"), map[string]any{"pad_token_id": nil})
	setJSON(t, filepath.Join(dir, "generation_config.json"), map[string]any{"pad_token_id": nil})
	f = convertEdited(t, dir)
	if _, ok := f.Get("tokenizer.ggml.padding_token_id"); ok {
		t.Error("generation_config pad_token_id null wrote a padding id")
	}
}

// TestConvertSampling: generation_config.json's sampler fields become
// general.sampling.* with gguf-py's names, types and order, just before
// general.name; nulls and unread fields write nothing; a wrong type fails.
func TestConvertSampling(t *testing.T) {
	dir := copyTiny(t, "hf")
	setJSON(t, filepath.Join(dir, "generation_config.json"), map[string]any{
		"temperature": 0.6, "top_p": 0.9, "top_k": 40, "min_p": nil, "repetition_penalty": 1.1,
		"penalty_repeat": 1.05, "penalty_last_n": 64, "mirostat": 0, "mirostat_tau": 5, "mirostat_eta": 0.1,
		"xtc_probability": 0.5, "xtc_threshold": 0.1, "sequence": "top_k;top_p;temperature", "do_sample": true,
	})
	f := convertEdited(t, dir)
	want := []gguf.KV{
		{Key: "general.architecture", Value: gguf.String("llama")},
		{Key: "general.type", Value: gguf.String("model")},
		{Key: gguf.KeySamplingSequence, Value: gguf.String("top_k;top_p;temperature")},
		{Key: gguf.KeySamplingTopK, Value: gguf.Int32(40)},
		{Key: gguf.KeySamplingTopP, Value: gguf.Float32(0.9)},
		{Key: gguf.KeySamplingXTCProbability, Value: gguf.Float32(0.5)},
		{Key: gguf.KeySamplingXTCThreshold, Value: gguf.Float32(0.1)},
		{Key: gguf.KeySamplingTemp, Value: gguf.Float32(0.6)},
		{Key: gguf.KeySamplingPenaltyLastN, Value: gguf.Int32(64)},
		{Key: gguf.KeySamplingPenaltyRepeat, Value: gguf.Float32(1.05)},
		{Key: gguf.KeySamplingMirostat, Value: gguf.Int32(0)},
		{Key: gguf.KeySamplingMirostatTau, Value: gguf.Float32(5)},
		{Key: gguf.KeySamplingMirostatEta, Value: gguf.Float32(0.1)},
	}
	if len(f.KVs) < len(want)+1 {
		t.Fatalf("%d keys", len(f.KVs))
	}
	for i, w := range want {
		got := f.KVs[i]
		if got.Key != w.Key || !gguf.ValuesEqual(got.Value, w.Value) {
			t.Errorf("key %d: %s = %v (%v), want %s = %v (%v)", i, got.Key, got.Value.V, got.Value.Type, w.Key, w.Value.V, w.Value.Type)
		}
	}
	if f.KVs[len(want)].Key != "general.name" {
		t.Errorf("key after the sampler: %s, want general.name", f.KVs[len(want)].Key)
	}
	s, err := gguf.SamplingOf(f)
	if err != nil || s.Temp == nil || *s.Temp != 0.6 || s.MinP != nil {
		t.Errorf("SamplingOf: %+v %v", s, err)
	}
	// general.sampling.* among ExtraKVs (sattva export's serving sampler)
	// replace the checkpoint's sampler as a whole, in the same place
	out0 := filepath.Join(t.TempDir(), "extra.gguf")
	if _, err := Convert(context.Background(), dir, out0, Options{OutType: gguf.TypeF32, Threads: 2,
		ExtraKVs: []gguf.KV{{Key: gguf.KeySamplingTemp, Value: gguf.Float32(0)}}}); err != nil {
		t.Fatal(err)
	}
	fx, err := gguf.Open(out0)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := gguf.SamplingOf(fx); s.String() != "temp 0" || fx.KVs[2].Key != gguf.KeySamplingTemp || fx.KVs[3].Key != "general.name" {
		t.Errorf("ExtraKVs sampler: %v; keys %s, %s", s, fx.KVs[2].Key, fx.KVs[3].Key)
	}
	fx.Close()
	setJSON(t, filepath.Join(dir, "generation_config.json"), map[string]any{"top_k": "40"})
	out := filepath.Join(t.TempDir(), "bad.gguf")
	_, err = Convert(context.Background(), dir, out, Options{OutType: gguf.TypeF32, Threads: 2})
	var ie *InputError
	if !errors.As(err, &ie) || ie.Field != "top_k" {
		t.Errorf("top_k \"40\": %v, want an *InputError for top_k", err)
	}
	// an unreadable generation_config.json gives no sampler, as llama.cpp
	if err := os.WriteFile(filepath.Join(dir, "generation_config.json"), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	f = convertEdited(t, dir)
	if s, _ := gguf.SamplingOf(f); !s.IsZero() {
		t.Errorf("invalid generation_config gave %v", s)
	}
}

// TestAdapterConfigNulls: adapter_config.json as PEFT writes it (nulls for
// unset options) converts; a null r or lora_alpha is missing; wrong types fail.
func TestAdapterConfigNulls(t *testing.T) {
	base := fixture.Path(t, "llama31-tiny/hf")
	for _, tt := range []struct {
		name  string
		set   map[string]any
		field string // "" for success
	}{
		{"as PEFT writes it", nil, ""},
		{"modules_to_save null", map[string]any{"modules_to_save": nil, "rank_pattern": nil, "use_rslora": nil}, ""},
		{"r null", map[string]any{"r": nil}, "r"},
		{"alpha null", map[string]any{"lora_alpha": nil}, "lora_alpha"},
		{"use_rslora wrong", map[string]any{"use_rslora": "yes"}, "use_rslora"},
		{"r wrong", map[string]any{"r": "8"}, "r"},
		{"modules_to_save present", map[string]any{"modules_to_save": []string{"lm_head"}}, "modules_to_save"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyTiny(t, "lora")
			if tt.set != nil {
				setJSON(t, filepath.Join(dir, "adapter_config.json"), tt.set)
			}
			out := filepath.Join(t.TempDir(), "a.gguf")
			_, err := ConvertLoRA(context.Background(), dir, base, out, LoRAOptions{})
			if tt.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var ie *InputError
			var ue *UnsupportedError
			switch {
			case errors.As(err, &ie):
				if ie.Field != tt.field {
					t.Errorf("field %q, want %q (%v)", ie.Field, tt.field, err)
				}
			case errors.As(err, &ue):
				if ue.Field != tt.field {
					t.Errorf("field %q, want %q (%v)", ue.Field, tt.field, err)
				}
			default:
				t.Errorf("err = %v, want one naming %s", err, tt.field)
			}
		})
	}
}

// TestRopeScalingOrder: the rope-scaling keys stand just before
// llama.rope.freq_base, as the newest converter writes them; YaRN's optional
// parameters are written when given.
func TestRopeScalingOrder(t *testing.T) {
	keys := func(h *HParams) []string {
		var out []string
		for _, kv := range hparamKVs(h, 1) {
			out = append(out, kv.Key)
		}
		return out
	}
	lin := hparamsFrom(t, `{`+baseCfg+`,"rope_scaling":{"type":"linear","factor":2.0}}`)
	got := keys(lin)
	want := []string{"llama.block_count", "llama.context_length", "llama.embedding_length", "llama.feed_forward_length",
		"llama.attention.head_count", "llama.attention.head_count_kv", "llama.rope.scaling.type", "llama.rope.scaling.factor",
		"llama.rope.freq_base", "llama.attention.layer_norm_rms_epsilon", "llama.attention.key_length", "llama.attention.value_length",
		"general.file_type", "llama.vocab_size", "llama.rope.dimension_count"}
	if len(got) != len(want) {
		t.Fatalf("keys %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("key %d = %s, want %s", i, got[i], want[i])
		}
	}
	yarn := hparamsFrom(t, `{`+baseCfg+`,"rope_scaling":{"rope_type":"yarn","factor":4.0,"original_max_position_embeddings":32768,"beta_fast":32,"beta_slow":1,"attention_factor":null,"attn_factor":0.5,"extrapolation_factor":1}}`)
	kvs := hparamKVs(yarn, 1)
	var ys []string
	for _, kv := range kvs {
		ys = append(ys, kv.Key)
	}
	wantY := []string{"llama.rope.scaling.type", "llama.rope.scaling.factor", "llama.rope.scaling.original_context_length",
		"llama.rope.scaling.yarn_ext_factor", "llama.rope.scaling.yarn_attn_factor", "llama.rope.scaling.yarn_beta_fast",
		"llama.rope.scaling.yarn_beta_slow", "llama.rope.freq_base"}
	for i, k := range wantY {
		if ys[6+i] != k {
			t.Errorf("yarn key %d = %s, want %s", 6+i, ys[6+i], k)
		}
	}
	if v := kvs[6+4].Value.V; v != float32(0.5) {
		t.Errorf("yarn_attn_factor %v, want attn_factor's 0.5 (attention_factor is null)", v)
	}
}
