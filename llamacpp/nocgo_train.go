//go:build !cgo

package llamacpp

import "context"

// Train returns ErrNoEngine without cgo (after checking its options, so a
// bad option is reported the same in both builds).
func Train(ctx context.Context, o TrainOptions) (*TrainResult, error) {
	if _, err := planTrain(o); err != nil {
		return nil, err
	}
	return nil, ErrNoEngine
}

// autoEngine is EngineLlamaOpt without cgo (Train fails anyway).
func autoEngine(*TrainOptions) (engine, why string, err error) {
	return EngineLlamaOpt, "built without cgo", nil
}

// cudaDevice is "" without cgo (no device is loaded).
func cudaDevice(*TrainOptions) string { return "" }

func llamaOptCUDA(string) string { return "" }
