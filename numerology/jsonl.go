package numerology

import (
	"bytes"
	"encoding/json"
)

// ExamplesJSONL returns the examples o generates as JSONL, one object per
// line with HTML characters unescaped (as `sattva data gen` writes them):
// the fixture of dataset's tests and benchmarks.
func ExamplesJSONL(o GenOptions) ([]byte, error) {
	seq, err := Examples(o)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for ex := range seq {
		if err := enc.Encode(ex); err != nil {
			return nil, err
		}
	}
	return b.Bytes(), nil
}
