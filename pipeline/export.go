package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sattva/sattva/convquant"
	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/atomicfile"
)

// ExportTools are the conversion steps Export calls. The command line passes
// package convquant's; tests pass fakes. Each writes its output atomically
// and honours ctx. Metadata is written with the file: kvs are set as the
// converter writes its keys (a key it writes replaced in place, a new one
// appended), then each of defaults whose key is still missing is appended.
type ExportTools struct {
	// ConvertBase converts the HF folder hfDir to a GGUF of outType ("f16",
	// "bf16", "f32", "q8_0": the types convquant.DirectType accepts),
	// merging the PEFT adapter in mergeAdapter when it is not "".
	ConvertBase func(ctx context.Context, hfDir, out, outType, mergeAdapter string, kvs, defaults []gguf.KV) error
	// ConvertLoRA converts a PEFT adapter to a GGUF LoRA adapter for baseDir.
	ConvertLoRA func(ctx context.Context, adapterDir, baseDir, out string, kvs []gguf.KV) error
	// Quantize writes in quantized to fileType ("q4_K_M", "q8_0", …) as out,
	// with the importance matrix file imatrix unless it is ""; the metadata
	// of in is carried over.
	Quantize func(ctx context.Context, in, out, fileType, imatrix string) error
	// IMatrix computes an importance matrix of model over at most chunks
	// chunks of chunk tokens of the data files and writes it to out (nil:
	// export.imatrix auto quantizes without one).
	IMatrix func(ctx context.Context, model, out string, data []string, chunk, chunks int) error
}

// ExportOptions control Export.
type ExportOptions struct {
	Tools ExportTools
	// Version is sattva's version, recorded in the manifest and the GGUFs.
	Version string
	// Command is the command line that runs the export, recorded as provenance.
	Command string
	// NoAdapter exports the base model alone even when an adapter exists.
	NoAdapter bool
	Logger    *slog.Logger
	// Hashes caches file hashes between runs (nil: none).
	Hashes *HashCache
	// BaseModel also writes the base model alone, quantized to eval.type,
	// as <name>-base-<type>.gguf (kind "base-model"), for eval's side-by-side
	// comparison. Separate mode has it already (the FROM file).
	BaseModel bool
}

// Artifact is one file Export wrote.
type Artifact struct {
	Path   string `json:"path"` // relative to the export folder
	Kind   string `json:"kind"` // "model", "adapter", "modelfile"
	Type   string `json:"type,omitempty"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Input is a hashed input of a stage.
type Input struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Provenance says what an artifact was made from.
type Provenance struct {
	Base    Input  `json:"base"`
	Adapter *Input `json:"adapter,omitempty"`
	// Trained is the native trainer's checkpoint and Training how it was
	// trained (adapter_mode native).
	Trained       *Input   `json:"trained,omitempty"`
	Training      string   `json:"training,omitempty"`
	Datasets      []Input  `json:"datasets,omitempty"`
	SattvaVersion string   `json:"sattva_version"`
	Commands      []string `json:"commands"`
}

// Manifest is manifest.json in the export folder.
type Manifest struct {
	Name       string     `json:"name"`
	Created    string     `json:"created"` // RFC 3339, UTC
	Template   string     `json:"template"`
	Adapter    string     `json:"adapter_mode"` // merge, separate, native, none
	Provenance Provenance `json:"provenance"`
	Artifacts  []Artifact `json:"artifacts"`
	Modelfile  string     `json:"modelfile"`
	// Notes says what was left out and why (no adapter: base only).
	Notes []string `json:"notes,omitempty"`
}

// ExportResult is what Export produced.
type ExportResult struct {
	Dir       string
	Manifest  *Manifest
	Models    map[string]string // export type → absolute GGUF path
	Adapter   string            // GGUF LoRA adapter (separate mode)
	BaseModel string            // the base alone (ExportOptions.BaseModel, merge mode)
	Modelfile string            // absolute path
}

// Export converts the base (with the trained adapter merged or beside it),
// quantizes to each export type, writes provenance into every GGUF's
// general.* keys, the Modelfile and manifest.json. Without an adapter in
// AdapterDir it exports the base model and says so in the manifest notes.
func Export(ctx context.Context, p *Project, o ExportOptions) (*ExportResult, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.Tools.ConvertBase == nil || o.Tools.Quantize == nil {
		return nil, errors.New("pipeline: Export needs ConvertBase and Quantize tools")
	}
	if err := p.CheckBase(); err != nil {
		return nil, err
	}
	adapter := p.AdapterDir()
	var notes []string
	native, isNative := p.NativeCheckpoint()
	if isNative && !o.NoAdapter {
		adapter = "" // the native trainer's weights replace the base's
	} else if _, err := os.Stat(filepath.Join(adapter, "adapter_config.json")); err != nil || o.NoAdapter {
		if o.NoAdapter {
			notes = append(notes, "exported the base model without the adapter (asked for)")
		} else {
			notes = append(notes, "no trained adapter in "+adapter+": exported the base model alone")
		}
		adapter = ""
	}
	mode := p.Export.Adapter
	if adapter == "" {
		mode = "none"
	}
	isNative = isNative && !o.NoAdapter
	if isNative {
		mode = ModeNative
	}
	if mode == "separate" && o.Tools.ConvertLoRA == nil {
		return nil, errors.New("pipeline: export.adapter separate needs the ConvertLoRA tool")
	}

	prov, err := p.provenance(adapter, o)
	if err != nil {
		return nil, err
	}
	if isNative {
		if err := p.nativeProvenance(prov, native, o); err != nil {
			return nil, err
		}
	}
	dir := p.ExportDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	outType := strings.ToLower(p.Export.OutType)
	res := &ExportResult{Dir: dir, Models: map[string]string{}}
	stem := p.Name
	if mode == "separate" {
		stem = p.Name + "-base"
	}
	x := &exportJob{ctx: ctx, p: p, o: o, log: log, dir: dir, stem: stem, outType: outType, res: res, prov: prov}
	if mode == "merge" {
		x.merge = adapter
	}
	x.conv = func(ctx context.Context, out, outType, merge string, kvs, defaults []gguf.KV) error {
		return o.Tools.ConvertBase(ctx, p.BaseDir(), out, outType, merge, kvs, defaults)
	}
	if isNative {
		x.conv = func(ctx context.Context, out, outType, _ string, kvs, defaults []gguf.KV) error {
			return nativeAs(ctx, o.Tools, native, out, outType, kvs, defaults)
		}
	}
	x.kvs = prov.KVs(p.Name)
	// The serving sampler as general.sampling.*, in place of the base's
	// generation_config sampler, so that llama.cpp's tools sample as the
	// Modelfile says (convert replaces the whole sampler when kvs hold one).
	x.kvs = append(x.kvs, ServingSampling(p.ModelfileParameters()).KVs()...)
	if p.Template == "llama3" {
		// A base model's tokenizer often has no chat template (Llama-3.1-8B
		// has none); llama.cpp then cannot render chats for sattva eval or
		// sattva run. Write the one the model was trained with.
		x.defaults = []gguf.KV{{Key: "tokenizer.chat_template", Value: gguf.String(Llama3ChatTemplateJinja)}}
	}
	floatPath := filepath.Join(dir, stem+"-"+outType+".gguf")
	keepFloat, err := x.models(floatPath)
	if err != nil {
		return nil, err
	}
	notes = append(notes, x.notes...)
	if o.BaseModel && (mode == "merge" || mode == ModeNative) {
		if err := x.baseModel(); err != nil {
			return nil, err
		}
	}
	if !keepFloat {
		os.Remove(floatPath)
	}
	if mode == "separate" {
		res.Adapter = filepath.Join(dir, p.Name+"-lora.gguf")
		var adapterKVs []gguf.KV // a sampler belongs to the model, not the adapter
		for _, kv := range x.kvs {
			if !isSamplingKey(kv.Key) {
				adapterKVs = append(adapterKVs, kv)
			}
		}
		if err := o.Tools.ConvertLoRA(ctx, adapter, p.BaseDir(), res.Adapter, adapterKVs); err != nil {
			return nil, fmt.Errorf("converting the adapter %s: %w", adapter, err)
		}
	}
	if err := writeExportModelfile(p, o, res); err != nil {
		return nil, err
	}
	if res.Manifest, err = writeManifest(p, res, prov, mode, notes); err != nil {
		return nil, err
	}
	return res, nil
}

// exportJob is the state Export's conversion steps share.
type exportJob struct {
	ctx      context.Context
	p        *Project
	o        ExportOptions
	log      *slog.Logger
	dir      string
	stem     string // file names: <stem>-<type>.gguf
	outType  string // the float type converted first (export.outtype)
	merge    string // the adapter merged while converting ("" for none)
	kvs      []gguf.KV
	defaults []gguf.KV
	prov     *Provenance
	imatrix  string   // the importance matrix quantizing uses ("" for none)
	notes    []string // what the manifest says about the models
	res      *ExportResult
	// conv writes the exported model as outType: from the HF folder (with
	// merge merged), or from the native trainer's F32 checkpoint.
	conv func(ctx context.Context, out, outType, merge string, kvs, defaults []gguf.KV) error
}

// models converts the float file, then writes every export type from it (or
// from the HF weights again, for types the converter writes itself). It
// reports whether the float file is an export type itself (to keep).
func (x *exportJob) models(floatPath string) (keepFloat bool, err error) {
	ctx, p, o, log, res := x.ctx, x.p, x.o, x.log, x.res
	merge, outType := x.merge, x.outType
	log.Info("converting", "base", p.BaseDir(), "merge", merge, "out", floatPath)
	if err := x.conv(ctx, floatPath, outType, merge, x.kvs, x.defaults); err != nil {
		return false, fmt.Errorf("converting %s: %w", p.BaseDir(), err)
	}
	if len(x.defaults) > 0 {
		// The adapter carries the template too when the base had none.
		if added, err := hasValue(floatPath, x.defaults[0]); err != nil {
			return false, err
		} else if added {
			x.kvs = append(x.kvs, x.defaults[0])
		}
	}
	imatrix, imNote, err := exportIMatrix(ctx, p, o, x.prov, floatPath, log)
	if err != nil {
		return false, err
	}
	x.imatrix = imatrix
	if imNote != "" {
		x.notes = append(x.notes, imNote)
	}
	for _, ty := range p.Export.Types {
		lt := strings.ToLower(ty)
		if lt == outType {
			res.Models[ty] = floatPath
			keepFloat = true
			continue
		}
		out := filepath.Join(x.dir, x.stem+"-"+ty+".gguf")
		if convertsDirectly(lt) {
			// Another float type, or Q8_0: convert again from the HF weights,
			// as llama.cpp's convert_hf_to_gguf.py --outtype does (rows that
			// Q8_0's 32-element blocks do not divide stay F16 there, where
			// llama-quantize would refuse the file).
			if err := x.conv(ctx, out, lt, merge, x.kvs, x.defaults); err != nil {
				return false, fmt.Errorf("converting %s to %s: %w", p.BaseDir(), ty, err)
			}
		} else {
			log.Info("quantizing", "type", ty, "out", out)
			if err := o.Tools.Quantize(ctx, floatPath, out, ty, x.imatrix); err != nil {
				return false, fmt.Errorf("quantizing to %s: %w", ty, err)
			}
		}
		res.Models[ty] = out
	}
	return keepFloat, nil
}

// baseModel writes the base model alone, of eval.type, for eval's
// side-by-side comparison (ExportOptions.BaseModel, merge and native modes).
func (x *exportJob) baseModel() error {
	ctx, p, o, res, dir, outType := x.ctx, x.p, x.o, x.res, x.dir, x.outType
	ty := p.Eval.Type
	bf := filepath.Join(dir, p.Name+"-base-"+outType+".gguf")
	res.BaseModel = filepath.Join(dir, p.Name+"-base-"+ty+".gguf")
	baseKVs := append([]gguf.KV{}, x.kvs...)
	for i := range baseKVs {
		if baseKVs[i].Key == "general.name" {
			baseKVs[i].Value = gguf.String(p.Name + "-base")
		}
	}
	baseKVs = withoutKey(baseKVs, "general.provenance.adapter.sha256")
	baseKVs = withoutKey(baseKVs, "general.provenance.trained.sha256")
	baseKVs = withoutKey(baseKVs, "general.provenance.training")
	if err := o.Tools.ConvertBase(ctx, p.BaseDir(), bf, outType, "", baseKVs, x.defaults); err != nil {
		return fmt.Errorf("converting the base model for comparison: %w", err)
	}
	switch lt := strings.ToLower(ty); {
	case lt == outType:
		res.BaseModel = bf
	case convertsDirectly(lt):
		err := o.Tools.ConvertBase(ctx, p.BaseDir(), res.BaseModel, lt, "", baseKVs, x.defaults)
		os.Remove(bf)
		if err != nil {
			return fmt.Errorf("converting the base model to %s: %w", ty, err)
		}
	default:
		err := o.Tools.Quantize(ctx, bf, res.BaseModel, ty, "")
		os.Remove(bf)
		if err != nil {
			return fmt.Errorf("quantizing the base model to %s: %w", ty, err)
		}
	}
	return nil
}

// writeExportModelfile writes the export folder's Modelfile (res.Modelfile).
func writeExportModelfile(p *Project, o ExportOptions, res *ExportResult) error {
	dir := res.Dir
	spec := ModelfileSpec{
		From:       "./" + filepath.Base(res.Models[p.Ollama.Type]),
		Template:   p.Template,
		System:     p.Ollama.System,
		Parameters: p.ModelfileParameters(),
		Stops:      p.Sampler.Stop,
		Comment: []string{
			fmt.Sprintf("%s, written by sattva %s export from %s", p.Name, o.Version, filepath.Base(p.File)),
			"ollama create " + p.Name + " -f Modelfile",
		},
	}
	if res.Models[p.Ollama.Type] == "" {
		for _, ty := range p.Export.Types {
			if strings.EqualFold(ty, p.Ollama.Type) {
				spec.From = "./" + filepath.Base(res.Models[ty])
			}
		}
	}
	if res.Adapter != "" {
		spec.Adapter = "./" + filepath.Base(res.Adapter)
	}
	mf, err := Modelfile(spec)
	if err != nil {
		return err
	}
	res.Modelfile = filepath.Join(dir, "Modelfile")
	if err := atomicfile.WriteFile(res.Modelfile, []byte(mf), 0o644); err != nil {
		return err
	}

	return nil
}

// writeManifest hashes every artifact and writes manifest.json.
func writeManifest(p *Project, res *ExportResult, prov *Provenance, mode string, notes []string) (*Manifest, error) {
	m := &Manifest{Name: p.Name, Created: time.Now().UTC().Format(time.RFC3339), Template: p.Template,
		Adapter: mode, Provenance: *prov, Modelfile: "Modelfile", Notes: notes}
	add := func(path, kind, typ string) error {
		sum, size, err := HashFile(path)
		if err != nil {
			return err
		}
		m.Artifacts = append(m.Artifacts, Artifact{Path: filepath.Base(path), Kind: kind, Type: typ, SHA256: sum, Size: size})
		return nil
	}
	for _, ty := range p.Export.Types {
		if err := add(res.Models[ty], "model", ty); err != nil {
			return nil, err
		}
	}
	if res.Adapter != "" {
		if err := add(res.Adapter, "adapter", "f16"); err != nil {
			return nil, err
		}
	}
	if res.BaseModel != "" {
		if err := add(res.BaseModel, "base-model", p.Eval.Type); err != nil {
			return nil, err
		}
	}
	if err := add(res.Modelfile, "modelfile", ""); err != nil {
		return nil, err
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := atomicfile.WriteFile(filepath.Join(res.Dir, "manifest.json"), append(b, '\n'), 0o644); err != nil {
		return nil, err
	}
	return m, nil
}

// convertsDirectly reports whether the export type t is one that
// ExportTools.ConvertBase writes itself (convquant.DirectType).
func convertsDirectly(t string) bool {
	ft, err := convquant.ParseOutType(t)
	if err != nil {
		return false
	}
	_, ok := convquant.DirectType(ft)
	return ok
}

// provenance hashes the export's inputs.
func (p *Project) provenance(adapter string, o ExportOptions) (*Provenance, error) {
	hc := o.Hashes
	base, err := hc.Dir(p.BaseDir())
	if err != nil {
		return nil, err
	}
	prov := &Provenance{Base: base, SattvaVersion: o.Version}
	if adapter != "" {
		a, err := hc.Dir(adapter)
		if err != nil {
			return nil, err
		}
		prov.Adapter = &a
	}
	for _, f := range p.DataFiles() {
		in, err := hc.File(f)
		if err != nil {
			// The data may be gone by export time (only the adapter matters then).
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, err
		}
		prov.Datasets = append(prov.Datasets, in)
	}
	if b, err := os.ReadFile(filepath.Join(p.TrainDir(), "result.json")); err == nil && adapter != "" {
		var tr TrainResult
		if json.Unmarshal(b, &tr) == nil && tr.Command != "" {
			prov.Commands = append(prov.Commands, tr.Command)
		}
	}
	if o.Command != "" {
		prov.Commands = append(prov.Commands, o.Command)
	}
	return prov, nil
}

// KVs returns the provenance as GGUF metadata: general.name, the standard
// general.base_model.* and general.dataset.* keys, and general.provenance.*
// with the hashes, sattva's version and the commands.
func (pr *Provenance) KVs(name string) []gguf.KV {
	kv := []gguf.KV{
		{Key: "general.name", Value: gguf.String(name)},
		{Key: "general.base_model.count", Value: gguf.Uint32(1)},
		{Key: "general.base_model.0.name", Value: gguf.String(filepath.Base(pr.Base.Path))},
		{Key: "general.provenance.base.sha256", Value: gguf.String(pr.Base.SHA256)},
	}
	if pr.Adapter != nil {
		kv = append(kv, gguf.KV{Key: "general.provenance.adapter.sha256", Value: gguf.String(pr.Adapter.SHA256)})
	}
	if pr.Trained != nil {
		kv = append(kv, gguf.KV{Key: "general.provenance.trained.sha256", Value: gguf.String(pr.Trained.SHA256)},
			gguf.KV{Key: "general.provenance.training", Value: gguf.String(pr.Training)})
	}
	if len(pr.Datasets) > 0 {
		kv = append(kv, gguf.KV{Key: "general.dataset.count", Value: gguf.Uint32(uint32(len(pr.Datasets)))})
		for i, d := range pr.Datasets {
			kv = append(kv,
				gguf.KV{Key: fmt.Sprintf("general.dataset.%d.name", i), Value: gguf.String(filepath.Base(d.Path))},
				gguf.KV{Key: fmt.Sprintf("general.provenance.dataset.%d.sha256", i), Value: gguf.String(d.SHA256)})
		}
	}
	kv = append(kv, gguf.KV{Key: "general.provenance.sattva_version", Value: gguf.String(pr.SattvaVersion)})
	if len(pr.Commands) > 0 {
		kv = append(kv, gguf.KV{Key: "general.provenance.commands", Value: gguf.Strings(pr.Commands)})
	}
	return kv
}

// Llama3ChatTemplateJinja is the chat template written into a llama3 export
// whose base tokenizer has none: the turns of LLaMA-Factory's llama3 template
// (BOS comes from the tokenizer). llama.cpp recognises it as its built-in
// "llama3" template.
const Llama3ChatTemplateJinja = "{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] + '<|eot_id|>' }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"

// hasValue reports whether the GGUF at path has kv's key with kv's value.
func hasValue(path string, kv gguf.KV) (bool, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	v, ok := f.Get(kv.Key)
	return ok && gguf.ValuesEqual(v, kv.Value), nil
}

func withoutKey(kvs []gguf.KV, key string) []gguf.KV {
	out := kvs[:0:0]
	for _, kv := range kvs {
		if kv.Key != key {
			out = append(out, kv)
		}
	}
	return out
}
