package modelcheck_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/sattva/sattva/gguf"
	"github.com/sattva/sattva/gguf/modelcheck"
	"github.com/sattva/sattva/internal/hostile"
)

func parse(t testing.TB, b []byte) (*gguf.File, error) {
	t.Helper()
	return gguf.NewReader(bytes.NewReader(b), int64(len(b)), gguf.DefaultLimits())
}

func TestTinyLlamaPasses(t *testing.T) {
	for _, k := range []modelcheck.Kind{modelcheck.Model, modelcheck.Vocab} {
		f, err := parse(t, hostile.TinyLlama().Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if err := modelcheck.Check(f, k); err != nil {
			t.Fatalf("%v: %v", k, err)
		}
	}
	f, err := parse(t, hostile.TinyLoRA().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := modelcheck.Check(f, modelcheck.Adapter); err != nil {
		t.Fatal(err)
	}
}

// TestHostileCases checks that every hostile GGUF is refused by the rule it
// breaks (or by the reader), as a *gguf.FormatError naming the rule.
func TestHostileCases(t *testing.T) {
	for _, c := range hostile.GGUFCases() {
		t.Run(c.Name, func(t *testing.T) {
			f, err := parse(t, c.Data)
			if err == nil {
				kind := modelcheck.Model
				if c.Kind == hostile.AsAdapter {
					kind = modelcheck.Adapter
				}
				err = modelcheck.Check(f, kind)
			}
			if err == nil {
				t.Fatalf("accepted; want rule %q", c.Rule)
			}
			var fe *gguf.FormatError
			if !errors.As(err, &fe) || !errors.Is(err, gguf.ErrFormat) {
				t.Fatalf("error %v (%T) is not a *gguf.FormatError", err, err)
			}
			if fe.Rule != c.Rule {
				t.Fatalf("rule %q, want %q: %v", fe.Rule, c.Rule, err)
			}
		})
	}
}

func TestTruncationsRefused(t *testing.T) {
	for _, c := range hostile.Truncations("tiny", hostile.TinyLlama().Bytes(), 7) {
		if _, err := parse(t, c.Data); !errors.Is(err, gguf.ErrFormat) {
			t.Fatalf("%s: %v", c.Name, err)
		}
	}
}
