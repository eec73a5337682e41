package pipeline

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// VerifyConfig holds `sattva verify`'s data and thresholds (verify: in
// sattva.yaml). The defaults and why they are what they are: docs/verify.md.
type VerifyConfig struct {
	// Data is a JSONL file of held-out examples (alpaca form, as data.train)
	// whose answers the KL measurement scores. "": the last examples of the
	// last data.train file, and the report says they were trained on.
	Data string `yaml:"data"`
	// Examples caps how many examples are scored (default 200).
	Examples int `yaml:"examples"`
	// Merge bounds the merged model against base + adapter applied at load.
	Merge KLThreshold `yaml:"merge"`
	// Quant bounds each export type against the float (F16/BF16) model,
	// keyed by type (q4_K_M, q8_0, …); a type not named gets its default.
	Quant map[string]KLThreshold `yaml:"quant"`
}

// KLThreshold is a gate on llama-perplexity --kl-divergence's statistics.
// A zero field takes its default.
type KLThreshold struct {
	KLDMean     float64 `yaml:"kld_mean"`      // mean KL divergence per token, at most
	KLDP99      float64 `yaml:"kld_p99"`       // 99th percentile, at most
	Top1Min     float64 `yaml:"top1_min"`      // top-1 agreement, at least (0..1)
	PPLRatioMax float64 `yaml:"ppl_ratio_max"` // PPL(test)/PPL(reference), at most
}

// DefaultMergeThreshold returns the default gate of a merge: merging in
// float and applying the adapter at load differ only by rounding the merged
// weights to F16/BF16 once; anything above Q8_0-level noise is a broken merge.
func DefaultMergeThreshold() KLThreshold {
	return KLThreshold{KLDMean: 0.001, KLDP99: 0.01, Top1Min: 0.99, PPLRatioMax: 1.01}
}

// DefaultQuantThreshold returns the default gate for an export type: about
// three times llama.cpp's published KL figures for Llama-3-8B at that type
// (docs/verify.md), so a normal quantization passes and a broken tensor
// does not.
func DefaultQuantThreshold(typ string) KLThreshold {
	switch strings.ToUpper(typ) {
	case "F32", "F16", "BF16":
		return KLThreshold{KLDMean: 0.002, KLDP99: 0.02, Top1Min: 0.97, PPLRatioMax: 1.01}
	case "Q8_0":
		return KLThreshold{KLDMean: 0.005, KLDP99: 0.05, Top1Min: 0.95, PPLRatioMax: 1.02}
	case "Q6_K":
		return KLThreshold{KLDMean: 0.015, KLDP99: 0.15, Top1Min: 0.93, PPLRatioMax: 1.03}
	case "Q5_K_M", "Q5_K_S", "Q5_0", "Q5_1":
		return KLThreshold{KLDMean: 0.04, KLDP99: 0.4, Top1Min: 0.90, PPLRatioMax: 1.05}
	case "Q4_K_M", "Q4_K_S":
		return KLThreshold{KLDMean: 0.1, KLDP99: 1.0, Top1Min: 0.85, PPLRatioMax: 1.10}
	case "Q4_0", "Q4_1", "IQ4_NL", "IQ4_XS":
		return KLThreshold{KLDMean: 0.15, KLDP99: 1.5, Top1Min: 0.82, PPLRatioMax: 1.15}
	}
	return KLThreshold{KLDMean: 0.3, KLDP99: 3, Top1Min: 0.75, PPLRatioMax: 1.3}
}

// Or fills t's zero fields from d.
func (t KLThreshold) Or(d KLThreshold) KLThreshold {
	if t.KLDMean == 0 {
		t.KLDMean = d.KLDMean
	}
	if t.KLDP99 == 0 {
		t.KLDP99 = d.KLDP99
	}
	if t.Top1Min == 0 {
		t.Top1Min = d.Top1Min
	}
	if t.PPLRatioMax == 0 {
		t.PPLRatioMax = d.PPLRatioMax
	}
	return t
}

// QuantThreshold is the gate for export type typ.
func (v *VerifyConfig) QuantThreshold(typ string) KLThreshold {
	for k, t := range v.Quant {
		if strings.EqualFold(k, typ) {
			return t.Or(DefaultQuantThreshold(typ))
		}
	}
	return DefaultQuantThreshold(typ)
}

func (p *Project) applyVerifyDefaults() {
	if p.Verify.Examples == 0 {
		p.Verify.Examples = 200
	}
	p.Verify.Merge = p.Verify.Merge.Or(DefaultMergeThreshold())
}

func (p *Project) validateVerify(add func(field, format string, a ...any)) {
	v := p.Verify
	if v.Examples < 1 || v.Examples > 100000 {
		add("verify.examples", "%d: must be 1..100000", v.Examples)
	}
	check := func(field string, t KLThreshold) {
		for _, x := range []float64{t.KLDMean, t.KLDP99, t.Top1Min, t.PPLRatioMax} {
			if x < 0 || math.IsNaN(x) || math.IsInf(x, 0) {
				add(field, "thresholds must be finite and not negative")
				return
			}
		}
		if t.Top1Min > 1 {
			add(field+".top1_min", "%g: must be in [0, 1]", t.Top1Min)
		}
	}
	check("verify.merge", v.Merge)
	for _, k := range sortedMapKeys(v.Quant) {
		if !knownExportType(k) {
			add("verify.quant."+k, "%q: not a known export type", k)
		}
		check("verify.quant."+k, v.Quant[k])
	}
}

// VerifyDataFile is the held-out file verify scores ("" when verify.data is unset).
func (p *Project) VerifyDataFile() string { return p.Resolve(p.Verify.Data) }

// ReadManifest reads manifest.json of an export folder.
func ReadManifest(exportDir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(exportDir, "manifest.json"))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(exportDir, "manifest.json"), err)
	}
	return &m, nil
}
