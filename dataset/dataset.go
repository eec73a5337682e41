// Package dataset reads, checks, splits and converts fine-tuning data in
// LLaMA-Factory's alpaca JSONL form: one JSON object per line with
// instruction, input, output, optional system and history, and the user's
// lang ("ru" or "en").
//
// Files are streamed (plain, gzip or zstd, recognised by their first bytes)
// in bounded batches, so memory does not grow with the file: the duplicate
// index is the only state that does, by about 65 bytes per example
// (Options.NoDuplicates turns it off), whatever the examples' length.
package dataset

import (
	"errors"
	"fmt"
)

// Example is one alpaca record. History holds earlier [instruction, response]
// turns; LLaMA-Factory reads System and History only when dataset_info.json
// maps those columns.
type Example struct {
	Instruction string      `json:"instruction"`
	Input       string      `json:"input"`
	Output      string      `json:"output"`
	System      string      `json:"system,omitempty"`
	History     [][2]string `json:"history,omitempty"`
	Lang        string      `json:"lang,omitempty"`
}

// Prompt returns the user turn as LLaMA-Factory's alpaca converter builds it:
// instruction and input joined by a newline, either left out when empty.
func (e *Example) Prompt() string {
	switch {
	case e.Instruction == "":
		return e.Input
	case e.Input == "":
		return e.Instruction
	}
	return e.Instruction + "\n" + e.Input
}

// Severity says whether an issue fails validation.
type Severity int

const (
	Warning Severity = iota // reported; exit code stays 0
	Error                   // the dataset should not be trained on as is
)

func (s Severity) String() string {
	if s == Error {
		return "error"
	}
	return "warning"
}

// MarshalText makes a Severity a JSON string.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Kind names a class of issue. Its string is stable (used in --json output).
type Kind string

// The kinds of issue Validate reports, with their severity in Severity(kind).
const (
	KindJSON          Kind = "invalid-json"     // error: the line is not a JSON object
	KindEncoding      Kind = "encoding"         // error: invalid UTF-8
	KindLineTooLong   Kind = "line-too-long"    // error: longer than Limits.MaxLineBytes
	KindMissingField  Kind = "missing-field"    // error: instruction or output absent
	KindEmptyField    Kind = "empty-field"      // error: instruction or output blank
	KindFieldType     Kind = "field-type"       // error: a field of the wrong JSON type
	KindUnknownField  Kind = "unknown-field"    // warning: a field LLaMA-Factory ignores
	KindDuplicateKey  Kind = "duplicate-key"    // warning: a key twice in one object
	KindLangMissing   Kind = "lang-missing"     // warning: no lang field
	KindLangUnknown   Kind = "lang-unknown"     // warning: lang other than ru or en
	KindLangMismatch  Kind = "lang-mismatch"    // error: lang disagrees with the text's script
	KindDuplicate     Kind = "duplicate"        // error: the same example as an earlier line
	KindNearDuplicate Kind = "near-duplicate"   // warning: same text up to case, spacing, punctuation
	KindNumerology    Kind = "numerology"       // error: numbers that contradict package numerology
	KindTruncated     Kind = "truncated"        // error: longer than cutoff_len tokens after the template
	KindBlankLine     Kind = "blank-line"       // warning: an empty line
	KindTokenizer     Kind = "tokenizer-failed" // error: the tokenizer rejected the text
	// KindNoExamples: error: a file holds no example at all (empty, or only blank lines).
	KindNoExamples Kind = "no-examples"
	// KindDuplicatesUnchecked: warning: Options.MaxDuplicateIndex was reached.
	KindDuplicatesUnchecked Kind = "duplicates-unchecked"
)

// DefaultMaxDuplicateIndex is Options.MaxDuplicateIndex's default: 2^21
// distinct examples, about 200 MB of index at most.
const DefaultMaxDuplicateIndex = 1 << 21

// SeverityOf returns the severity of an issue kind.
func SeverityOf(k Kind) Severity {
	switch k {
	case KindUnknownField, KindDuplicateKey, KindLangMissing, KindLangUnknown, KindNearDuplicate, KindBlankLine, KindDuplicatesUnchecked:
		return Warning
	}
	return Error
}

// Issue is one finding, located by file and 1-based line.
type Issue struct {
	File     string   `json:"file"`
	Line     int64    `json:"line"`
	Kind     Kind     `json:"kind"`
	Severity Severity `json:"severity"`
	Field    string   `json:"field,omitempty"`
	Msg      string   `json:"message"`
	// Ref is the earlier line a duplicate repeats (in RefFile), 0 otherwise.
	Ref     int64  `json:"ref_line,omitempty"`
	RefFile string `json:"ref_file,omitempty"`
}

func (i Issue) String() string {
	return fmt.Sprintf("%s:%d: %s: %s: %s", i.File, i.Line, i.Severity, i.Kind, i.Msg)
}

// ErrFormat is matched (errors.Is) by *FormatError.
var ErrFormat = errors.New("dataset: invalid file")

// FormatError means a file cannot be read as JSONL at all (a broken gzip or
// zstd stream). Per-line problems are Issues, not errors.
type FormatError struct {
	File   string
	Offset int64 // bytes of decompressed input read before the failure
	Msg    string
	Err    error
}

func (e *FormatError) Error() string {
	s := fmt.Sprintf("dataset: %s: after %d bytes: %s", e.File, e.Offset, e.Msg)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is makes errors.Is(err, ErrFormat) true.
func (e *FormatError) Is(target error) bool { return target == ErrFormat }

// Unwrap returns the underlying error.
func (e *FormatError) Unwrap() error { return e.Err }

// InvalidInput marks the error as an invalid input file (exit code 3).
func (e *FormatError) InvalidInput() bool { return true }
