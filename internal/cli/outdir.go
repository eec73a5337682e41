package cli

import (
	"os"
	"path/filepath"
)

// ensureOutDir creates the folder an output file goes into, as a user who
// writes `-o out/model.gguf` on a fresh project expects.
func ensureOutDir(file string) error {
	if file == "" {
		return nil
	}
	return os.MkdirAll(filepath.Dir(file), 0o755)
}
