// Package plan estimates, before anything runs, how much GPU memory and time a
// LoRA/QLoRA fine-tune (TrainEstimate) and a llama.cpp inference context
// (RunEstimate) will take, and the largest batch, cutoff length or context
// that fits a given amount of VRAM. Every estimate is a sum of named terms
// (Term) so that callers can print the formula; the terms follow the
// allocation logic of the libraries involved (transformers + PEFT + PyTorch
// for training, llama.cpp's model loader, KV cache and graph reserve for
// inference), and are checked against measurements on a GPU by
// bench/gpu/plan.sh (see docs/performance.md).
//
// The package is pure Go, prints nothing and never touches the GPU.
package plan

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sattva/sattva/convert"
)

// ModelShape is what the memory of a decoder-only transformer (Llama family)
// depends on.
type ModelShape struct {
	Name     string `json:"name,omitempty"`
	Layers   int    `json:"layers"`
	Hidden   int    `json:"hidden"`    // d_model
	Heads    int    `json:"heads"`     // attention heads
	KVHeads  int    `json:"kv_heads"`  // key/value heads (grouped-query attention)
	HeadDim  int    `json:"head_dim"`  // per head; Hidden/Heads unless the config says otherwise
	FFN      int    `json:"ffn"`       // intermediate size of the gated MLP
	Vocab    int    `json:"vocab"`     // vocabulary size (logits width)
	TiedEmbd bool   `json:"tied_embd"` // lm_head shares the input embedding

	// What a config.json holds beyond the memory's terms (package synth
	// writes checkpoints of these shapes).
	Context    int     `json:"-"` // max_position_embeddings
	RopeTheta  float64 `json:"-"` // rope_theta
	RopeFactor float64 `json:"-"` // llama3 rope_scaling factor (0: none)
}

// Validate reports a shape with a non-positive dimension.
func (s ModelShape) Validate() error {
	for _, f := range []struct {
		n string
		v int
	}{{"layers", s.Layers}, {"hidden", s.Hidden}, {"heads", s.Heads}, {"kv_heads", s.KVHeads}, {"head_dim", s.HeadDim}, {"ffn", s.FFN}, {"vocab", s.Vocab}} {
		if f.v <= 0 {
			return fmt.Errorf("plan: model shape %q: %s must be positive, got %d", s.Name, f.n, f.v)
		}
	}
	if s.Layers > maxLayers || s.Hidden > maxDim || s.FFN > maxDim || s.HeadDim > maxDim || s.Heads > maxHeads || s.Vocab > maxVocab {
		return fmt.Errorf("plan: model shape %q is beyond any real model", s.Name)
	}
	if s.Heads%s.KVHeads != 0 {
		return fmt.Errorf("plan: model shape %q: heads %d not a multiple of kv_heads %d", s.Name, s.Heads, s.KVHeads)
	}
	return nil
}

// QDim is the width of the query projection (Heads × HeadDim).
func (s ModelShape) QDim() int64 { return int64(s.Heads) * int64(s.HeadDim) }

// KVDim is the width of the key (and value) projection (KVHeads × HeadDim).
func (s ModelShape) KVDim() int64 { return int64(s.KVHeads) * int64(s.HeadDim) }

// Linear is one projection of a decoder layer: In → Out features.
type Linear struct {
	Name    string
	In, Out int64
}

// Linears returns the seven projections of one Llama decoder layer in
// PEFT's names.
func (s ModelShape) Linears() []Linear {
	h, f := int64(s.Hidden), int64(s.FFN)
	return []Linear{
		{"q_proj", h, s.QDim()}, {"k_proj", h, s.KVDim()}, {"v_proj", h, s.KVDim()}, {"o_proj", s.QDim(), h},
		{"gate_proj", h, f}, {"up_proj", h, f}, {"down_proj", f, h},
	}
}

// LinearParams is the parameter count of the decoder layers' projections.
func (s ModelShape) LinearParams() int64 {
	var n int64
	for _, l := range s.Linears() {
		n += l.In * l.Out
	}
	return n * int64(s.Layers)
}

// EmbeddingParams is the input embedding's parameter count (Vocab × Hidden).
func (s ModelShape) EmbeddingParams() int64 { return int64(s.Vocab) * int64(s.Hidden) }

// Params is the total parameter count (norm weights included).
func (s ModelShape) Params() int64 {
	n := s.LinearParams() + s.EmbeddingParams() + int64(s.Layers*2+1)*int64(s.Hidden)
	if !s.TiedEmbd {
		n += s.EmbeddingParams()
	}
	return n
}

// presets are real model shapes, from each model's config.json.
var presets = map[string]ModelShape{
	"llama3.1-8b":  {Name: "llama3.1-8b", Layers: 32, Hidden: 4096, Heads: 32, KVHeads: 8, HeadDim: 128, FFN: 14336, Vocab: 128256, Context: 131072, RopeTheta: 500000, RopeFactor: 8},
	"llama3.2-3b":  {Name: "llama3.2-3b", Layers: 28, Hidden: 3072, Heads: 24, KVHeads: 8, HeadDim: 128, FFN: 8192, Vocab: 128256, TiedEmbd: true, Context: 131072, RopeTheta: 500000, RopeFactor: 32},
	"llama3.2-1b":  {Name: "llama3.2-1b", Layers: 16, Hidden: 2048, Heads: 32, KVHeads: 8, HeadDim: 64, FFN: 8192, Vocab: 128256, TiedEmbd: true, Context: 131072, RopeTheta: 500000, RopeFactor: 32},
	"llama3.1-70b": {Name: "llama3.1-70b", Layers: 80, Hidden: 8192, Heads: 64, KVHeads: 8, HeadDim: 128, FFN: 28672, Vocab: 128256, Context: 131072, RopeTheta: 500000, RopeFactor: 8},
	"stories260k":  {Name: "stories260k", Layers: 5, Hidden: 64, Heads: 8, KVHeads: 4, HeadDim: 8, FFN: 172, Vocab: 512, TiedEmbd: true, Context: 512, RopeTheta: 10000},
}

// Presets lists the names Preset knows, sorted.
func Presets() []string {
	var n []string
	for k := range presets {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// Preset returns a known model shape by name ("llama3.1-8b", …).
func Preset(name string) (ModelShape, bool) {
	s, ok := presets[strings.ToLower(name)]
	return s, ok
}

// ErrNotLlama is returned for a config.json of an architecture whose memory
// the estimator does not model.
var ErrNotLlama = errors.New("plan: only Llama-family models (LlamaForCausalLM) are modelled")

// ShapeFromHFConfig reads a Hugging Face config.json (with package
// convert's reader, so that the estimate and the conversion see the same
// model). An architecture convert does not handle wraps ErrNotLlama.
func ShapeFromHFConfig(r io.Reader) (ModelShape, error) {
	hp, err := convert.ReadHParams(r, "config.json")
	if errors.Is(err, convert.ErrUnsupported) {
		return ModelShape{}, fmt.Errorf("%w: %v", ErrNotLlama, err)
	}
	if err != nil {
		return ModelShape{}, fmt.Errorf("plan: %w", err)
	}
	s := ModelShape{
		Name: "llama", Layers: int(hp.Layers), Hidden: int(hp.HiddenSize), Heads: int(hp.Heads),
		KVHeads: int(hp.KVHeads), HeadDim: int(hp.HeadDim), FFN: int(hp.Intermediate), Vocab: int(hp.VocabSize), TiedEmbd: hp.TieEmbeddings,
	}
	return s, s.Validate()
}

// ShapeFromDir reads dir/config.json.
func ShapeFromDir(dir string) (ModelShape, error) {
	f, err := os.Open(filepath.Join(dir, "config.json"))
	if err != nil {
		return ModelShape{}, fmt.Errorf("plan: model folder: %w", err)
	}
	defer f.Close()
	s, err := ShapeFromHFConfig(f)
	if err == nil {
		s.Name = filepath.Base(dir)
	}
	return s, err
}
