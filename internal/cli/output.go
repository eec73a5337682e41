package cli

import (
	"encoding/json"
	"fmt"
	"io"
)

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// writeJSON writes v as indented JSON followed by a newline: the form every
// --json flag prints.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
