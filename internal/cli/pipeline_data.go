package cli

import "context"

// dataValidator returns the dataset check the training and pipeline stages
// run before any work: nil until wired to the dataset package (then the
// stage's own structural check of every line is all that runs).
func dataValidator() func(ctx context.Context, path string) error {
	return nil
}
