package cli

import (
	"os"
	"path/filepath"

	"github.com/sattva/sattva/internal/fileguard"
)

// guardOutputs is every writing command's check before it creates anything:
// no output may be one of the command's inputs, or another of its outputs,
// compared as files (fileguard.Outputs: os.SameFile after resolving links),
// not as strings. An output that exists and is no input may be replaced.
func guardOutputs(inputs []string, outputs ...string) error {
	if err := fileguard.Outputs(inputs, outputs...); err != nil {
		return &UsageError{Err: err}
	}
	return nil
}

// folderInputs returns dir itself and the files directly in it: the inputs
// of a command that reads a model folder.
func folderInputs(dirs ...string) []string {
	var out []string
	for _, dir := range dirs {
		if dir == "" {
			continue
		}
		out = append(out, dir)
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			if !e.IsDir() {
				out = append(out, filepath.Join(dir, e.Name()))
			}
		}
	}
	return out
}
