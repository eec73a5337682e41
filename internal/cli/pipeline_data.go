package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/sattva/sattva/dataset"
)

// datasetRejected is a dataset with errors (warnings do not stop training).
type datasetRejected struct {
	path   string
	errors int64
	first  []string
}

func (e *datasetRejected) Error() string {
	return fmt.Sprintf("%s: %d errors (sattva data validate %s lists them all):\n  %s", e.path, e.errors, e.path, strings.Join(e.first, "\n  "))
}

func (e *datasetRejected) InvalidInput() bool { return true }

// dataValidator returns the check the training and pipeline stages run on
// every dataset file before any work: `sattva data validate`'s validator
// (structure, duplicates, lang/script, numerology answers); errors reject the
// file, warnings pass.
func dataValidator() func(ctx context.Context, path string) error {
	return func(ctx context.Context, path string) error {
		v := dataset.NewValidator(dataset.Options{MaxIssues: 1000})
		if err := v.ValidateFile(ctx, path); err != nil {
			return err
		}
		rep := v.Report()
		if rep.Errors == 0 {
			return nil
		}
		e := &datasetRejected{path: path, errors: rep.Errors}
		for _, is := range rep.Issues {
			if is.Severity == dataset.Error && len(e.first) < 5 {
				e.first = append(e.first, is.String())
			}
		}
		return e
	}
}
