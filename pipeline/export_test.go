package pipeline

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sattva/sattva/gguf"
)

// fakeTools write tiny real GGUF files and record their calls.
func fakeTools(t *testing.T, calls *[]string) ExportTools {
	// write writes a small GGUF with the metadata a converter writes (its
	// own keys, then kvs set, then defaults where missing).
	write := func(ctx context.Context, out string, own, kvs, defaults []gguf.KV) error {
		s := &gguf.Spec{KVs: own}
		for _, kv := range kvs {
			s.SetKV(kv.Key, kv.Value)
		}
		for _, kv := range defaults {
			if !slices.ContainsFunc(s.KVs, func(have gguf.KV) bool { return have.Key == kv.Key }) {
				s.KVs = append(s.KVs, kv)
			}
		}
		s.Tensors = []gguf.WriteTensor{{Name: "w", Dims: []uint64{2, 2}, Type: gguf.TypeF32, Data: gguf.BytesData(make([]byte, 16))}}
		return gguf.WriteFile(ctx, out, s, gguf.WriteOptions{})
	}
	own := func(tag string) []gguf.KV {
		return []gguf.KV{{Key: "general.architecture", Value: gguf.String("llama")}, {Key: "test.tag", Value: gguf.String(tag)}}
	}
	return ExportTools{
		ConvertBase: func(ctx context.Context, hf, out, outType, merge string, kvs, defaults []gguf.KV) error {
			*calls = append(*calls, "convert "+filepath.Base(out)+" "+outType+" merge="+filepath.Base(merge))
			return write(ctx, out, own(outType), kvs, defaults)
		},
		ConvertLoRA: func(ctx context.Context, adapter, base, out string, kvs []gguf.KV) error {
			*calls = append(*calls, "lora "+filepath.Base(out))
			return write(ctx, out, own("lora"), kvs, nil)
		},
		Quantize: func(ctx context.Context, in, out, ft, imatrix string) error {
			*calls = append(*calls, "quantize "+filepath.Base(in)+" "+filepath.Base(out)+" "+ft)
			f, err := gguf.Open(in) // the metadata is carried over, as llama-quantize does
			if err != nil {
				return err
			}
			defer f.Close()
			return write(ctx, out, f.KVs, []gguf.KV{{Key: "test.tag", Value: gguf.String(ft)}}, nil)
		},
	}
}

func writeAdapter(t *testing.T, p *Project) {
	os.MkdirAll(p.AdapterDir(), 0o755)
	os.WriteFile(filepath.Join(p.AdapterDir(), "adapter_config.json"), []byte(`{"r":8}`), 0o644)
	os.WriteFile(filepath.Join(p.AdapterDir(), "adapter_model.safetensors"), []byte("lora"), 0o644)
}

func TestExportMerged(t *testing.T) {
	p := mustProject(t, t.TempDir(), "template: plain\nexport:\n  types: [q4_K_M, q8_0]\nollama:\n  type: q8_0\n  system: Be exact.\n  parameters: {temperature: 0, repeat_penalty: 1}\n")
	writeAdapter(t, p)
	var calls []string
	res, err := Export(context.Background(), p, ExportOptions{Tools: fakeTools(t, &calls), Version: "v9", Command: "sattva export sattva.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	want := "convert m-f16.gguf f16 merge=adapter|quantize m-f16.gguf m-q4_K_M.gguf q4_K_M|convert m-q8_0.gguf q8_0 merge=adapter"
	if got := strings.Join(calls, "|"); got != want {
		t.Errorf("calls\n%s\nwant\n%s", got, want)
	}
	if _, err := os.Stat(filepath.Join(p.ExportDir(), "m-f16.gguf")); err == nil {
		t.Error("the intermediate f16 file was kept though f16 is not an export type")
	}
	mf, _ := os.ReadFile(res.Modelfile)
	if !strings.Contains(string(mf), "FROM ./m-q8_0.gguf\n") || strings.Contains(string(mf), "ADAPTER") || !strings.Contains(string(mf), `SYSTEM """Be exact."""`) ||
		!strings.Contains(string(mf), "PARAMETER repeat_penalty 1\n") {
		t.Errorf("Modelfile:\n%s", mf)
	}
	// manifest: every artifact's hash and size is the file's.
	var m Manifest
	b, err := os.ReadFile(filepath.Join(p.ExportDir(), "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Artifacts) != 3 || m.Adapter != "merge" || m.Provenance.Adapter == nil || len(m.Provenance.Datasets) != 1 ||
		m.Provenance.SattvaVersion != "v9" || m.Provenance.Commands[len(m.Provenance.Commands)-1] != "sattva export sattva.yaml" {
		t.Errorf("manifest %+v", m)
	}
	for _, a := range m.Artifacts {
		sum, size, err := HashFile(filepath.Join(p.ExportDir(), a.Path))
		if err != nil || sum != a.SHA256 || size != a.Size {
			t.Errorf("%s: manifest %s/%d, file %s/%d (%v)", a.Path, a.SHA256, a.Size, sum, size, err)
		}
	}
	ds, _, _ := HashFile(p.DataFiles()[0])
	if m.Provenance.Datasets[0].SHA256 != ds {
		t.Errorf("dataset hash %s, want %s", m.Provenance.Datasets[0].SHA256, ds)
	}
	// provenance in every GGUF's general.* keys
	for ty, path := range res.Models {
		f, err := gguf.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		name, _ := f.String("general.name")
		tag, _ := f.String("test.tag")
		base, _ := f.String("general.provenance.base.sha256")
		ad, _ := f.String("general.provenance.adapter.sha256")
		dsum, _ := f.String("general.provenance.dataset.0.sha256")
		cmds, _ := f.Strings("general.provenance.commands")
		if name != "m" || tag != ty || base != m.Provenance.Base.SHA256 || ad != m.Provenance.Adapter.SHA256 || dsum != ds || len(cmds) == 0 {
			t.Errorf("%s: name %q tag %q base %q adapter %q dataset %q commands %q", ty, name, tag, base, ad, dsum, cmds)
		}
		if len(f.Tensors) != 1 {
			t.Errorf("%s: tensors %v", ty, f.Tensors)
		}
		// the serving sampler (temperature 0, repeat_penalty 1) as general.sampling.*
		s, err := gguf.SamplingOf(f)
		if err != nil || s.Temp == nil || *s.Temp != 0 || s.PenaltyRepeat == nil || *s.PenaltyRepeat != 1 || s.TopP != nil {
			t.Errorf("%s: sampler %v (%v), want temp 0, penalty_repeat 1 only", ty, s, err)
		}
		f.Close()
	}
}

func TestExportSeparateAndNoAdapter(t *testing.T) {
	p := mustProject(t, t.TempDir(), "export:\n  adapter: separate\n  types: [f16, q4_K_M]\nollama:\n  type: q4_K_M\n  parameters: {temperature: 0.2}\n")
	writeAdapter(t, p)
	var calls []string
	res, err := Export(context.Background(), p, ExportOptions{Tools: fakeTools(t, &calls)})
	if err != nil {
		t.Fatal(err)
	}
	want := "convert m-base-f16.gguf f16 merge=.|quantize m-base-f16.gguf m-base-q4_K_M.gguf q4_K_M|lora m-lora.gguf"
	if got := strings.Join(calls, "|"); got != want {
		t.Errorf("calls\n%s\nwant\n%s", got, want)
	}
	mf, _ := os.ReadFile(res.Modelfile)
	if !strings.Contains(string(mf), "FROM ./m-base-q4_K_M.gguf\nADAPTER ./m-lora.gguf\n") {
		t.Errorf("Modelfile:\n%s", mf)
	}
	// the sampler goes into the model, not into the adapter
	if f, err := gguf.Open(res.Adapter); err != nil {
		t.Fatal(err)
	} else {
		if s, _ := gguf.SamplingOf(f); !s.IsZero() {
			t.Errorf("adapter carries a sampler: %v", s)
		}
		f.Close()
	}
	if f, err := gguf.Open(res.Models["f16"]); err != nil {
		t.Fatal(err)
	} else {
		if s, _ := gguf.SamplingOf(f); s.Temp == nil || *s.Temp != 0.2 {
			t.Errorf("f16 sampler %v, want temp 0.2", s)
		}
		f.Close()
	}

	// template llama3 over a base without a chat template: export writes one.
	for ty, path := range res.Models {
		f, err := gguf.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if ct, _ := f.String("tokenizer.chat_template"); ct != Llama3ChatTemplateJinja {
			t.Errorf("%s: tokenizer.chat_template %q", ty, ct)
		}
		f.Close()
	}

	// No adapter: the base alone, said in the notes.
	p = mustProject(t, t.TempDir(), "")
	calls = nil
	res, err = Export(context.Background(), p, ExportOptions{Tools: fakeTools(t, &calls)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest.Adapter != "none" || len(res.Manifest.Notes) != 1 || !strings.Contains(res.Manifest.Notes[0], "base model alone") ||
		!strings.Contains(calls[0], "merge=.") {
		t.Errorf("manifest %+v calls %v", res.Manifest, calls)
	}
}

func TestExportRefusesMissingBase(t *testing.T) {
	p := mustProject(t, t.TempDir(), "")
	os.Remove(filepath.Join(p.BaseDir(), "config.json"))
	var calls []string
	_, err := Export(context.Background(), p, ExportOptions{Tools: fakeTools(t, &calls)})
	if err == nil || len(calls) != 0 {
		t.Errorf("err %v calls %v", err, calls)
	}
}
