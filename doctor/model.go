package doctor

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/sattva/sattva/hfcache"
	"github.com/sattva/sattva/plan"
)

const StageModel = "model"

func checkBase(r *Report, o *Options) {
	if o.BaseModel == "" {
		return
	}
	c := Check{ID: "base", Stage: StageModel, Facts: map[string]string{"ref": o.BaseModel}}
	m, err := hfcache.Resolve(o.BaseModel, hfcache.Options{Getenv: o.Getenv, GOOS: o.GOOS})
	switch {
	case errors.Is(err, hfcache.ErrNotFound):
		c.Status, c.Summary = Fail, "base model "+o.BaseModel+" is not downloaded yet"
		c.Fix = "download it once (accept the licence on huggingface.co first): "
		if o.BaseDownload != "" {
			c.Fix += o.BaseDownload
		} else {
			c.Fix += "huggingface-cli download meta-llama/Llama-3.1-8B --local-dir models/llama-3.1-8b"
		}
		c.Fix += ", or set base: in sattva.yaml to the folder"
	case err != nil:
		c.Status, c.Summary = Fail, "base model: "+err.Error()
	case m.Kind == hfcache.KindGGUF:
		c.Status, c.Summary = Fail, "base model "+m.Path+" is a GGUF file; training and merging need the Hugging Face folder"
		c.Fix = "point base: at the Hugging Face folder (config.json, *.safetensors, tokenizer files)"
	default:
		c.Facts["path"] = m.Path
		shape, err := plan.ShapeFromDir(m.Path)
		if err != nil {
			c.Status, c.Summary = Fail, fmt.Sprintf("base model at %s: %v", m.Path, err)
			c.Fix = "the folder must hold the model's config.json, *.safetensors and tokenizer files"
			break
		}
		weights, _ := filepath.Glob(filepath.Join(m.Path, "*.safetensors"))
		c.Status = OK
		c.Summary = fmt.Sprintf("base model %s: %d layers, hidden %d, %.2fB params", m.Path, shape.Layers, shape.Hidden, float64(shape.Params())/1e9)
		if len(weights) == 0 {
			c.Status, c.Fix = Fail, "no *.safetensors beside config.json: the download is incomplete"
		}
	}
	r.add(c)
}
