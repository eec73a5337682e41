package llamacpp

import (
	"errors"
	"fmt"
	"io/fs"
	"math"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/gguf/modelcheck"
)

// preflight reads the file at path with sattva's own GGUF reader and runs
// modelcheck on it before any C code sees it: llama.cpp aborts the whole
// process (or reads past a buffer) on files that modelcheck refuses. The
// finding is returned inside a *LoadError (errors.As finds the
// *gguf.FormatError with its Rule).
func preflight(path string, kind modelcheck.Kind) error {
	err := modelcheck.CheckFile(path, kind)
	if err == nil {
		return nil
	}
	var fe *gguf.FormatError
	switch {
	case errors.As(err, &fe):
		msg := "not a " + kind.String() + " llama.cpp can load (sattva's model check)"
		switch {
		case fe.Field == "header.magic":
			msg = "not a GGUF file"
		case fe.Rule == "":
			msg = "not a valid GGUF file"
		}
		return &LoadError{Path: path, Msg: msg, Err: err, Invalid: true}
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission):
		return &LoadError{Path: path, Msg: "cannot open", Err: err}
	default:
		var ii interface{ InvalidInput() bool }
		return &LoadError{Path: path, Msg: "cannot read", Err: err, Invalid: errors.As(err, &ii) && ii.InvalidInput()}
	}
}

// preflightAdapter refuses a non-finite scale, then checks the file.
func preflightAdapter(a Adapter) error {
	if f := float64(a.Scale); math.IsNaN(f) || math.IsInf(f, 0) {
		return &LoadError{Path: a.Path, Msg: fmt.Sprintf("LoRA scale %v is not a finite number", a.Scale), Invalid: true}
	}
	return preflight(a.Path, modelcheck.Adapter)
}

func loadKind(o ModelOptions) modelcheck.Kind {
	if o.VocabOnly {
		return modelcheck.Vocab
	}
	return modelcheck.Model
}
