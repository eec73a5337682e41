package cli

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"github.com/sattva/sattva/internal/progress"
	"github.com/sattva/sattva/llamacpp"
	"github.com/sattva/sattva/quantize"
)

// exportIMatrixTool is pipeline.ExportTools.IMatrix: sattva imatrix's
// computation on the export's float model. Without the llama.cpp engine
// (a build without cgo) it reports why and export quantizes without one.
func exportIMatrixTool(errOut io.Writer, threads int, quiet bool) func(ctx context.Context, model, out string, data []string, chunk, chunks int) error {
	return func(ctx context.Context, model, out string, data []string, chunk, chunks int) error {
		log := slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: slog.LevelWarn}))
		if _, err := llamacpp.InitBackends("", log); err != nil {
			if errors.Is(err, llamacpp.ErrNoEngine) {
				return errors.New("this sattva was built without the llama.cpp engine")
			}
			return err
		}
		bar := progress.New(errOut, "imatrix", progress.Items, quiet)
		sums, err := computeIMatrix(ctx, imatrixOpts{Model: model, Data: data, ChunkSize: chunk, Chunks: chunks,
			Threads: threads, Logger: log, Progress: func(d, n int) { bar.Update(int64(d), int64(n)) }})
		bar.Finish()
		if err != nil {
			return err
		}
		return quantize.WriteIMatrix(ctx, out, sums)
	}
}
