package dataset

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/sattva/sattva/internal/fileguard"
	"github.com/sattva/sattva/numerology"
)

// TokenCounter counts the tokens of an example after the chat template, the
// way the trainer will see it. Implementations must be safe for concurrent use.
type TokenCounter interface {
	CountTokens(ex *Example) (int, error)
}

// DefaultCutoff is LLaMA-Factory's default cutoff_len.
const DefaultCutoff = 2048

// Options configure a Validator. The zero value is usable.
type Options struct {
	// Tokens, when set, counts every example's tokens after the chat template;
	// examples longer than Cutoff are reported as KindTruncated.
	Tokens TokenCounter
	// Cutoff is LLaMA-Factory's cutoff_len in tokens (0: DefaultCutoff). An
	// example is truncated when its total length exceeds it.
	Cutoff int
	// NoDuplicates turns off duplicate detection, the only state that grows
	// with the number of examples (one 32-byte hash entry each, about 100
	// bytes with the map's overhead).
	NoDuplicates bool
	// MaxDuplicateIndex bounds the duplicate index: the first
	// MaxDuplicateIndex distinct examples are remembered (as hashes, not
	// text), later ones are compared with them but not added, and one
	// KindDuplicatesUnchecked warning says so. 0: DefaultMaxDuplicateIndex.
	MaxDuplicateIndex int
	// MaxLineBytes is the longest line read (0: 16 MiB); longer lines are
	// reported as KindLineTooLong and skipped without being held in memory.
	MaxLineBytes int
	// MaxIssues is how many issues the Report keeps (0: 1000; negative: none);
	// counts are always complete and OnIssue sees every issue.
	MaxIssues int
	// Workers parse and check lines in parallel (0: GOMAXPROCS).
	Workers int
	// OnIssue, if set, is called for every issue in file and line order, from
	// the goroutine that called Validate.
	OnIssue func(Issue)
	// Progress, if set, is called with bytes of the current file read (as stored,
	// compressed or not) and its size (0 when unknown).
	Progress func(done, total int64)
}

// Report summarises a validation.
type Report struct {
	Files         []string         `json:"files"`
	Lines         int64            `json:"lines"`
	Examples      int64            `json:"examples"`
	Bytes         int64            `json:"bytes"` // decompressed bytes read
	Errors        int64            `json:"errors"`
	Warnings      int64            `json:"warnings"`
	ByKind        map[Kind]int64   `json:"by_kind"`
	ByLang        map[string]int64 `json:"by_lang"`
	Issues        []Issue          `json:"issues"`
	IssuesDropped int64            `json:"issues_not_listed,omitempty"`
	Tokens        *TokenStats      `json:"tokens,omitempty"`
}

// TokenStats describe token lengths after the chat template.
type TokenStats struct {
	Cutoff    int      `json:"cutoff_len"`
	Counted   int64    `json:"counted"`
	Total     int64    `json:"total"`
	Min       int      `json:"min"`
	Max       int      `json:"max"`
	Mean      float64  `json:"mean"`
	Truncated int64    `json:"truncated"`
	Histogram []Bucket `json:"histogram"`
}

// Bucket counts examples with Lo < tokens ≤ Hi (buckets above the cutoff are truncated).
type Bucket struct {
	Lo    int   `json:"lo"`
	Hi    int   `json:"hi"`
	Count int64 `json:"count"`
}

// histBounds returns the histogram's bucket bounds: 16, 24, 32, 48, 64, 96, 128,
// 192, 256, … (powers of two and 1.5×), with the cutoff as one of them.
func histBounds(cutoff int) []int {
	b := []int{0}
	for p := 16; p <= 1<<24; p *= 2 {
		b = append(b, p, p+p/2)
	}
	i := sort.SearchInts(b, cutoff)
	if i == len(b) || b[i] != cutoff {
		b = slices.Insert(b, i, cutoff)
	}
	return b
}

// bucketOf returns the index of the bucket (bounds[i], bounds[i+1]] holding n.
func bucketOf(bounds []int, n int) int {
	return max(sort.SearchInts(bounds, n)-1, 0)
}

// Validator checks one or more files with shared duplicate detection.
// It is not safe for concurrent use.
type Validator struct {
	o    Options
	rep  Report
	seed maphash.Seed
	seen map[uint64]dupEntry // normalised hash → first example with it
	// seenExact holds the exact hashes of near duplicates (the rare examples
	// whose normalised hash was seen with other text)
	seenExact map[uint64]dupEntry
	indexFull bool // MaxDuplicateIndex reached
	hist      []int64
	bounds    []int
	files     []string
	fileNo    int32
}

type dupEntry struct {
	exact uint64
	line  int64
	file  int32
}

// NewValidator returns a Validator with options o.
func NewValidator(o Options) *Validator {
	if o.Cutoff <= 0 {
		o.Cutoff = DefaultCutoff
	}
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = 16 << 20
	}
	if o.MaxIssues == 0 {
		o.MaxIssues = 1000
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.MaxDuplicateIndex <= 0 {
		o.MaxDuplicateIndex = DefaultMaxDuplicateIndex
	}
	v := &Validator{o: o, seed: maphash.MakeSeed(), bounds: histBounds(o.Cutoff)}
	v.rep.ByKind = map[Kind]int64{}
	v.rep.ByLang = map[string]int64{}
	v.rep.Issues = []Issue{}
	if !o.NoDuplicates {
		v.seen = map[uint64]dupEntry{}
		v.seenExact = map[uint64]dupEntry{}
	}
	if o.Tokens != nil {
		v.rep.Tokens = &TokenStats{Cutoff: o.Cutoff, Min: -1}
	}
	return v
}

// SetProgress replaces Options.Progress for the following ValidateFile calls.
func (v *Validator) SetProgress(fn func(done, total int64)) { v.o.Progress = fn }

// ValidateFile validates the file at path (plain, gzip or zstd).
func (v *Validator) ValidateFile(ctx context.Context, path string) error {
	f, err := fileguard.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var size int64
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	var src io.Reader = f
	if v.o.Progress != nil {
		src = &countingReader{r: f, fn: v.o.Progress, total: size}
	}
	return v.Validate(ctx, src, path)
}

type countingReader struct {
	r     io.Reader
	n     int64
	total int64
	fn    func(done, total int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.fn(c.n, c.total)
	return n, err
}

// Report returns the summary so far. The Validator keeps ownership; read it
// after the last Validate call.
func (v *Validator) Report() *Report {
	r := &v.rep
	if t := r.Tokens; t != nil {
		t.Histogram = t.Histogram[:0]
		for b, n := range v.hist {
			if n > 0 {
				t.Histogram = append(t.Histogram, Bucket{v.bounds[b], v.bounds[b+1], n})
			}
		}
		if t.Counted > 0 {
			t.Mean = float64(t.Total) / float64(t.Counted)
		}
		if t.Min < 0 {
			t.Min = 0
		}
	}
	return r
}

// lineResult is what a worker found in one line.
type lineResult struct {
	line    int64
	issues  []Issue
	example bool
	lang    string
	exact   uint64
	near    uint64
	tokens  int // -1: not counted
}

type batch struct {
	seq     int64
	data    []byte
	ends    []int   // end offset of each line in data
	lines   []int64 // line numbers
	tooLong []bool
	results []lineResult
}

var batchPool = sync.Pool{New: func() any { return &batch{} }}

const batchBytes = 512 << 10
const batchLines = 2048

// Validate reads JSONL from r (plain, gzip or zstd), naming it name in issues.
// It returns an error only when the stream itself cannot be read (*FormatError
// for a broken compressed stream) or ctx is cancelled; problems in lines are
// issues in the Report.
func (v *Validator) Validate(ctx context.Context, r io.Reader, name string) (err error) {
	rc, comp, err := NewReader(r)
	if err != nil {
		var fe *FormatError
		if errors.As(err, &fe) {
			fe.File = name
		}
		return err
	}
	defer rc.Close()
	v.rep.Files = append(v.rep.Files, name)
	v.files = append(v.files, name)
	fileNo := int32(len(v.files) - 1)
	examplesBefore := v.rep.Examples
	defer func() {
		if err == nil && v.rep.Examples == examplesBefore {
			v.record(Issue{Kind: KindNoExamples, Msg: "the file holds no examples"}, name)
		}
	}()

	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan *batch, v.o.Workers*2)
	slots := make(chan struct{}, v.o.Workers*4) // batches in flight: at most Workers×4 × 512 KiB
	results := make(chan *batch, v.o.Workers*2)
	var wg sync.WaitGroup
	for range v.o.Workers {
		wg.Go(func() {
			w := newWorker(v)
			for b := range jobs {
				w.process(b)
				select {
				case results <- b:
				case <-ctx.Done():
					return
				}
			}
		})
	}
	readErr := make(chan error, 1)
	var bytesRead int64 // written by the reader goroutine before it sends on readErr
	go func() {
		defer close(jobs)
		lr := newLineReader(ctx, rc, v.o.MaxLineBytes)
		var seq int64
		b := newBatch(seq)
		send := func() bool {
			if len(b.lines) == 0 {
				return true
			}
			// a slot bounds the batches between reader and collector, so a
			// stalled worker cannot make the others pile results up
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return false
			}
			select {
			case jobs <- b:
			case <-ctx.Done():
				return false
			}
			seq++
			b = newBatch(seq)
			return true
		}
		for {
			line, tooLong, err := lr.next()
			if err != nil {
				bytesRead = lr.offset
				if !send() {
					readErr <- ctx.Err()
					return
				}
				if errors.Is(err, io.EOF) {
					readErr <- nil
				} else {
					readErr <- &FormatError{File: name, Offset: lr.offset, Msg: fmt.Sprintf("reading the %s stream", compName(comp)), Err: err}
				}
				return
			}
			b.data = append(b.data, line...)
			b.ends = append(b.ends, len(b.data))
			b.lines = append(b.lines, lr.line)
			b.tooLong = append(b.tooLong, tooLong)
			if len(b.data) >= batchBytes || len(b.lines) >= batchLines {
				if !send() {
					readErr <- ctx.Err()
					return
				}
			}
		}
	}()
	go func() { wg.Wait(); close(results) }()

	pending := map[int64]*batch{}
	var next int64
	for b := range results {
		pending[b.seq] = b
		for {
			nb, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			v.collect(nb, fileNo)
			batchPool.Put(nb)
			<-slots
			next++
		}
		if err := ctx.Err(); err != nil {
			break
		}
	}
	cancel()
	rerr := <-readErr
	v.rep.Bytes += bytesRead
	if err := parent.Err(); err != nil {
		return err
	}
	if rerr != nil {
		return rerr
	}
	if len(pending) > 0 {
		return errors.New("dataset: internal error: batches out of order")
	}
	return nil
}

func compName(c Compression) string {
	switch c {
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	}
	return "plain"
}

func newBatch(seq int64) *batch {
	b := batchPool.Get().(*batch)
	b.seq = seq
	b.data = b.data[:0]
	b.ends = b.ends[:0]
	b.lines = b.lines[:0]
	b.tooLong = b.tooLong[:0]
	b.results = b.results[:0]
	return b
}

// collect merges one batch's results, in line order.
func (v *Validator) collect(b *batch, fileNo int32) {
	name := v.files[fileNo]
	for i := range b.results {
		res := &b.results[i]
		v.rep.Lines++
		if res.example {
			v.rep.Examples++
			lang := res.lang
			if lang == "" {
				lang = "(none)"
			}
			v.rep.ByLang[lang]++
			if v.seen != nil {
				if prev, dup := v.seen[res.near]; dup {
					if prev.exact != res.exact {
						// a near duplicate; it may still repeat another
						// near duplicate of the same group exactly
						if p2, ok := v.seenExact[res.exact]; ok {
							prev = p2
						} else {
							v.seenExact[res.exact] = dupEntry{exact: res.exact, line: res.line, file: fileNo}
						}
					}
					is := Issue{Line: res.line, Ref: prev.line, RefFile: v.files[prev.file]}
					if prev.exact == res.exact {
						is.Kind = KindDuplicate
						is.Msg = fmt.Sprintf("the same example as %s:%d", v.files[prev.file], prev.line)
					} else {
						is.Kind = KindNearDuplicate
						is.Msg = fmt.Sprintf("the same text as %s:%d up to case, spacing and punctuation", v.files[prev.file], prev.line)
					}
					res.issues = append(res.issues, is)
				} else if len(v.seen) < v.o.MaxDuplicateIndex {
					v.seen[res.near] = dupEntry{exact: res.exact, line: res.line, file: fileNo}
				} else if !v.indexFull {
					v.indexFull = true
					res.issues = append(res.issues, Issue{Line: res.line, Kind: KindDuplicatesUnchecked,
						Msg: fmt.Sprintf("the duplicate index is full (%d examples, Options.MaxDuplicateIndex): from here on, examples are checked only against the first %d", len(v.seen), len(v.seen))})
				}
			}
			if t := v.rep.Tokens; t != nil && res.tokens >= 0 {
				t.Counted++
				t.Total += int64(res.tokens)
				if t.Min < 0 || res.tokens < t.Min {
					t.Min = res.tokens
				}
				if res.tokens > t.Max {
					t.Max = res.tokens
				}
				bk := bucketOf(v.bounds, res.tokens)
				for len(v.hist) <= bk {
					v.hist = append(v.hist, 0)
				}
				v.hist[bk]++
				if res.tokens > v.o.Cutoff {
					t.Truncated++
				}
			}
		}
		for _, is := range res.issues {
			v.record(is, name)
		}
	}
}

// record counts one issue of file name, keeps it in the report and passes it
// to OnIssue.
func (v *Validator) record(is Issue, name string) {
	is.File = name
	is.Severity = SeverityOf(is.Kind)
	v.rep.ByKind[is.Kind]++
	if is.Severity == Error {
		v.rep.Errors++
	} else {
		v.rep.Warnings++
	}
	if v.o.MaxIssues > 0 && len(v.rep.Issues) < v.o.MaxIssues {
		v.rep.Issues = append(v.rep.Issues, is)
	} else {
		v.rep.IssuesDropped++
	}
	if v.o.OnIssue != nil {
		v.o.OnIssue(is)
	}
}

// worker holds per-goroutine scratch space.
type worker struct {
	v     *Validator
	arena []byte // decoded strings of the current line
	norm  []byte
	ex    []byte
}

func newWorker(v *Validator) *worker { return &worker{v: v} }

func (w *worker) process(b *batch) {
	start := 0
	for i, end := range b.ends {
		line := b.data[start:end]
		start = end
		res := lineResult{line: b.lines[i], tokens: -1}
		w.check(line, b.tooLong[i], &res)
		b.results = append(b.results, res)
	}
}

func (w *worker) check(line []byte, tooLong bool, res *lineResult) {
	add := func(k Kind, field, msg string) {
		res.issues = append(res.issues, Issue{Line: res.line, Kind: k, Field: field, Msg: msg})
	}
	if tooLong {
		add(KindLineTooLong, "", fmt.Sprintf("line longer than %d bytes; not checked", w.v.o.MaxLineBytes))
		return
	}
	if res.line == 1 && len(line) >= 3 && line[0] == 0xef && line[1] == 0xbb && line[2] == 0xbf {
		add(KindEncoding, "", "the file starts with a UTF-8 byte order mark, which JSON readers reject")
		return
	}
	if len(bytes.TrimSpace(line)) == 0 {
		add(KindBlankLine, "", "blank line")
		return
	}
	w.arena = w.arena[:0]
	rec, err := parseRecordArena(line, &w.arena) // line and arena stay unchanged until the next line; nothing below keeps their strings
	if err != nil {
		var se *syntaxError
		kind := KindJSON
		if errors.As(err, &se) && strings.Contains(se.msg, "UTF-8") {
			kind = KindEncoding
		}
		add(kind, "", err.Error())
		return
	}
	res.example = true
	ex := &rec.ex
	switch ex.Lang { // res outlives line: share no memory with it
	case "ru":
		res.lang = "ru"
	case "en":
		res.lang = "en"
	default:
		res.lang = strings.Clone(ex.Lang)
	}
	for _, p := range rec.problems {
		add(p.kind, p.field, p.msg)
	}
	for _, f := range []struct {
		bit  fieldSet
		name string
		val  string
	}{{hasInstruction, "instruction", ex.Instruction}, {hasOutput, "output", ex.Output}} {
		switch {
		case rec.has&f.bit == 0:
			add(KindMissingField, f.name, fmt.Sprintf("no %q field", f.name))
		case strings.TrimSpace(f.val) == "":
			add(KindEmptyField, f.name, fmt.Sprintf("%q is empty", f.name))
		}
	}
	switch {
	case rec.has&hasLang == 0:
		add(KindLangMissing, "lang", `no "lang" field`)
	case ex.Lang != "ru" && ex.Lang != "en":
		add(KindLangUnknown, "lang", fmt.Sprintf("lang %q is neither ru nor en", ex.Lang))
	default:
		if msg := langMismatch(ex); msg != "" {
			add(KindLangMismatch, "lang", msg)
		}
	}
	if msg := numerologyMismatch(ex); msg != "" {
		add(KindNumerology, "output", msg)
	}
	res.exact, res.near = w.hashes(ex)
	if tc := w.v.o.Tokens; tc != nil {
		var n int
		var turns []Turn
		var err error
		if trc, ok := tc.(TurnCounter); ok {
			if turns, err = trc.CountTurns(ex); err == nil {
				for _, t := range turns {
					n += t.Source + t.Target
				}
			}
		} else {
			n, err = tc.CountTokens(ex)
		}
		switch {
		case err != nil:
			add(KindTokenizer, "", err.Error())
		case n > w.v.o.Cutoff:
			res.tokens = n
			what := "LLaMA-Factory would truncate it"
			if turns != nil {
				what += " (" + describeTruncation(turns, w.v.o.Cutoff) + ")"
			}
			add(KindTruncated, "", fmt.Sprintf("%d tokens after the chat template > cutoff_len %d: %s", n, w.v.o.Cutoff, what))
		default:
			res.tokens = n
		}
	}
}

// hashes returns the exact hash of the example's text and the hash of its
// normalised text (lower case, letters and digits only, ё as е).
func (w *worker) hashes(ex *Example) (exact, near uint64) {
	w.ex = w.ex[:0]
	w.norm = w.norm[:0]
	add := func(s string) {
		w.ex = append(w.ex, s...)
		w.ex = append(w.ex, 0)
		w.norm = appendNormalised(w.norm, s)
		w.norm = append(w.norm, 0)
	}
	add(ex.System)
	add(ex.Instruction)
	add(ex.Input)
	add(ex.Output)
	for _, h := range ex.History {
		add(h[0])
		add(h[1])
	}
	return maphash.Bytes(w.v.seed, w.ex), maphash.Bytes(w.v.seed, w.norm)
}

func appendNormalised(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
				dst = append(dst, c)
			case c >= 'A' && c <= 'Z':
				dst = append(dst, c+'a'-'A')
			}
			i++
			continue
		}
		r, n := numerology.DecodeRune(s[i:])
		i += n
		switch {
		case r >= 'а' && r <= 'я':
		case r >= 'А' && r <= 'Я':
			r += 'а' - 'А'
		case r == 'ё' || r == 'Ё':
			r = 'е'
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			r = unicode.ToLower(r)
		default:
			continue
		}
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}

// Script thresholds for lang-mismatch: the share of Cyrillic among Cyrillic
// and Latin letters of instruction and output (input may hold code or quoted
// text in any language). Texts with fewer than minLetters letters are not judged.
const (
	minLetters     = 12
	ruMinCyrillic  = 0.30
	enMaxCyrillic  = 0.50
	langJudgedText = "instruction and output"
)

func scriptCounts(s string, cyr, lat *int) {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c|0x20 >= 'a' && c|0x20 <= 'z' {
				*lat++
			}
			i++
			continue
		}
		r, n := numerology.DecodeRune(s[i:])
		i += n
		switch {
		case r >= 0x400 && r <= 0x4ff:
			*cyr++
		case r >= 0x2000 && r <= 0x2bff: // punctuation, arrows, symbols: neither
		case unicode.Is(unicode.Cyrillic, r):
			*cyr++
		case unicode.Is(unicode.Latin, r):
			*lat++
		}
	}
}

// proseCounts is scriptCounts over s without its code: fenced blocks
// (```…```) and inline `code` are skipped, so that a Russian answer about
// English identifiers is judged by its Russian prose.
func proseCounts(s string, cyr, lat *int) {
	if !strings.Contains(s, "`") {
		scriptCounts(s, cyr, lat)
		return
	}
	for s != "" {
		i := strings.IndexByte(s, '`')
		if i < 0 {
			scriptCounts(s, cyr, lat)
			return
		}
		scriptCounts(s[:i], cyr, lat)
		fence := "`"
		if strings.HasPrefix(s[i:], "```") {
			fence = "```"
		}
		rest := s[i+len(fence):]
		j := strings.Index(rest, fence)
		if j < 0 {
			return // an unclosed fence: the rest is code
		}
		s = rest[j+len(fence):]
	}
}

func langMismatch(ex *Example) string {
	var cyr, lat int
	proseCounts(ex.Instruction, &cyr, &lat)
	proseCounts(ex.Output, &cyr, &lat)
	total := cyr + lat
	if total < minLetters {
		return ""
	}
	share := float64(cyr) / float64(total)
	switch {
	case ex.Lang == "ru" && share < ruMinCyrillic:
		return fmt.Sprintf("lang is ru but only %.0f%% of the letters of the %s are Cyrillic", share*100, langJudgedText)
	case ex.Lang == "en" && share > enMaxCyrillic:
		return fmt.Sprintf("lang is en but %.0f%% of the letters of the %s are Cyrillic", share*100, langJudgedText)
	}
	return ""
}

// numerologyMismatch checks an example whose instruction (or input) holds
// one birth date and whose output states SatTva numbers, labelled or as a
// bare list of five, in either language: every number the output commits to
// must equal numerology.Compute, and none may be given two values. The output
// is read by numerology.ReadAnswer, the eval's reader.
func numerologyMismatch(ex *Example) string {
	dates := numerology.FindDates(ex.Instruction)
	if ex.Input != "" {
		dates = append(dates, numerology.FindDates(ex.Input)...)
	}
	if len(dates) == 0 {
		return ""
	}
	d := dates[0].Date
	for _, m := range dates[1:] {
		if m.Date != d {
			return "" // several dates: which one is answered is unclear
		}
	}
	r := numerology.ReadAnswer(ex.Output)
	if r.Verdict == numerology.NoNumbers {
		return ""
	}
	want := numerology.Compute(d)
	var bad []string
	for _, f := range numerology.Fields() {
		fr := r.Fields[f]
		if !fr.Found {
			continue
		}
		w := want.Get(f)
		if len(fr.Others) > 0 {
			vals := make([]string, 0, len(fr.Others)+1)
			for _, o := range fr.Others {
				vals = append(vals, fmt.Sprintf("%d (%q)", o.Value, ex.Output[o.Start:o.End]))
			}
			vals = append(vals, fmt.Sprintf("%d (%q)", fr.Span.Value, ex.Output[fr.Span.Start:fr.Span.End]))
			bad = append(bad, fmt.Sprintf("%s is given two values, %s, want %d", f, strings.Join(vals, " and "), w))
			continue
		}
		if fr.Span.Value != w {
			bad = append(bad, fmt.Sprintf("%s is %d (%q), want %d", f, fr.Span.Value, ex.Output[fr.Span.Start:fr.Span.End], w))
		}
	}
	if len(bad) == 0 {
		return ""
	}
	return fmt.Sprintf("for %s (%s): %s", d, want, strings.Join(bad, "; "))
}
