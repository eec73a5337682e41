package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// IMatrixAuto and IMatrixNone are export.imatrix's keywords; anything else
// is the path of an importance-matrix file (GGUF or legacy .dat).
const (
	IMatrixAuto = "auto"
	IMatrixNone = "none"
)

// imatrixChunk and imatrixChunks are the chunk size and the most chunks
// export's automatic importance matrix uses: llama-imatrix's default -c, and
// 100 chunks (51,200 tokens; on a CPU about the time of 100 prompt passes of
// 512 tokens).
const (
	imatrixChunk  = 512
	imatrixChunks = 100
)

// IMatrixDir caches automatic importance matrices: <output>/imatrix.
func (p *Project) IMatrixDir() string { return filepath.Join(p.OutputDir(), "imatrix") }

// exportIMatrix returns the importance matrix the export quantizes with, ""
// for none, and a note for the manifest. With export.imatrix auto it is
// computed from the training data on the converted float model (with the
// adapter merged) and cached under IMatrixDir by a hash of the base, the
// adapter, the data and the settings, so a re-export with the same inputs
// reuses it. Without data, or when the data is too short, auto quantizes
// without one and says so.
func exportIMatrix(ctx context.Context, p *Project, o ExportOptions, prov *Provenance, floatPath string, log *slog.Logger) (path, note string, err error) {
	setting := strings.TrimSpace(p.Export.IMatrix)
	switch {
	case strings.EqualFold(setting, IMatrixNone):
		return "", "", nil
	case !strings.EqualFold(setting, IMatrixAuto):
		return p.Resolve(setting), "quantized with the importance matrix " + setting, nil
	}
	if !needsQuantize(p.Export.Types, p.Export.OutType) {
		return "", "", nil
	}
	if o.Tools.IMatrix == nil {
		return "", "", nil
	}
	var data []string
	for _, f := range p.DataFiles() {
		if _, err := os.Stat(f); err == nil {
			data = append(data, f)
		}
	}
	if len(data) == 0 {
		return "", "export.imatrix auto: no training data to compute an importance matrix from; quantized without one", nil
	}
	h := sha256.New()
	fmt.Fprintf(h, "imatrix v1 c=%d chunks=%d outtype=%s base=%s", imatrixChunk, imatrixChunks, p.Export.OutType, prov.Base.SHA256)
	if prov.Adapter != nil {
		fmt.Fprintf(h, " adapter=%s", prov.Adapter.SHA256)
	}
	for _, d := range prov.Datasets {
		fmt.Fprintf(h, " data=%s", d.SHA256)
	}
	path = filepath.Join(p.IMatrixDir(), "imatrix-"+hex.EncodeToString(h.Sum(nil))[:16]+".gguf")
	if _, err := os.Stat(path); err == nil {
		log.Info("importance matrix from cache", "path", path)
		return path, "quantized with the importance matrix of the training data (cached " + filepath.Base(path) + ")", nil
	}
	if err := os.MkdirAll(p.IMatrixDir(), 0o755); err != nil {
		return "", "", err
	}
	log.Info("computing the importance matrix", "model", floatPath, "data", data, "out", path)
	if err := o.Tools.IMatrix(ctx, floatPath, path, data, imatrixChunk, imatrixChunks); err != nil {
		if ctx.Err() != nil {
			return "", "", err
		}
		log.Warn("no importance matrix", "err", err)
		return "", fmt.Sprintf("export.imatrix auto: could not compute an importance matrix (%v); quantized without one", err), nil
	}
	return path, "quantized with the importance matrix of the training data (" + filepath.Base(path) + ")", nil
}

// needsQuantize reports whether some export type goes through Quantize.
func needsQuantize(types []string, outType string) bool {
	for _, ty := range types {
		lt := strings.ToLower(ty)
		if lt != strings.ToLower(outType) && !convertsDirectly(lt) {
			return true
		}
	}
	return false
}
