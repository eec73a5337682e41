package dataset

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// strSpecial marks the bytes that end the fast scan of a JSON string.
var strSpecial = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// maxJSONDepth bounds nesting inside a record (history, unknown fields).
const maxJSONDepth = 256

// syntaxError is a JSON syntax error at a byte offset within the line.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.off+1, e.msg)
}

// fieldProblem is a well-formed JSON record whose fields are wrong for the
// alpaca format.
type fieldProblem struct {
	kind  Kind
	field string
	msg   string
}

// record is one parsed line.
type record struct {
	ex       Example
	has      fieldSet // which known fields were present (even if null)
	problems []fieldProblem
}

type fieldSet uint8

const (
	hasInstruction fieldSet = 1 << iota
	hasInput
	hasOutput
	hasSystem
	hasHistory
	hasLang
)

var knownFields = map[string]fieldSet{
	"instruction": hasInstruction, "input": hasInput, "output": hasOutput,
	"system": hasSystem, "history": hasHistory, "lang": hasLang,
}

// parseRecord parses one JSONL line as an alpaca record. A syntax error
// (anything encoding/json would reject, or a value that is not an object) is
// returned as *syntaxError; field problems are collected in the record.
//
// With noCopy the record's strings without escapes share line's memory: the
// caller must not modify line while it uses them, nor keep them afterwards.
func parseRecord(line []byte, noCopy bool) (*record, error) {
	return parse(parser{b: line, noCopy: noCopy})
}

// parseRecordArena is parseRecord with noCopy whose escaped strings are
// decoded into *arena (appended; reset it per line).
func parseRecordArena(line []byte, arena *[]byte) (*record, error) {
	return parse(parser{b: line, noCopy: true, arena: arena})
}

func parse(p parser) (*record, error) {
	rec := &record{}
	p.ws()
	if p.i >= len(p.b) || p.b[p.i] != '{' {
		if p.i < len(p.b) {
			if end, err := p.skipValue(0); err == nil {
				p.i = end
				p.ws()
				if p.i == len(p.b) {
					return nil, &syntaxError{0, "the line is valid JSON but not an object"}
				}
			}
		}
		return nil, p.errf("want '{' to start an object")
	}
	p.i++
	p.ws()
	if p.peek() == '}' {
		p.i++
	} else {
		for {
			p.ws()
			if p.peek() != '"' {
				return nil, p.errf("want a string key")
			}
			key, err := p.str()
			if err != nil {
				return nil, err
			}
			p.ws()
			if p.peek() != ':' {
				return nil, p.errf("want ':' after a key")
			}
			p.i++
			p.ws()
			if err := p.field(rec, key); err != nil {
				return nil, err
			}
			p.ws()
			c := p.peek()
			if c == ',' {
				p.i++
				continue
			}
			if c == '}' {
				p.i++
				break
			}
			return nil, p.errf("want ',' or '}' in an object")
		}
	}
	p.ws()
	if p.i != len(p.b) {
		return nil, p.errf("data after the object")
	}
	return rec, nil
}

type parser struct {
	b      []byte
	i      int
	noCopy bool
	arena  *[]byte // with noCopy: where escaped strings are decoded
}

func (p *parser) errf(format string, args ...any) *syntaxError {
	if p.i >= len(p.b) {
		return &syntaxError{len(p.b), "unexpected end of line"}
	}
	return &syntaxError{p.i, fmt.Sprintf(format, args...)}
}

func (p *parser) peek() byte {
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *parser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) field(rec *record, key string) error {
	bit, known := knownFields[key]
	key = canonicalKey(key, known) // it may go into an issue, which outlives the line
	if !known {
		end, err := p.skipValue(0)
		if err != nil {
			return err
		}
		p.i = end
		rec.problems = append(rec.problems, fieldProblem{KindUnknownField, key, fmt.Sprintf("unknown field %q (LLaMA-Factory's alpaca columns: instruction, input, output, system, history; plus lang)", key)})
		return nil
	}
	if rec.has&bit != 0 {
		rec.problems = append(rec.problems, fieldProblem{KindDuplicateKey, key, fmt.Sprintf("field %q appears twice; readers keep the last", key)})
	}
	rec.has |= bit
	if bit == hasHistory {
		start := p.i
		end, err := p.skipValue(0)
		if err != nil {
			return err
		}
		p.i = end
		raw := p.b[start:end]
		rec.ex.History = nil
		if string(raw) == "null" {
			return nil
		}
		var h [][]string
		if err := json.Unmarshal(raw, &h); err != nil {
			rec.problems = append(rec.problems, fieldProblem{KindFieldType, key, "history must be a list of [instruction, response] string pairs"})
			return nil
		}
		for i, pair := range h {
			if len(pair) != 2 {
				rec.problems = append(rec.problems, fieldProblem{KindFieldType, key, fmt.Sprintf("history[%d] has %d items, want 2", i, len(pair))})
				return nil
			}
			rec.ex.History = append(rec.ex.History, [2]string{pair[0], pair[1]})
		}
		return nil
	}
	var s string
	switch p.peek() {
	case '"':
		var err error
		if s, err = p.str(); err != nil {
			return err
		}
	case 'n':
		if err := p.lit("null"); err != nil {
			return err
		}
	default:
		end, err := p.skipValue(0)
		if err != nil {
			return err
		}
		kind := jsonKind(p.b[p.i])
		p.i = end
		rec.problems = append(rec.problems, fieldProblem{KindFieldType, key, fmt.Sprintf("field %q is %s, want a string", key, kind)})
		return nil
	}
	switch bit {
	case hasInstruction:
		rec.ex.Instruction = s
	case hasInput:
		rec.ex.Input = s
	case hasOutput:
		rec.ex.Output = s
	case hasSystem:
		rec.ex.System = s
	case hasLang:
		rec.ex.Lang = s
	}
	return nil
}

// canonicalKey returns a copy of key that shares no memory with the line.
func canonicalKey(key string, known bool) string {
	switch key {
	case "instruction":
		return "instruction"
	case "input":
		return "input"
	case "output":
		return "output"
	case "system":
		return "system"
	case "history":
		return "history"
	case "lang":
		return "lang"
	}
	return strings.Clone(key)
}

func jsonKind(c byte) string {
	switch c {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

func (p *parser) lit(want string) error {
	if len(p.b)-p.i < len(want) || string(p.b[p.i:p.i+len(want)]) != want {
		return p.errf("invalid literal")
	}
	p.i += len(want)
	return nil
}

// str decodes the JSON string at p.i. Invalid UTF-8 is a syntax error (Python's
// json and the datasets library reject such files).
func (p *parser) str() (string, error) {
	p.i++ // opening quote
	start := p.i
	// fast path: no escapes
	for p.i < len(p.b) {
		c := p.b[p.i]
		if !strSpecial[c] {
			p.i++
			continue
		}
		if c == '"' {
			raw := p.b[start:p.i]
			if !utf8.Valid(raw) {
				return "", &syntaxError{start, "invalid UTF-8 in a string"}
			}
			p.i++
			if p.noCopy && len(raw) > 0 {
				return unsafe.String(&raw[0], len(raw)), nil
			}
			return string(raw), nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", p.errf("control character in a string")
		}
		p.i++
	}
	var local []byte
	dst := &local
	if p.arena != nil {
		dst = p.arena
	}
	base := len(*dst)
	*dst = append(*dst, p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			out := (*dst)[base:]
			if !utf8.Valid(out) {
				return "", &syntaxError{start, "invalid UTF-8 in a string"}
			}
			p.i++
			if p.arena != nil && len(out) > 0 {
				return unsafe.String(&out[0], len(out)), nil
			}
			return string(out), nil
		case c < 0x20:
			return "", p.errf("control character in a string")
		case c != '\\':
			*dst = append(*dst, c)
			p.i++
			continue
		}
		p.i++
		if p.i >= len(p.b) {
			return "", p.errf("")
		}
		e := p.b[p.i]
		p.i++
		switch e {
		case '"', '\\', '/':
			*dst = append(*dst, e)
		case 'b':
			*dst = append(*dst, '\b')
		case 'f':
			*dst = append(*dst, '\f')
		case 'n':
			*dst = append(*dst, '\n')
		case 'r':
			*dst = append(*dst, '\r')
		case 't':
			*dst = append(*dst, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.errf("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
					save := p.i
					p.i += 2
					var ok2 bool
					if r2, ok2 = p.hex4(); !ok2 {
						return "", p.errf("invalid \\u escape")
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
					} else {
						p.i = save // lone surrogate; the next escape is read on its own
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			*dst = utf8.AppendRune(*dst, r)
		default:
			p.i--
			return "", p.errf("invalid escape")
		}
	}
	return "", p.errf("unterminated string")
}

func (p *parser) hex4() (rune, bool) {
	if len(p.b)-p.i < 4 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(p.b[p.i:p.i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	p.i += 4
	return rune(v), true
}

// skipValue validates the JSON value at p.i and returns its end. p.i is unchanged.
func (p *parser) skipValue(depth int) (int, error) {
	if depth > maxJSONDepth {
		return 0, p.errf("nesting deeper than %d", maxJSONDepth)
	}
	save := p.i
	defer func() { p.i = save }()
	switch c := p.peek(); {
	case c == '"':
		if _, err := p.str(); err != nil {
			return 0, err
		}
	case c == '{' || c == '[':
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		p.i++
		p.ws()
		if p.peek() == closer {
			p.i++
			break
		}
		for {
			p.ws()
			if c == '{' {
				if p.peek() != '"' {
					return 0, p.errf("want a string key")
				}
				if _, err := p.str(); err != nil {
					return 0, err
				}
				p.ws()
				if p.peek() != ':' {
					return 0, p.errf("want ':' after a key")
				}
				p.i++
				p.ws()
			}
			end, err := p.skipValue(depth + 1)
			if err != nil {
				return 0, err
			}
			p.i = end
			p.ws()
			if p.peek() == ',' {
				p.i++
				continue
			}
			if p.peek() == closer {
				p.i++
				break
			}
			return 0, p.errf("want ',' or '%c'", closer)
		}
	case c == 't':
		if err := p.lit("true"); err != nil {
			return 0, err
		}
	case c == 'f':
		if err := p.lit("false"); err != nil {
			return 0, err
		}
	case c == 'n':
		if err := p.lit("null"); err != nil {
			return 0, err
		}
	case c == '-' || c >= '0' && c <= '9':
		if err := p.number(); err != nil {
			return 0, err
		}
	default:
		return 0, p.errf("want a value")
	}
	return p.i, nil
}

// number validates a JSON number (RFC 8259 grammar).
func (p *parser) number() error {
	if p.peek() == '-' {
		p.i++
	}
	switch c := p.peek(); {
	case c == '0':
		p.i++
	case c >= '1' && c <= '9':
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
		}
	default:
		return p.errf("invalid number")
	}
	if p.peek() == '.' {
		p.i++
		if c := p.peek(); c < '0' || c > '9' {
			return p.errf("invalid number")
		}
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
		}
	}
	if c := p.peek(); c == 'e' || c == 'E' {
		p.i++
		if c := p.peek(); c == '+' || c == '-' {
			p.i++
		}
		if c := p.peek(); c < '0' || c > '9' {
			return p.errf("invalid number")
		}
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
		}
	}
	return nil
}
