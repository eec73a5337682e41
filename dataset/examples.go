package dataset

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// ExampleError is a malformed line in a file ReadExamples reads.
type ExampleError struct {
	File string
	Line int
	Msg  string
}

func (e *ExampleError) Error() string      { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg) }
func (e *ExampleError) InvalidInput() bool { return true }

// ReadExamplesFile reads a whole JSONL dataset strictly, for a trainer's
// input (Validator is the streaming, reporting reader): one object per line
// with string fields instruction (required), input, output (required) and
// system; other fields (lang, history, …) are ignored. Blank lines are
// skipped; the first malformed line is an *ExampleError. The file may be
// gzip- or zstd-compressed.
func ReadExamplesFile(path string) ([]Example, error) {
	f, err := Open(path) // plain, gzip or zstd
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadExamples(path, f)
}

// ReadExamples is ReadExamplesFile over a reader; name is used in errors.
func ReadExamples(name string, r io.Reader) ([]Example, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var out []Example
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			return nil, &ExampleError{name, line, "not a JSON object: " + err.Error()}
		}
		var ex Example
		for _, f := range []struct {
			key string
			dst *string
			req bool
		}{{"instruction", &ex.Instruction, true}, {"input", &ex.Input, false}, {"output", &ex.Output, true}, {"system", &ex.System, false}} {
			v, ok := raw[f.key]
			if !ok {
				if f.req {
					return nil, &ExampleError{name, line, fmt.Sprintf("missing %q", f.key)}
				}
				continue
			}
			if err := json.Unmarshal(v, f.dst); err != nil {
				return nil, &ExampleError{name, line, fmt.Sprintf("%q must be a string", f.key)}
			}
			if f.req && strings.TrimSpace(*f.dst) == "" {
				return nil, &ExampleError{name, line, fmt.Sprintf("%q is empty", f.key)}
			}
		}
		out = append(out, ex)
	}
	if err := sc.Err(); err != nil {
		return nil, &ExampleError{name, line + 1, err.Error()}
	}
	return out, nil
}
