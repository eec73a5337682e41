package convert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"strings"

	"github.com/sattva/sattva/convert/safetensors"
	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/gguf/modelcheck"
)

// LoRAOptions tune ConvertLoRA.
type LoRAOptions struct {
	Threads  int
	Progress func(done, total int64)
	DryRun   bool
	Name     string // general.name (default: from the adapter folder's name)
	Logger   *slog.Logger
	// ExtraKVs are set in the metadata as it is written (as Options.ExtraKVs).
	ExtraKVs []gguf.KV
}

// adapter is a PEFT LoRA folder: adapter_config.json and
// adapter_model.safetensors.
type adapter struct {
	dir, file, cfgFile string
	rank               int64
	alpha              float64
	rslora             bool
	userScale          float64
	model              *safetensors.Model
	deltas             map[string]*loraDelta // by base HF tensor name
	order              []string              // base names in the adapter's tensor order
}

func (a *adapter) close() { a.model.Close() }

func (a *adapter) sortedDeltas() []*loraDelta {
	out := make([]*loraDelta, 0, len(a.order))
	for _, n := range a.order {
		out = append(out, a.deltas[n])
	}
	return out
}

// scale is the factor applied to B·A when merging.
func (a *adapter) scale() float64 {
	s := a.userScale
	if a.rslora {
		return s * a.alpha / math.Sqrt(float64(a.rank))
	}
	return s * a.alpha / float64(a.rank)
}

// loraDelta is one adapted weight: W (out×in) += scale·B(out×r)·A(r×in).
type loraDelta struct {
	base, peftName string
	a, b           *safetensors.Tensor
	out, in, r     int64
	owner          *adapter
	used           bool
}

// readFloats reads a whole small tensor as float32.
func readFloats(t *safetensors.Tensor) ([]float32, error) {
	raw := make([]byte, t.Size)
	if _, err := t.ReadAt(raw, 0); err != nil {
		return nil, err
	}
	v := make([]float32, t.NumElements())
	if err := decodeRows(v, raw, t.DType); err != nil {
		return nil, fmt.Errorf("convert: %s: tensor %q: %w", t.FileName(), t.Name, err)
	}
	return v, nil
}

// addRows adds scale·B[r0:r0+n]·A to v, which holds n rows of the base weight.
func (d *loraDelta) addRows(v []float32, r0, n int64, A, B []float32) {
	s := float32(d.owner.scale())
	in, r := d.in, d.r
	acc := make([]float32, in)
	for i := int64(0); i < n; i++ {
		clear(acc)
		brow := B[(r0+i)*r : (r0+i+1)*r]
		for k, bk := range brow {
			if bk == 0 {
				continue
			}
			arow := A[int64(k)*in : int64(k+1)*in]
			for c, av := range arow {
				acc[c] += bk * av
			}
		}
		row := v[i*in : (i+1)*in]
		for c := range row {
			row[c] += s * acc[c]
		}
	}
}

// loadAdapter reads and validates a PEFT LoRA adapter folder against the base
// model's hyperparameters. Everything llama.cpp's adapter format (or an exact
// merge) cannot express is refused with the reason.
func loadAdapter(dir string, hp *HParams) (*adapter, error) {
	fsys := os.DirFS(dir)
	a := &adapter{dir: dir, cfgFile: joinPath(dir, "adapter_config.json"), file: joinPath(dir, "adapter_model.safetensors"), deltas: map[string]*loraDelta{}}
	raw, err := readJSONFile(fsys, dir, "adapter_config.json")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &InputError{File: a.cfgFile, Msg: "missing: a PEFT adapter folder needs adapter_config.json"}
		}
		return nil, err
	}
	cfg, err := readPeftConfig(hfObject{file: a.cfgFile, m: raw})
	if err != nil {
		return nil, err
	}
	if err := cfg.check(a.cfgFile); err != nil {
		return nil, err
	}
	a.rank = cfg.R
	a.alpha = cfg.Alpha
	a.rslora = cfg.UseRSLoRA
	if _, err := fs.Stat(fsys, "adapter_model.safetensors"); err != nil {
		if _, err2 := fs.Stat(fsys, "adapter_model.bin"); err2 == nil {
			return nil, &UnsupportedError{File: joinPath(dir, "adapter_model.bin"), Msg: "pickled PyTorch adapters are not read (they can run code); save the adapter with safe_serialization=True"}
		}
	}
	m, err := openModel(fsys, dir, "adapter_model")
	if err != nil {
		return nil, err
	}
	a.model = m
	if err := a.pairTensors(); err != nil {
		m.Close()
		return nil, err
	}
	if err := a.checkDeltas(hp); err != nil {
		m.Close()
		return nil, err
	}
	return a, nil
}

// peftConfig holds the fields of adapter_config.json that decide whether
// llama.cpp's LoRA format can express the adapter.
type peftConfig struct {
	PeftType, Bias                                string
	R                                             int64
	HasR, HasAlpha                                bool
	Alpha                                         float64
	UseRSLoRA, UseDoRA, FanInFanOut, LoraBias     bool
	RankPattern, AlphaPattern                     json.RawMessage
	ModulesToSave, TrainableTok, LayerRepl, ALoRA json.RawMessage
	InvocationStr                                 json.RawMessage
}

// readPeftConfig reads adapter_config.json's fields through obj: PEFT
// writes null for unset options ("modules_to_save": null,
// "layers_to_transform": null), which is absent. A field of the wrong type
// is an error; the first in the order below is returned.
func readPeftConfig(obj hfObject) (peftConfig, error) {
	var cfg peftConfig
	var errs []error
	str := func(key string, dst *string) {
		v, _, err := obj.String(key)
		errs = append(errs, err)
		*dst = v
	}
	flag := func(key string, dst *bool) {
		v, _, err := obj.Bool(key)
		errs = append(errs, err)
		*dst = v
	}
	str("peft_type", &cfg.PeftType)
	str("bias", &cfg.Bias)
	flag("use_rslora", &cfg.UseRSLoRA)
	flag("use_dora", &cfg.UseDoRA)
	flag("fan_in_fan_out", &cfg.FanInFanOut)
	flag("lora_bias", &cfg.LoraBias)
	var err error
	cfg.R, cfg.HasR, err = obj.Int("r", 1, 1<<20)
	errs = append(errs, err)
	cfg.Alpha, cfg.HasAlpha, err = obj.Float("lora_alpha")
	errs = append(errs, err)
	for _, e := range errs {
		if e != nil {
			return cfg, e
		}
	}
	cfg.RankPattern, _ = obj.raw("rank_pattern")
	cfg.AlphaPattern, _ = obj.raw("alpha_pattern")
	cfg.ModulesToSave, _ = obj.raw("modules_to_save")
	cfg.TrainableTok, _ = obj.raw("trainable_token_indices")
	cfg.LayerRepl, _ = obj.raw("layer_replication")
	cfg.ALoRA, _ = obj.raw("alora_invocation_tokens")
	cfg.InvocationStr, _ = obj.raw("invocation_string")
	return cfg, nil
}

// check refuses, with the reason, a configuration that is not plain LoRA
// with one rank and one alpha; cfgFile names adapter_config.json.
func (cfg peftConfig) check(cfgFile string) error {
	unsupported := func(field, msg string) error {
		return &UnsupportedError{File: cfgFile, Field: field, Msg: msg}
	}
	switch {
	case cfg.PeftType != "" && cfg.PeftType != "LORA":
		return unsupported("peft_type", fmt.Sprintf("%q adapters are not LoRA; only LORA is supported", cfg.PeftType))
	case !cfg.HasR:
		return &InputError{File: cfgFile, Field: "r", Msg: "missing or not a positive integer"}
	case !cfg.HasAlpha:
		return &InputError{File: cfgFile, Field: "lora_alpha", Msg: "missing"}
	case cfg.UseDoRA:
		return unsupported("use_dora", "DoRA adapters rescale each weight column by a learned magnitude, which llama.cpp's LoRA format cannot express; merge it with PEFT's merge_and_unload and convert the merged model")
	case cfg.FanInFanOut:
		return unsupported("fan_in_fan_out", "true means Conv1D (GPT-2 style) weights; Llama's Linear layers never use it")
	case cfg.Bias != "" && cfg.Bias != "none", cfg.LoraBias:
		return unsupported("bias", "adapters that train biases are not supported (llama.cpp's LoRA format has only lora_a and lora_b)")
	case nonEmptyJSON(cfg.RankPattern):
		return unsupported("rank_pattern", "per-module ranks are not supported: llama.cpp applies one alpha per adapter")
	case nonEmptyJSON(cfg.AlphaPattern):
		return unsupported("alpha_pattern", "per-module alphas are not supported: llama.cpp applies one alpha per adapter")
	case nonEmptyJSON(cfg.ModulesToSave):
		return unsupported("modules_to_save", "the adapter carries fully retrained modules (often embed_tokens or lm_head for new tokens); convert the merged model instead")
	case nonEmptyJSON(cfg.TrainableTok):
		return unsupported("trainable_token_indices", "the adapter retrains token embeddings; convert the merged model instead")
	case nonEmptyJSON(cfg.ALoRA), nonEmptyJSON(cfg.InvocationStr) && string(cfg.InvocationStr) != `""`:
		return unsupported("alora_invocation_tokens", "activated LoRA (aLoRA) adapters switch on after an invocation sequence; not supported")
	case nonEmptyJSON(cfg.LayerRepl):
		return unsupported("layer_replication", "layer replication changes the model's depth; not supported")
	}
	return nil
}

// pairTensors groups a.model's tensors into one delta per adapted base
// weight (its lora_A and lora_B), in file order; tensors that are not LoRA
// weights of a llama.cpp tensor are refused.
func (a *adapter) pairTensors() error {
	for _, t := range a.model.Tensors {
		name := strings.TrimPrefix(t.Name, "base_model.model.")
		field := fmt.Sprintf("tensor %q", t.Name)
		var isA bool
		var base string
		switch {
		case strings.Contains(name, "lora_embedding_A") || strings.Contains(name, "lora_embedding_B"):
			return &UnsupportedError{File: a.file, Field: field, Msg: "the adapter adapts token embeddings (lora_embedding_A/B); llama.cpp's LoRA format does not apply those — convert the merged model instead"}
		case strings.HasSuffix(name, ".lora_A.weight"):
			isA, base = true, strings.TrimSuffix(name, ".lora_A.weight")+".weight"
		case strings.HasSuffix(name, ".lora_B.weight"):
			base = strings.TrimSuffix(name, ".lora_B.weight") + ".weight"
		case strings.HasSuffix(name, ".base_layer.weight"):
			continue
		case strings.Contains(name, "_layernorm") || strings.Contains(name, ".norm"):
			return &UnsupportedError{File: a.file, Field: field, Msg: "the adapter replaces a norm weight (mergekit-extract-lora style); not supported"}
		default:
			return &InputError{File: a.file, Field: field, Msg: "neither a lora_A nor a lora_B weight"}
		}
		gname, _, ok, _ := llamaTensorName(base)
		if !ok || gname == "" {
			return &UnsupportedError{File: a.file, Field: field, Msg: fmt.Sprintf("adapts %q, which has no llama.cpp tensor", base)}
		}
		if strings.HasPrefix(gname, "token_embd") {
			return &UnsupportedError{File: a.file, Field: field, Msg: "the adapter adapts token embeddings; not supported"}
		}
		if len(t.Shape) != 2 || t.Shape[0] == 0 || t.Shape[1] == 0 {
			return &InputError{File: a.file, Field: field + ".shape", Msg: fmt.Sprintf("%v is not a non-empty 2-D shape", t.Shape)}
		}
		if !sourceDTypeOK(t.DType) {
			return &UnsupportedError{File: a.file, Field: field + ".dtype", Msg: fmt.Sprintf("dtype %s is not a floating-point weight", t.DType)}
		}
		d, ok := a.deltas[base]
		if !ok {
			d = &loraDelta{base: base, peftName: strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(t.Name, ".weight"), ".lora_A"), ".lora_B"), owner: a}
			a.deltas[base] = d
			a.order = append(a.order, base)
		}
		if isA {
			d.a = t
		} else {
			d.b = t
		}
	}
	if len(a.order) == 0 {
		return &InputError{File: a.file, Msg: "no lora_A/lora_B tensors"}
	}
	return nil
}

// checkDeltas sets each delta's shape from its pair and checks that the
// pair is complete, of the adapter's rank, and permutable like the base.
func (a *adapter) checkDeltas(hp *HParams) error {
	for _, base := range a.order {
		d := a.deltas[base]
		if d.a == nil || d.b == nil {
			which := "lora_A"
			if d.a != nil {
				which = "lora_B"
			}
			return &InputError{File: a.file, Field: d.peftName, Msg: "has no " + which + " weight"}
		}
		d.r, d.in = d.a.Shape[0], d.a.Shape[1]
		d.out = d.b.Shape[0]
		if d.b.Shape[1] != d.r {
			return &InputError{File: a.file, Field: d.peftName, Msg: fmt.Sprintf("lora_A is %v but lora_B is %v: ranks differ", d.a.Shape, d.b.Shape)}
		}
		if d.r != a.rank {
			return &InputError{File: a.file, Field: d.peftName, Msg: fmt.Sprintf("rank %d, but adapter_config.json says r = %d", d.r, a.rank)}
		}
		if nh := permuteHeads(base, hp); nh > 0 && d.out%(2*nh) != 0 {
			return &InputError{File: a.file, Field: d.peftName, Msg: fmt.Sprintf("lora_B has %d rows, not a multiple of 2×%d heads", d.out, nh)}
		}
	}
	return nil
}

func nonEmptyJSON(r json.RawMessage) bool {
	s := strings.TrimSpace(string(r))
	return s != "" && s != "null" && s != "[]" && s != "{}"
}

// ConvertLoRA converts the PEFT LoRA adapter in adapterDir to llama.cpp's
// adapter GGUF at outPath, as convert_lora_to_gguf.py does: every lora_a and
// lora_b in F32 (the Python converter writes them F32 whatever its
// --outtype), lora_b rows of q/k permuted like the base weights, and
// adapter.lora.alpha. baseDir needs only config.json. For rsLoRA adapters the
// alpha written is alpha·sqrt(r), so that llama.cpp's alpha/r scale equals
// rsLoRA's alpha/sqrt(r) (the Python converter ignores use_rslora).
func ConvertLoRA(ctx context.Context, adapterDir, baseDir, outPath string, o LoRAOptions) (*Plan, error) {
	hp, err := LoadHParams(os.DirFS(baseDir), baseDir)
	if err != nil {
		return nil, err
	}
	a, err := loadAdapter(adapterDir, hp)
	if err != nil {
		return nil, err
	}
	defer a.close()
	plan := &Plan{Architecture: "llama", OutType: gguf.TypeF32.String()}
	add := func(name string, t *safetensors.Tensor, headRows int64) {
		job := &tensorJob{ctx: ctx, src: t, rows: t.Shape[0], cols: t.Shape[1], headRows: headRows,
			enc: encodeF32, outType: gguf.TypeF32, chunkBytes: 4 << 20}
		dims := gdims(t.Shape)
		size := int64(4 * t.NumElements())
		plan.Tensors = append(plan.Tensors, PlanTensor{Name: name, Source: t.Name, DType: t.DType, Dims: dims,
			Type: gguf.TypeF32, TypeStr: "F32", Bytes: size, Permute: headRows > 0, data: job})
		plan.TensorBytes += size
		plan.SourceBytes += t.Size
	}
	for _, d := range a.sortedDeltas() {
		gname, _, _, _ := llamaTensorName(d.base)
		add(gname+".lora_a", d.a, 0)
		var hr int64
		if nh := permuteHeads(d.base, hp); nh > 0 {
			hr = d.out / nh
		}
		add(gname+".lora_b", d.b, hr)
	}
	alpha := a.alpha
	if a.rslora {
		alpha *= math.Sqrt(float64(a.rank))
	}
	name := o.Name
	if name == "" {
		name = nameFromDir(adapterDir)
	}
	plan.KVs = []gguf.KV{
		{Key: "general.architecture", Value: gguf.String("llama")},
		{Key: "general.type", Value: gguf.String("adapter")},
		{Key: "adapter.type", Value: gguf.String("lora")},
		{Key: "general.name", Value: gguf.String(name)},
		{Key: "adapter.lora.alpha", Value: gguf.Float32(float32(alpha))},
		{Key: "general.quantization_version", Value: gguf.Uint32(2)},
	}
	plan.KVs = withExtraKVs(plan.KVs, o.ExtraKVs, nil)
	if err := plan.sizeFile(); err != nil {
		return nil, err
	}
	if err := checkOutput(plan.spec(), modelcheck.Adapter); err != nil {
		return nil, err
	}
	if o.DryRun {
		plan.DryRun = true
		return plan, nil
	}
	plan.Output = outPath
	if err := writePlan(ctx, outPath, plan, o.Threads, o.Progress, nil, modelcheck.Adapter); err != nil {
		return nil, err
	}
	return plan, nil
}
