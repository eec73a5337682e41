//go:build !cgo

package cli

import (
	"context"

	"github.com/sattva/sattva/llamacpp"
)

// measureRun needs the llama.cpp engine, which a CGO_ENABLED=0 build lacks.
func measureRun(ctx context.Context, path string, o *planRunOptions) (*runMeasurement, func(), error) {
	return nil, nil, llamacpp.ErrNoEngine
}
