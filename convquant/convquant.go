// Package convquant composes package convert (Hugging Face checkpoint →
// GGUF tensors) and package quantize (tensors → ggml blocks, the per-tensor
// type plan), which do not import each other: it turns a checkpoint folder
// into a GGUF of any llama-quantize file type in one streaming pass, with
// the caller's metadata (provenance) written in the same pass. The command
// line and package pipeline use it.
package convquant

import (
	"context"
	"fmt"
	"os"

	"github.com/sattva/sattva/convert"
	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/quantize"
)

// KeyFromSource is the metadata key Convert sets (true) when the weights
// were quantized from the checkpoint's own values instead of through F16.
const KeyFromSource = "sattva.quantize.from_source"

// ParseOutType parses `convert --outtype`: a ggml type name convert writes
// itself ("f32", "f16", "bf16", "q8_0") or a llama-quantize file type name
// ("q4_k_m", "Q6_K", "q4_k" for its _M mix), ignoring case.
func ParseOutType(s string) (gguf.FileType, error) {
	if t, err := gguf.ParseType(s); err == nil {
		if ft := gguf.FileTypeOf(t); ft != gguf.AllF32 || t == gguf.TypeF32 {
			if _, direct := DirectType(ft); direct {
				return ft, nil
			}
		}
	}
	return gguf.ParseFileType(s)
}

// DirectType is the tensor type convert writes itself for ft (F32, F16, BF16
// and Q8_0, with llama.cpp's converter's per-tensor rules); ok is false for a
// file type that is quantized after converting.
func DirectType(ft gguf.FileType) (t gguf.Type, ok bool) {
	switch ft {
	case gguf.AllF32:
		return gguf.TypeF32, true
	case gguf.MostlyF16:
		return gguf.TypeF16, true
	case gguf.MostlyBF16:
		return gguf.TypeBF16, true
	case gguf.MostlyQ8_0:
		return gguf.TypeQ8_0, true
	}
	return 0, false
}

// Options tune Convert.
type Options struct {
	// Convert is passed to convert.Convert; its OutType and Rewrite are set
	// by Convert. Its ExtraKVs and DefaultKVs are written in place as
	// convert writes them; the quantizer then moves general.file_type and
	// general.quantization_version to the end, as llama-quantize does.
	Convert convert.Options
	// Quantize tunes the quantizer for a file type DirectType declines
	// (Threads defaults to that of Convert; the bytes written are reported
	// to Convert.Progress).
	Quantize quantize.Options
	// FromSource quantizes the checkpoint's original values (BF16, F16 or
	// F32, exactly as float32) instead of rounding them through F16 first.
	// The result then differs from convert-to-F16-then-quantize and says so
	// in the metadata (KeyFromSource).
	FromSource bool
}

// Result is what Convert wrote.
type Result struct {
	Plan *convert.Plan
	// Quantized describes the quantization; nil when convert wrote the file
	// type directly (DirectType).
	Quantized *quantize.Summary
}

// Convert converts the Hugging Face checkpoint folder hfDir to the GGUF file
// out (written atomically) of file type ft. A type DirectType accepts is
// written by convert alone. Any other is quantized in the same streaming
// pass: by default the weights go through F16 exactly as `convert --outtype
// f16` writes them, so the file is byte for byte what converting to F16 and
// then quantizing gives (with quantize.QuantizeFile or llama-quantize),
// without the F16 file in between.
func Convert(ctx context.Context, hfDir, out string, ft gguf.FileType, o Options) (*Result, error) {
	co := o.Convert
	if t, ok := DirectType(ft); ok {
		if o.FromSource {
			return nil, fmt.Errorf("convquant: from-source applies to quantized file types, not %s", ft)
		}
		co.OutType = t
		plan, err := convert.Convert(ctx, hfDir, out, co)
		if err != nil {
			return nil, err
		}
		return &Result{Plan: plan}, nil
	}
	if co.DryRun {
		return nil, fmt.Errorf("convquant: a dry run is not available for %s", ft)
	}
	qo := o.Quantize
	co.OutType = gguf.TypeF16
	if o.FromSource {
		co.OutType = gguf.TypeF32
		qo.ExtraKVs = append(qo.ExtraKVs[:len(qo.ExtraKVs):len(qo.ExtraKVs)], gguf.KV{Key: KeyFromSource, Value: gguf.Bool(true)})
	}
	if qo.Threads == 0 && co.Threads > 0 {
		qo.Threads = co.Threads
	}
	var sum *quantize.Summary
	co.Rewrite = func(s *gguf.Spec) (*gguf.Spec, error) {
		q, qs, err := quantize.QuantizeSpec(s, ft, qo)
		sum = qs
		return q, err
	}
	plan, err := convert.Convert(ctx, hfDir, out, co)
	if err != nil {
		return nil, err
	}
	if sum != nil {
		if st, err := os.Stat(out); err == nil {
			sum.FileSize = st.Size()
		}
	}
	return &Result{Plan: plan, Quantized: sum}, nil
}
