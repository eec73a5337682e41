package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// imatrixTools are fakeTools with an IMatrix tool, recording the imatrix
// each quantization gets.
func imatrixTools(t *testing.T, calls *[]string, fail error) ExportTools {
	tools := fakeTools(t, calls)
	q := tools.Quantize
	tools.Quantize = func(ctx context.Context, in, out, ft, imatrix string) error {
		*calls = append(*calls, "with imatrix="+filepath.Base(imatrix))
		return q(ctx, in, out, ft, imatrix)
	}
	tools.IMatrix = func(ctx context.Context, model, out string, data []string, chunk, chunks int) error {
		*calls = append(*calls, "imatrix "+filepath.Base(model)+" data="+filepath.Base(data[0]))
		if fail != nil {
			return fail
		}
		return os.WriteFile(out, []byte("im"), 0o644)
	}
	return tools
}

func TestExportIMatrixAutoIsCached(t *testing.T) {
	p := mustProject(t, t.TempDir(), "export:\n  types: [q4_K_M, q8_0]\n")
	writeAdapter(t, p)
	if p.Export.IMatrix != IMatrixAuto {
		t.Fatalf("export.imatrix defaults to %q, want auto", p.Export.IMatrix)
	}
	var calls []string
	res, err := Export(context.Background(), p, ExportOptions{Tools: imatrixTools(t, &calls, nil)})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(calls, "|")
	if !strings.Contains(got, "convert m-f16.gguf f16 merge=adapter|imatrix m-f16.gguf data=") ||
		!strings.Contains(got, "with imatrix=imatrix-") || strings.Count(got, "imatrix ") != 1 {
		t.Errorf("calls %s: want the imatrix computed once on the merged f16 and given to quantize", got)
	}
	if !strings.Contains(strings.Join(res.Manifest.Notes, "\n"), "importance matrix of the training data") {
		t.Errorf("notes %q", res.Manifest.Notes)
	}
	calls = nil
	if _, err := Export(context.Background(), p, ExportOptions{Tools: imatrixTools(t, &calls, nil)}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(calls, "|"); strings.Contains(got, "imatrix m-f16") || !strings.Contains(got, "with imatrix=imatrix-") {
		t.Errorf("second export: %s; want the cached imatrix reused", got)
	}
	// Another adapter: another key, computed again.
	os.WriteFile(filepath.Join(p.AdapterDir(), "adapter_model.safetensors"), []byte("lora2"), 0o644)
	calls = nil
	if _, err := Export(context.Background(), p, ExportOptions{Tools: imatrixTools(t, &calls, nil), Hashes: nil}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(calls, "|"); !strings.Contains(got, "imatrix m-f16") {
		t.Errorf("changed adapter: %s; want a new imatrix", got)
	}
}

func TestExportIMatrixNoneFileAndFailure(t *testing.T) {
	p := mustProject(t, t.TempDir(), "export:\n  types: [q4_K_M]\n  imatrix: none\n")
	var calls []string
	if _, err := Export(context.Background(), p, ExportOptions{Tools: imatrixTools(t, &calls, nil)}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(calls, "|"); strings.Contains(got, "imatrix m-") || !strings.Contains(got, "with imatrix=.") {
		t.Errorf("imatrix none: %s", got)
	}

	p = mustProject(t, t.TempDir(), "export:\n  types: [q4_K_M]\n  imatrix: my.imatrix\n")
	calls = nil
	if _, err := Export(context.Background(), p, ExportOptions{Tools: imatrixTools(t, &calls, nil)}); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(calls, "|"); !strings.Contains(got, "with imatrix=my.imatrix") {
		t.Errorf("imatrix file: %s", got)
	}

	p = mustProject(t, t.TempDir(), "export:\n  types: [q4_K_M]\n")
	calls = nil
	res, err := Export(context.Background(), p, ExportOptions{Tools: imatrixTools(t, &calls, errors.New("too few tokens"))})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(calls, "|"); !strings.Contains(got, "with imatrix=.") ||
		!strings.Contains(strings.Join(res.Manifest.Notes, "\n"), "too few tokens") {
		t.Errorf("failed imatrix: calls %s notes %q; want quantized without and a note", got, res.Manifest.Notes)
	}
}
