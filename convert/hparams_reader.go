package convert

import (
	"encoding/json"
	"io"
)

// maxConfigBytes bounds a config.json read by ReadHParams.
const maxConfigBytes = 1 << 20

// ReadHParams reads a config.json from r (name is used in errors), as
// LoadHParams does from a folder: the one reader of Hugging Face configs.
func ReadHParams(r io.Reader, name string) (*HParams, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxConfigBytes))
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, &InputError{File: name, Msg: "not a JSON object: " + err.Error()}
	}
	return parseHParams(m, name)
}
