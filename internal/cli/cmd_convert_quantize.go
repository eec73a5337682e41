package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/sattva/sattva/convert"
	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/progress"
	"github.com/sattva/sattva/quantize"
)

// quantizedOutType reports whether `convert --outtype` names a llama-quantize
// file type that convert does not write itself (everything but f32, f16,
// bf16 and q8_0), to be quantized in the same pass.
func quantizedOutType(s string) (quantize.FileType, bool) {
	if t, err := gguf.ParseType(s); err == nil {
		switch t {
		case gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16, gguf.TypeQ8_0:
			return 0, false
		}
	}
	ft, err := quantize.ParseFileType(s)
	if err != nil {
		return 0, false
	}
	switch ft {
	case quantize.AllF32, quantize.MostlyF16, quantize.MostlyBF16, quantize.MostlyQ8_0:
		return 0, false
	}
	return ft, true
}

// runConvertQuantized is `sattva convert HF_DIR --outtype q4_k_m`: convert and
// quantize in one streaming pass (quantize.ConvertHF).
func runConvertQuantized(ctx context.Context, s *Streams, o *convertOptions, ft quantize.FileType) error {
	if o.DryRun {
		return usagef("--dry-run is not available with --outtype %s", o.OutType)
	}
	if o.Out == "" {
		o.Out = filepath.Join(o.In, fmt.Sprintf("%s-%s.gguf", filepath.Base(filepath.Clean(o.In)), strings.ToLower(ft.String())))
	}
	co := quantize.ConvertOptions{FromSource: o.FromSource}
	co.Threads = o.Threads
	if o.IMatrix != "" {
		im, err := quantize.ReadIMatrix(o.IMatrix)
		if err != nil {
			return err
		}
		co.IMatrix, co.IMatrixPath = im, o.IMatrix
	}
	co.Convert = convert.Options{Threads: o.Threads, Name: o.Name}
	for _, m := range o.MergeLoRA {
		co.Convert.MergeLoRA = append(co.Convert.MergeLoRA, parseLoRASpec(m))
	}
	bar := progress.New(s.ErrOut, "convert+quantize "+ft.String(), progress.Bytes, o.Quiet || o.JSON)
	co.Progress = bar.Func()
	start := time.Now()
	sum, plan, err := quantize.ConvertHF(ctx, o.In, o.Out, ft, co)
	bar.Finish()
	if err != nil {
		return err
	}
	res := quantizeSummary{Engine: "go", Input: o.In, Output: o.Out, FileType: ft.String(),
		InputBytes: plan.SourceBytes, OutputBytes: sum.FileSize, Params: sum.Params, BitsPerWeight: sum.BitsPerWeight(),
		Tensors: sum.Tensors, Quantized: sum.Quantized, Fallbacks: sum.Fallbacks, Types: map[string]int{},
		Seconds: time.Since(start).Seconds()}
	for t, n := range sum.TypeCounts {
		res.Types[t.String()] = n
	}
	if o.JSON {
		return writeJSON(s.Out, res)
	}
	printQuantizeSummary(s.Out, res)
	if o.FromSource {
		fmt.Fprintf(s.Out, "quantized from the source values (%s = true)\n", quantize.KeyFromSource)
	}
	return nil
}
