package dataset

import (
	"errors"
	"strings"
	"testing"
)

// FuzzReadAlpacaJSONL: malformed lines are *ExampleError with a line number.
func FuzzReadAlpacaJSONL(f *testing.F) {
	f.Add([]byte(`{"instruction":"a","input":"","output":"b"}` + "\n\n" + `{"instruction":"c","output":"d","system":"s"}`))
	f.Add([]byte(`{"instruction":1,"output":"b"}`))
	f.Add([]byte("{\"instruction\":\"a\",\"output\":\"\"}\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ex, err := ReadExamples("d.jsonl", strings.NewReader(string(data)))
		if err != nil {
			var de *ExampleError
			if !errors.As(err, &de) || de.Line < 1 {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		for _, e := range ex {
			if strings.TrimSpace(e.Instruction) == "" || strings.TrimSpace(e.Output) == "" {
				t.Fatalf("empty example accepted: %+v", e)
			}
		}
	})
}
