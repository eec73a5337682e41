package gguf

import (
	"errors"
	"fmt"
)

// ErrFormat is matched (errors.Is) by every *FormatError: the input is not a
// valid GGUF file.
var ErrFormat = errors.New("gguf: invalid file")

// ErrKeyNotFound is returned (wrapped, naming the key) by File's typed
// accessors when the key is absent.
var ErrKeyNotFound = errors.New("gguf: key not found")

// FormatError reports a file that is not valid GGUF: Offset is the byte
// offset in the file where the bad field starts, Field names it
// ("header.magic", "kv[3].value", "tensor[\"blk.0.attn_q.weight\"].dims").
//
// Rule, when set, names the check of package gguf/modelcheck that the file
// fails ("vocab.unique-tokens"): the file is valid GGUF but llama.cpp would
// abort on it or refuse it. Offset is then that of the key or tensor info.
type FormatError struct {
	Offset int64
	Field  string
	Msg    string
	Rule   string
}

func (e *FormatError) Error() string {
	if e.Rule != "" {
		return fmt.Sprintf("gguf: invalid file at offset %d (%s): rule %s: %s", e.Offset, e.Field, e.Rule, e.Msg)
	}
	return fmt.Sprintf("gguf: invalid file at offset %d (%s): %s", e.Offset, e.Field, e.Msg)
}

// Is makes errors.Is(err, ErrFormat) true for every *FormatError.
func (e *FormatError) Is(target error) bool { return target == ErrFormat }

// InvalidInput marks a FormatError as "the input file is invalid" for the
// command line's exit code 3.
func (e *FormatError) InvalidInput() bool { return true }

// TypeError is returned by File's typed accessors when a key holds a value
// of another type. Want and Got are type names as Value.TypeName gives them
// ("UINT32", "ARRAY[STRING]").
type TypeError struct {
	Key  string
	Want string
	Got  string
}

func (e *TypeError) Error() string {
	return fmt.Sprintf("gguf: key %q is %s, not %s", e.Key, e.Got, e.Want)
}

var (
	_ error = (*FormatError)(nil)
	_ error = (*TypeError)(nil)
)
