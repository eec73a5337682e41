package quantize

import (
	"context"
	"os"

	"github.com/sattva/sattva/convert"
	"github.com/sattva/sattva/gguf"
)

// KeyFromSource is the metadata key ConvertHF sets (true) when the weights
// were quantized from the checkpoint's own values instead of through F16.
const KeyFromSource = "sattva.quantize.from_source"

// ConvertOptions tune ConvertHF.
type ConvertOptions struct {
	Options
	// FromSource quantizes the checkpoint's original values (BF16, F16 or
	// F32, exactly as float32) instead of rounding them through F16 first.
	// The result then differs from convert-to-F16-then-quantize and says so
	// in the metadata (KeyFromSource).
	FromSource bool
	// Convert is passed to convert.Convert (its OutType and Rewrite are set
	// by ConvertHF; Threads and Progress default to those of Options).
	Convert convert.Options
}

// ConvertHF converts the Hugging Face checkpoint folder hfDir and quantizes
// it to ft in one streaming pass, writing out atomically. By default the
// weights go through F16 exactly as `convert --outtype f16` writes them, so
// the file is byte for byte what converting to F16 and then quantizing gives
// (with QuantizeFile or llama-quantize), without the F16 file in between.
func ConvertHF(ctx context.Context, hfDir, out string, ft FileType, o ConvertOptions) (*Summary, *convert.Plan, error) {
	co := o.Convert
	co.OutType = gguf.TypeF16
	if o.FromSource {
		co.OutType = gguf.TypeF32
		o.ExtraKVs = append(o.ExtraKVs, gguf.KV{Key: KeyFromSource, Value: gguf.Bool(true)})
	}
	if co.Progress == nil {
		co.Progress = o.Progress
	}
	if co.Threads == 0 && o.Threads > 0 {
		co.Threads = o.Threads
	}
	var sum *Summary
	co.Rewrite = func(s *gguf.Spec) (*gguf.Spec, error) {
		q, qs, err := QuantizeSpec(s, ft, o.Options)
		sum = qs
		return q, err
	}
	plan, err := convert.Convert(ctx, hfDir, out, co)
	if err != nil {
		return nil, nil, err
	}
	if sum != nil {
		if st, err := os.Stat(out); err == nil {
			sum.FileSize = st.Size()
		}
	}
	return sum, plan, nil
}
