package dataset

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/sattva/sattva/internal/cputime"
	"github.com/sattva/sattva/numerology"
)

// generated returns n generated numerology examples as JSONL, dates drawn
// from years 1000..9999 so that up to millions are distinct.
func generated(tb testing.TB, n int) []byte {
	tb.Helper()
	b, err := numerology.ExamplesJSONL(numerology.GenOptions{N: n, Seed: 1, RussianShare: 0.5,
		From: numerology.Date{Year: 1000, Month: 1, Day: 1}, To: numerology.Date{Year: 9999, Month: 12, Day: 31}})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// BenchmarkValidate measures validation without token counting; MB/s is of
// the JSONL text. The duplicate index is on, as by default.
func BenchmarkValidate(b *testing.B) {
	data := generated(b, 100_000)
	cputime.Bench(b, data, func() {
		v := NewValidator(Options{})
		if err := v.Validate(context.Background(), bytes.NewReader(data), "bench"); err != nil {
			b.Fatal(err)
		}
		if v.Report().Errors != 0 {
			b.Fatalf("%d errors: %v", v.Report().Errors, v.Report().Issues[0])
		}
	})
}

func BenchmarkParseRecord(b *testing.B) {
	data := generated(b, 1000)
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range lines {
			if _, err := parseRecord(l, true); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkAnchorUnmarshal is the anchor for BenchmarkValidate: the same
// lines decoded with encoding/json into Example on one goroutine, no checks.
func BenchmarkAnchorUnmarshal(b *testing.B) {
	data := generated(b, 100_000)
	cputime.Bench(b, data, func() {
		rest := data
		for len(rest) > 0 {
			i := bytes.IndexByte(rest, '\n')
			var ex Example
			if err := json.Unmarshal(rest[:i], &ex); err != nil {
				b.Fatal(err)
			}
			rest = rest[i+1:]
		}
	})
}
