package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/sattva/sattva/convert"
	"github.com/sattva/sattva/convquant"
	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/internal/progress"
	"github.com/sattva/sattva/quantize"
)

// runConvertQuantized is `sattva convert HF_DIR --outtype q4_k_m`: convert and
// quantize in one streaming pass (convquant.Convert).
func runConvertQuantized(ctx context.Context, s *Streams, o *convertOptions, ft gguf.FileType) error {
	if o.DryRun {
		return usagef("--dry-run is not available with --outtype %s", o.OutType)
	}
	if o.Out == "" {
		o.Out = filepath.Join(o.In, fmt.Sprintf("%s-%s.gguf", filepath.Base(filepath.Clean(o.In)), strings.ToLower(ft.String())))
	}
	co := convquant.Options{FromSource: o.FromSource}
	if o.IMatrix != "" {
		im, err := quantize.ReadIMatrix(o.IMatrix)
		if err != nil {
			return err
		}
		co.Quantize.IMatrix, co.Quantize.IMatrixPath = im, o.IMatrix
	}
	co.Convert = convert.Options{Threads: o.Threads, Name: o.Name}
	for _, m := range o.MergeLoRA {
		co.Convert.MergeLoRA = append(co.Convert.MergeLoRA, parseLoRASpec(m))
	}
	bar := progress.New(s.ErrOut, "convert+quantize "+ft.String(), progress.Bytes, o.Quiet || o.JSON)
	co.Convert.Progress = bar.Func()
	start := time.Now()
	if err := ensureOutDir(o.Out); err != nil {
		return err
	}
	r, err := convquant.Convert(ctx, o.In, o.Out, ft, co)
	bar.Finish()
	if err != nil {
		return err
	}
	sum, plan := r.Quantized, r.Plan
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
		fmt.Fprintf(s.Out, "quantized from the source values (%s = true)\n", convquant.KeyFromSource)
	}
	return nil
}
