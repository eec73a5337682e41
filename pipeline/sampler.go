package pipeline

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/sattva/sattva/evalrun"
)

// SamplerConfig is the serving sampler: the one place in sattva.yaml that
// says how the model samples once it is served. Export writes every field
// into the Modelfile as a PARAMETER line (so no Ollama default applies
// silently), the eval stage samples with it unless the suite sets its own
// sampling for determinism, and `sattva verify` compares the two.
// Field names are Ollama's PARAMETER names.
type SamplerConfig struct {
	Temperature   *float64 `yaml:"temperature"`
	TopK          *int     `yaml:"top_k"`
	TopP          *float64 `yaml:"top_p"`
	MinP          *float64 `yaml:"min_p"`
	RepeatPenalty *float64 `yaml:"repeat_penalty"`
	RepeatLastN   *int     `yaml:"repeat_last_n"`
	// Seed -1 draws a new seed per request (Ollama's default, written out).
	Seed *int `yaml:"seed"`
	// NumCtx is the context Ollama allocates; its default (2048 in v0.6.5,
	// 4096 later) silently truncates long prompts.
	NumCtx *int `yaml:"num_ctx"`
	// Stop are stop strings added to the template's own.
	Stop []string `yaml:"stop"`
}

// Sampler defaults: llama.cpp's and Ollama's common sampler with the repeat
// penalty off (1.0), as the fine-tune was trained and `sattva eval` runs;
// Ollama's own default of 1.1 changes even greedy output.
const (
	DefaultTemperature   = 0.7
	DefaultTopK          = 40
	DefaultTopP          = 0.9
	DefaultMinP          = 0.0
	DefaultRepeatPenalty = 1.0
	DefaultRepeatLastN   = 64
	DefaultSeed          = -1
	DefaultNumCtx        = 4096
)

// samplerParams are the numeric sampler parameters, in the order Modelfile
// and reports list them.
var samplerParams = []string{"temperature", "top_k", "top_p", "min_p", "repeat_penalty", "repeat_last_n", "seed", "num_ctx"}

// SamplerParams returns the numeric sampler parameters, in the order
// Modelfile and reports list them; the slice is the caller's.
func SamplerParams() []string { return slices.Clone(samplerParams) }

func (s *SamplerConfig) field(name string) (f *float64, i *int) {
	switch name {
	case "temperature":
		return s.Temperature, nil
	case "top_p":
		return s.TopP, nil
	case "min_p":
		return s.MinP, nil
	case "repeat_penalty":
		return s.RepeatPenalty, nil
	case "top_k":
		return nil, s.TopK
	case "repeat_last_n":
		return nil, s.RepeatLastN
	case "seed":
		return nil, s.Seed
	case "num_ctx":
		return nil, s.NumCtx
	}
	return nil, nil
}

func (s *SamplerConfig) set(name string, v float64) {
	fp := func(x float64) *float64 { return &x }
	ip := func(x float64) *int { n := int(x); return &n }
	switch name {
	case "temperature":
		s.Temperature = fp(v)
	case "top_p":
		s.TopP = fp(v)
	case "min_p":
		s.MinP = fp(v)
	case "repeat_penalty":
		s.RepeatPenalty = fp(v)
	case "top_k":
		s.TopK = ip(v)
	case "repeat_last_n":
		s.RepeatLastN = ip(v)
	case "seed":
		s.Seed = ip(v)
	case "num_ctx":
		s.NumCtx = ip(v)
	}
}

// Get returns a parameter's value and whether it is set.
func (s *SamplerConfig) Get(name string) (float64, bool) {
	f, i := s.field(name)
	switch {
	case f != nil:
		return *f, true
	case i != nil:
		return float64(*i), true
	}
	return 0, false
}

// applySamplerDefaults folds ollama.parameters into the sampler (where the
// sampler leaves a parameter unset) and fills the rest with the defaults.
// A parameter set in both places to different values is an error (validate).
func (p *Project) applySamplerDefaults() {
	s := &p.Sampler
	for _, k := range samplerParams {
		if v, ok := p.Ollama.Parameters[k]; ok {
			if _, set := s.Get(k); !set {
				s.set(k, v)
			}
		}
	}
	def := map[string]float64{"temperature": DefaultTemperature, "top_k": DefaultTopK, "top_p": DefaultTopP,
		"min_p": DefaultMinP, "repeat_penalty": DefaultRepeatPenalty, "repeat_last_n": DefaultRepeatLastN,
		"seed": DefaultSeed, "num_ctx": DefaultNumCtx}
	for _, k := range samplerParams {
		if _, set := s.Get(k); !set {
			s.set(k, def[k])
		}
	}
}

func (p *Project) validateSampler(add func(field, format string, a ...any)) {
	s := &p.Sampler
	for _, k := range samplerParams {
		v, _ := s.Get(k)
		if ov, ok := p.Ollama.Parameters[k]; ok && ov != v {
			add("ollama.parameters."+k, "%g differs from sampler.%s %g: set it once, under sampler", ov, k, v)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			add("sampler."+k, "not a finite number")
			continue
		}
		bad := ""
		switch k {
		case "temperature":
			if v < 0 || v > 10 {
				bad = "must be in [0, 10]"
			}
		case "top_p", "min_p":
			if v < 0 || v > 1 {
				bad = "must be in [0, 1]"
			}
		case "repeat_penalty":
			if v <= 0 || v > 10 {
				bad = "must be in (0, 10]"
			}
		case "top_k", "repeat_last_n":
			if v < -1 {
				bad = "must be >= -1"
			}
		case "seed":
			if v < -1 || v > math.MaxUint32 {
				bad = "must be -1 (random) or a 32-bit unsigned number"
			}
		case "num_ctx":
			if v < 16 || v > 1<<24 {
				bad = "must be 16..16777216 tokens"
			}
		}
		if bad != "" {
			add("sampler."+k, "%g: %s", v, bad)
		}
	}
	for _, st := range s.Stop {
		if st == "" {
			add("sampler.stop", "empty stop string")
		}
	}
}

// ModelfileParameters are the PARAMETER lines export writes: every sampler
// parameter plus ollama.parameters' others (num_predict).
func (p *Project) ModelfileParameters() map[string]float64 {
	out := map[string]float64{}
	for k, v := range p.Ollama.Parameters {
		out[k] = v
	}
	for _, k := range samplerParams {
		v, _ := p.Sampler.Get(k)
		out[k] = v
	}
	return out
}

// Stops are the stop strings served: the template's, then sampler.stop's.
func (p *Project) Stops() []string {
	out := TemplateStops(p.Template)
	for _, s := range p.Sampler.Stop {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// EvalSampling is the serving sampler as evalrun's Sampling (seed -1 becomes
// 0: the eval is reproducible).
func (p *Project) EvalSampling() evalrun.Sampling {
	g := func(k string) float64 { v, _ := p.Sampler.Get(k); return v }
	seed := g("seed")
	if seed < 0 {
		seed = 0
	}
	return evalrun.Sampling{Temperature: g("temperature"), TopK: int(g("top_k")), TopP: g("top_p"), MinP: g("min_p"),
		RepeatPenalty: g("repeat_penalty"), RepeatLastN: int(g("repeat_last_n")), Seed: uint32(seed)}
}

// FormatParam prints a parameter value as the Modelfile does.
func FormatParam(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// ParseModelfile reads the parts of an Ollama Modelfile that verify checks:
// FROM, ADAPTER, TEMPLATE, SYSTEM, and PARAMETER lines (stop collected in
// order). It understands the forms Modelfile writes and Ollama's parser
// accepts: bare values, "quoted" and """triple-quoted""" ones.
type ParsedModelfile struct {
	From, Adapter, Template, System string
	HasTemplate, HasSystem          bool
	Params                          map[string]string
	Stops                           []string
}

// ParseModelfile parses text (see ParsedModelfile).
func ParseModelfile(text string) (*ParsedModelfile, error) {
	m := &ParsedModelfile{Params: map[string]string{}}
	rest := text
	for rest != "" {
		line := rest
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			line, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		cmd, arg, _ := strings.Cut(t, " ")
		cmd = strings.ToUpper(cmd)
		arg = strings.TrimLeft(arg, " \t")
		if cmd == "PARAMETER" {
			name, v, _ := strings.Cut(arg, " ")
			arg = strings.TrimLeft(v, " \t")
			val, r, err := modelfileValue(arg, rest)
			if err != nil {
				return nil, fmt.Errorf("PARAMETER %s: %w", name, err)
			}
			rest = r
			name = strings.ToLower(name)
			if name == "stop" {
				m.Stops = append(m.Stops, val)
			} else {
				m.Params[name] = val
			}
			continue
		}
		val, r, err := modelfileValue(arg, rest)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", cmd, err)
		}
		rest = r
		switch cmd {
		case "FROM":
			m.From = val
		case "ADAPTER":
			m.Adapter = val
		case "TEMPLATE":
			m.Template, m.HasTemplate = val, true
		case "SYSTEM":
			m.System, m.HasSystem = val, true
		}
	}
	return m, nil
}

// modelfileValue reads a value that starts at arg (the rest of its line);
// a triple-quoted value may continue over the following lines (rest).
func modelfileValue(arg, rest string) (string, string, error) {
	if strings.HasPrefix(arg, `"""`) {
		all := arg[3:] + "\n" + rest
		if rest == "" {
			all = arg[3:]
		}
		i := strings.Index(all, `"""`)
		if i < 0 {
			return "", "", fmt.Errorf(`unterminated """`)
		}
		after := all[i+3:]
		if j := strings.IndexByte(after, '\n'); j >= 0 {
			after = after[j+1:]
		} else {
			after = ""
		}
		return all[:i], after, nil
	}
	if strings.HasPrefix(arg, `"`) {
		if i := strings.LastIndexByte(arg, '"'); i > 0 {
			return arg[1:i], rest, nil
		}
		return "", "", fmt.Errorf("unterminated quote")
	}
	return strings.TrimSpace(arg), rest, nil
}
