//go:build !cgo

package llamacpp

import "context"

// CollectIMatrix returns ErrNoEngine.
func (m *Model) CollectIMatrix(ctx context.Context, tokens []int32, o IMatrixOptions) (*IMatrixStats, error) {
	return nil, ErrNoEngine
}
