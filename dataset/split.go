package dataset

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"
)

// SplitOptions configure Split.
type SplitOptions struct {
	// EvalShare is the share of examples of each language that go to eval, 0..1.
	EvalShare float64
	Seed      uint64
}

// SplitStats counts what Split wrote, per language ("" for none).
type SplitStats struct {
	Train map[string]int64 `json:"train"`
	Eval  map[string]int64 `json:"eval"`
}

// Split divides a JSONL dataset into train and eval, stratified by lang:
// of each language's n examples exactly round(n·EvalShare) go to eval, chosen
// by a seeded selection sample, so the same input, share and seed always give
// the same split. Lines are copied byte for byte in their original order.
// open is called twice (one pass counts, the second writes); each reader is
// closed. Blank lines are dropped; any other line that is not a JSON object is
// an error naming its line (run Validate first).
func Split(ctx context.Context, open func() (io.ReadCloser, error), train, eval io.Writer, o SplitOptions) (*SplitStats, error) {
	if o.EvalShare < 0 || o.EvalShare > 1 || math.IsNaN(o.EvalShare) {
		return nil, fmt.Errorf("dataset: eval share %v outside 0..1", o.EvalShare)
	}
	counts := map[string]int64{}
	if err := eachRecord(ctx, open, func(_ int64, _ []byte, lang string) error {
		counts[lang]++
		return nil
	}); err != nil {
		return nil, err
	}
	langs := make([]string, 0, len(counts))
	for l := range counts {
		langs = append(langs, l)
	}
	sort.Strings(langs)
	type state struct {
		need, left int64
		r          *rand.Rand
	}
	st := map[string]*state{}
	for i, l := range langs {
		n := counts[l]
		st[l] = &state{need: int64(math.Round(float64(n) * o.EvalShare)), left: n, r: rand.New(rand.NewPCG(o.Seed, uint64(i)+1))}
	}
	stats := &SplitStats{Train: map[string]int64{}, Eval: map[string]int64{}}
	err := eachRecord(ctx, open, func(line int64, raw []byte, lang string) error {
		s := st[lang]
		if s == nil {
			return fmt.Errorf("dataset: line %d: the input changed between passes", line)
		}
		w, m := train, stats.Train
		// Knuth's algorithm S: select with probability need/left.
		if s.left > 0 && s.r.Int64N(s.left) < s.need {
			w, m = eval, stats.Eval
			s.need--
		}
		s.left--
		m[lang]++
		if _, err := w.Write(raw); err != nil {
			return err
		}
		_, err := w.Write([]byte{'\n'})
		return err
	})
	if err != nil {
		return nil, err
	}
	return stats, nil
}

// eachRecord calls fn for every non-blank line that is a JSON object.
func eachRecord(ctx context.Context, open func() (io.ReadCloser, error), fn func(line int64, raw []byte, lang string) error) error {
	f, err := open()
	if err != nil {
		return err
	}
	defer f.Close()
	rc, _, err := NewReader(f)
	if err != nil {
		return err
	}
	defer rc.Close()
	lr := newLineReader(ctx, rc, 16<<20)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		raw, tooLong, err := lr.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if tooLong {
			return &LineError{Line: lr.line, Msg: "line too long"}
		}
		if len(trimSpace(raw)) == 0 {
			continue
		}
		rec, err := parseRecord(raw, false)
		if err != nil {
			return &LineError{Line: lr.line, Msg: err.Error()}
		}
		if err := fn(lr.line, raw, rec.ex.Lang); err != nil {
			return err
		}
	}
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// LineError is a line that Split or Convert cannot use; it is an invalid input.
type LineError struct {
	Line int64
	Msg  string
}

func (e *LineError) Error() string { return fmt.Sprintf("dataset: line %d: %s", e.Line, e.Msg) }

// Is makes errors.Is(err, ErrFormat) true.
func (e *LineError) Is(target error) bool { return target == ErrFormat }

// InvalidInput marks the error as an invalid input file (exit code 3).
func (e *LineError) InvalidInput() bool { return true }
