package pipeline

import (
	"context"

	"github.com/sattva/sattva/convert"
	"github.com/sattva/sattva/convquant"
	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/quantize"
)

// ProgressFunc starts the progress report of one export step ("convert" or
// "quantize") writing out: it returns the callback the step reports bytes
// written to and a function that ends the report.
type ProgressFunc func(step, out string) (report func(done, total int64), finish func())

// ConvertTools are the ExportTools of packages convquant and quantize, with
// threads workers each (0: GOMAXPROCS); progress may be nil.
func ConvertTools(threads int, progress ProgressFunc) ExportTools {
	start := func(step, out string) (func(done, total int64), func()) {
		if progress == nil {
			return nil, func() {}
		}
		return progress(step, out)
	}
	return ExportTools{
		ConvertBase: func(ctx context.Context, hfDir, out, outType, merge string, kvs, defaults []gguf.KV) error {
			ft, err := convquant.ParseOutType(outType)
			if err != nil {
				return err
			}
			report, finish := start("convert", out)
			defer finish()
			co := convert.Options{Threads: threads, Progress: report, ExtraKVs: kvs, DefaultKVs: defaults}
			if merge != "" {
				co.MergeLoRA = []convert.LoRASpec{{Dir: merge, Scale: 1}}
			}
			_, err = convquant.Convert(ctx, hfDir, out, ft, convquant.Options{Convert: co})
			return err
		},
		ConvertLoRA: func(ctx context.Context, adapterDir, baseDir, out string, kvs []gguf.KV) error {
			report, finish := start("convert", out)
			defer finish()
			_, err := convert.ConvertLoRA(ctx, adapterDir, baseDir, out, convert.LoRAOptions{Threads: threads, Progress: report, ExtraKVs: kvs})
			return err
		},
		Quantize: func(ctx context.Context, in, out, fileType, imatrix string) error {
			ft, err := gguf.ParseFileType(fileType)
			if err != nil {
				return err
			}
			qo := quantize.Options{Threads: threads}
			if imatrix != "" {
				if qo.IMatrix, err = quantize.ReadIMatrix(imatrix); err != nil {
					return err
				}
				qo.IMatrixPath = imatrix
			}
			report, finish := start("quantize", out)
			defer finish()
			qo.Progress = report
			_, err = quantize.QuantizeFile(ctx, in, out, ft, qo)
			return err
		},
	}
}
