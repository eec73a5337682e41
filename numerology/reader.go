package numerology

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Verdict is what ReadAnswer concludes about an answer as a whole.
type Verdict int

// The verdicts, from best to worst.
const (
	// Committed: the answer gives each of the five numbers exactly one value.
	Committed Verdict = iota
	// Ambiguous: the answer gives at least one number two different values.
	Ambiguous
	// Incomplete: some but not all five numbers have a value.
	Incomplete
	// NoNumbers: nothing in the answer reads as one of the five numbers.
	NoNumbers
)

func (v Verdict) String() string {
	switch v {
	case Committed:
		return "committed"
	case Ambiguous:
		return "ambiguous"
	case Incomplete:
		return "incomplete"
	case NoNumbers:
		return "no numbers"
	}
	return fmt.Sprintf("Verdict(%d)", int(v))
}

// FieldReading is what an answer says about one of the five numbers.
type FieldReading struct {
	Found bool
	// Span is the value the answer finally commits to (the last reading).
	Span Span
	// Others are readings whose value differs from Span's; non-empty only
	// when the field is ambiguous.
	Others []Span
}

// Reading is ReadAnswer's result.
type Reading struct {
	Verdict Verdict
	// Numbers holds each field's committed value (the last reading; 0 where
	// the answer gives none).
	Numbers Numbers
	// Fields holds the evidence per field, in the plan's order.
	Fields [5]FieldReading
}

// Spans returns the committed spans in field order, then every alternative span.
func (r Reading) Spans() []Span {
	var out []Span
	for _, f := range r.Fields {
		if f.Found {
			out = append(out, f.Span)
		}
	}
	for _, f := range r.Fields {
		out = append(out, f.Others...)
	}
	return out
}

// Err returns nil for a committed answer, else an error wrapping ErrNoNumbers,
// ErrIncomplete or ErrAmbiguous that names the fields concerned.
func (r Reading) Err() error {
	switch r.Verdict {
	case NoNumbers:
		return ErrNoNumbers
	case Ambiguous:
		var parts []string
		for f, fr := range r.Fields {
			if len(fr.Others) == 0 {
				continue
			}
			vals := make([]string, 0, len(fr.Others)+1)
			for _, o := range fr.Others {
				vals = append(vals, fmt.Sprint(o.Value))
			}
			vals = append(vals, fmt.Sprint(fr.Span.Value))
			parts = append(parts, fmt.Sprintf("%s %s", Field(f), strings.Join(vals, " and ")))
		}
		return fmt.Errorf("%w: %s", ErrAmbiguous, strings.Join(parts, "; "))
	case Incomplete:
		var missing []string
		for f, fr := range r.Fields {
			if !fr.Found {
				missing = append(missing, Field(f).String())
			}
		}
		return fmt.Errorf("%w: missing %s", ErrIncomplete, strings.Join(missing, ", "))
	}
	return nil
}

// ReadAnswer reads the five numbers out of an answer as a person would, and
// says for each the value the answer finally commits to.
//
// Labels are Russian (Джива, Дхарма, Подход, Метод, Карма, in any case
// ending) or English (Jiva, Dharma, Approach, Method, Karma), in any letter
// case, matched through homoglyphs and zero-width characters. A label's value
// is read in the forms people write:
//
//   - after the label on the same line and in the same sentence, past ":",
//     "—", "=", a parenthesised aside, a comma-bounded aside and filler words
//     ("is", "равна", "число", "будет"); "Подход. Число 1 …" pairs nothing
//     across the sentence break;
//   - a derivation chain ("29 → 2 + 9 = 11 → 1 + 1 = 2", "1999 → 28 → 10 → 1",
//     "Dharma = Jiva + Approach = 5 + 6 = 11 → 2") gives its last result after
//     "=", "→", "->", "=>" or "⇒"; labels inside the chain are operands, not
//     readings; a plain number after "day", "year", "год" … is the input;
//   - a table row "| Dharma | 8 + 3 = 11 | 2 |" gives its last cell that starts
//     with a number (a meaning column in words is skipped); a table whose header
//     row holds the labels gives the cells of its last row, column by column;
//   - labels joined by "/", "," or "and" followed by as many values
//     ("Jiva/Dharma/Approach/Method/Karma: 2/4/2/4/3") pair position by position;
//   - numbers written as words, 1..9 in English and Russian ("five", "пяти",
//     "двойка"), are read where they stand alone as the value;
//   - "not 5, but 6" / "не 5, а 6" reads 6.
//
// A bare list of exactly five numbers 1..9 ("2, 3, 1, 8, 5", "2 3 1 8 5",
// "2, 3, 1, 8 and 5") is read in the plan's order (Jiva, Dharma, Approach,
// Method, Karma), beside the labelled values; a labelled value that disagrees
// with it, or a second list that differs, makes the answer ambiguous.
//
// A field read twice with different values is ambiguous: a correction
// ("Karma: 6. Correction: Karma is actually 7."), and a value followed on its
// line by a hedge and another number ("5 (or possibly 6)", "2 or 3", "5,
// точнее 6", "2/3"). An alternative that reduces to the same digital root
// ("2 (11 before reduction, or 29)") is not a second value. Dates in any form
// FindDates knows are never read as values.
func ReadAnswer(text string) Reading {
	var rd reader
	rd.text = text
	rd.tokenize()
	rd.readTables()
	rd.readLabels()
	rd.readBareLists()
	return rd.result()
}

type tokKind uint8

const (
	tkNum     tokKind = iota + 1 // ASCII digits
	tkWordNum                    // a number word 1..9
	tkLabel                      // a label; val is its Field
	tkFiller                     // a word that may stand between label and value
	tkInput                      // "day", "year": what a number is computed from
	tkHedge                      // "or", "possibly", "точнее"
	tkNeg                        // "not", "не"
	tkAnd                        // "and", "и"
	tkWord                       // any other word, a date, a decimal
	tkEq                         // "=", "→", "->", "=>", "⇒"
	tkPlus                       // "+"
	tkMinus                      // "-", "−"
	tkDash                       // "—", "–"
	tkSlash                      // "/"
	tkComma                      // ","
	tkColon                      // ":"
	tkPipe                       // "|"
	tkOpen                       // "(", "["
	tkClose                      // ")", "]"
	tkStop                       // ".", "!", "?", ";", "…" ending a sentence
	tkNewline                    // "\n"
)

type token struct {
	kind       tokKind
	start, end int
	val        int // the number (capped at 1e9), number word's value, or label's Field
}

type reading struct {
	span Span
	tok  int // index of the value's token, for ordering
}

type reader struct {
	text     string
	toks     []token
	used     []bool // token read as a value or consumed as an operand
	readings []reading
	lists    [][5]int // token indices of the bare lists of five
	lineEnds []int32  // lineEnd of every token, filled on first use
}

// maxNumber caps numbers read from digits; larger values are kept as maxNumber.
const maxNumber = 1_000_000_000

func (rd *reader) tokenize() {
	text := rd.text
	dates := FindDates(text)
	rd.toks = make([]token, 0, len(text)/3+8)
	emit := func(k tokKind, s, e, v int) { rd.toks = append(rd.toks, token{k, s, e, v}) }
	var skBuf [64]byte
	for i := 0; i < len(text); {
		if len(dates) > 0 && i >= dates[0].Start {
			if i < dates[0].End {
				emit(tkWord, dates[0].Start, dates[0].End, 0)
				i = dates[0].End
			}
			dates = dates[1:]
			continue
		}
		c := text[i]
		switch {
		case c >= '0' && c <= '9':
			e := digitRun(text, i)
			if j := joinedEnd(text, i, e); j > e {
				emit(tkWord, i, j, 0) // a decimal, a time, a version: no value
				e = j
			} else {
				v := 0
				for k := i; k < e; k++ {
					v = v*10 + int(text[k]-'0')
					if v >= maxNumber {
						v = maxNumber
					}
				}
				emit(tkNum, i, e, v)
			}
			i = e
			continue
		case c == '\n':
			emit(tkNewline, i, i+1, 0)
		case c == '=':
			if i+1 < len(text) && text[i+1] == '>' {
				emit(tkEq, i, i+2, 0)
				i += 2
				continue
			}
			emit(tkEq, i, i+1, 0)
		case c == '-':
			if i+1 < len(text) && text[i+1] == '>' {
				emit(tkEq, i, i+2, 0)
				i += 2
				continue
			}
			emit(tkMinus, i, i+1, 0)
		case c == '+':
			emit(tkPlus, i, i+1, 0)
		case c == '/':
			emit(tkSlash, i, i+1, 0)
		case c == ',':
			emit(tkComma, i, i+1, 0)
		case c == ':':
			emit(tkColon, i, i+1, 0)
		case c == '|':
			emit(tkPipe, i, i+1, 0)
		case c == '(' || c == '[':
			emit(tkOpen, i, i+1, 0)
		case c == ')' || c == ']':
			emit(tkClose, i, i+1, 0)
		case c == '!' || c == '?' || c == ';':
			emit(tkStop, i, i+1, 0)
		case c == '.':
			// a full stop ends a sentence where a space, a line end or the text's end follows
			if i+1 == len(text) || text[i+1] == ' ' || text[i+1] == '\n' || text[i+1] == '\r' || text[i+1] == '\t' {
				emit(tkStop, i, i+1, 0)
			}
		case c < utf8.RuneSelf && !(c|0x20 >= 'a' && c|0x20 <= 'z'):
			// spaces, quotes, markdown marks: no token
		default:
			r, n := DecodeRune(text[i:])
			switch {
			case r == '→' || r == '⇒' || r == '⟶' || r == '≡':
				emit(tkEq, i, i+n, 0)
			case r == '−':
				emit(tkMinus, i, i+n, 0)
			case r == '—' || r == '–':
				emit(tkDash, i, i+n, 0)
			case r == '…':
				emit(tkStop, i, i+n, 0)
			case isLetter(r):
				e := wordEnd2(text, i+n)
				rd.classifyWord(i, e, skBuf[:0])
				i = e
				continue
			}
			i += n
			continue
		}
		i++
	}
	rd.used = make([]bool, len(rd.toks))
}

// joinedEnd returns the end of a decimal or time whose first digits end at e
// ("3.5", "12:30", "3,5", "1.2.3"), or e when the digits stand alone. A comma
// joins only two groups: "2,3,1,8,5" is a list. A slash never joins: dates
// were masked before, and "5/6" offers two values.
func joinedEnd(text string, s, e int) int {
	joined := func(k int) bool { return k+1 < len(text) && isDigit(text[k+1]) }
	switch {
	case e < len(text) && (text[e] == '.' || text[e] == ':') && joined(e):
		for e < len(text) && (isDigit(text[e]) || (text[e] == '.' || text[e] == ':') && joined(e)) {
			e++
		}
		return e
	case e < len(text) && text[e] == ',' && joined(e):
		if s >= 2 && text[s-1] == ',' && isDigit(text[s-2]) {
			return e // the end of a list "…,8,5"
		}
		j := digitRun(text, e+1)
		if j < len(text) && text[j] == ',' && joined(j) {
			return e // a list
		}
		return j
	}
	return e
}

// wordEnd2 returns the end of the word whose first rune ends at i: letters,
// zero-width characters, and an apostrophe between letters ("it's").
func wordEnd2(text string, i int) int {
	for i < len(text) {
		r, n := DecodeRune(text[i:])
		if isWordRune(r) {
			i += n
			continue
		}
		if (r == '\'' || r == '’') && i+n < len(text) {
			if r2, _ := DecodeRune(text[i+n:]); isLetter(r2) {
				i += n
				continue
			}
		}
		break
	}
	return i
}

func (rd *reader) classifyWord(s, e int, buf []byte) {
	word := rd.text[s:e]
	if f, ok := matchLabel(word); ok {
		rd.toks = append(rd.toks, token{tkLabel, s, e, int(f)})
		return
	}
	for _, r := range word {
		k := skeleton(r)
		if k < 0 {
			continue
		}
		if r == '’' {
			k = '\''
		}
		if len(buf)+utf8.RuneLen(k) > cap(buf) {
			rd.toks = append(rd.toks, token{tkWord, s, e, 0})
			return
		}
		buf = utf8.AppendRune(buf, k)
	}
	if v, ok := numberWords[string(buf)]; ok {
		rd.toks = append(rd.toks, token{tkWordNum, s, e, v})
		return
	}
	if k, ok := wordKinds[string(buf)]; ok {
		rd.toks = append(rd.toks, token{k, s, e, 0})
		return
	}
	rd.toks = append(rd.toks, token{tkWord, s, e, 0})
}

// kind returns the kind of token i, or 0 past the end.
func (rd *reader) kind(i int) tokKind {
	if i < 0 || i >= len(rd.toks) {
		return 0
	}
	return rd.toks[i].kind
}

// isTerm reports whether token i can be a value: digits, or a number word
// that stands alone (not followed by another word: "one of the five" is no value).
func (rd *reader) isTerm(i int) bool {
	switch rd.kind(i) {
	case tkNum:
		return true
	case tkWordNum:
		switch rd.kind(i + 1) {
		case tkWord, tkFiller, tkInput, tkLabel, tkNeg, tkWordNum:
			return false
		}
		return true
	}
	return false
}

func (rd *reader) add(f Field, labelTok, valTok, endTok int, via string) {
	t := rd.toks[valTok]
	start := t.start
	if labelTok >= 0 {
		start = rd.toks[labelTok].start
	}
	end := rd.toks[endTok].end
	if end < t.end {
		end = t.end
	}
	rd.used[valTok] = true
	rd.readings = append(rd.readings, reading{Span{Field: f, Value: t.val, Start: start, End: end, ValueStart: t.start, ValueEnd: t.end, Labelled: labelTok >= 0, Via: via}, valTok})
}

// chain reads a value or a derivation chain whose first term is token j,
// looking no further than limit. It returns the token of the value (-1 when
// the chain ends in a label), the last token of the chain, and whether an
// "=" or arrow gave the value.
func (rd *reader) chain(j, limit int) (val, last int, derived bool) {
	val, last = -1, j
	if rd.kind(j) != tkLabel {
		val = j
	}
	i := j + 1
	for i < limit {
		// a label operand's annotation "Jiva(2)" / "Jiva (2)"
		if rd.kind(i-1) == tkLabel && rd.kind(i) == tkOpen && rd.kind(i+1) == tkNum && rd.kind(i+2) == tkClose && i+2 < limit {
			i += 3
			last = i - 1
			continue
		}
		k := i
		for k < limit && (rd.kind(k) == tkOpen || rd.kind(k) == tkClose) {
			k++
		}
		if k >= limit {
			break
		}
		op := rd.kind(k)
		if op == tkComma && derived {
			// "2 + 9 = 11, 1 + 1 = 2", "= 14, and 1 + 4 = 5": the derivation goes on after a comma
			n := k + 1
			for n < limit && (rd.kind(n) == tkAnd || rd.kind(n) == tkFiller) {
				n++
			}
			if n < limit && rd.isTerm(n) && rd.chainHasEq(n, limit) {
				op, k = tkPlus, n-1
			}
		}
		if op != tkEq && op != tkPlus && op != tkMinus {
			break
		}
		m := k + 1
		for m < limit {
			switch rd.kind(m) {
			case tkOpen, tkClose, tkFiller:
				m++
				continue
			}
			break
		}
		if m >= limit || !(rd.isTerm(m) || rd.kind(m) == tkLabel) {
			break
		}
		if rd.kind(m) == tkLabel {
			rd.used[m] = true
		}
		if op == tkEq {
			derived = true
			if rd.kind(m) == tkLabel {
				val = -1
			} else {
				val = m
			}
		}
		last = m
		i = m + 1
	}
	for k := last + 1; k < limit && rd.kind(k) == tkClose; k++ {
		last = k
	}
	return val, last, derived
}

// chainHasEq reports whether a chain starting at term j holds an "=" or arrow.
func (rd *reader) chainHasEq(j, limit int) bool {
	for i := j + 1; i < limit; i++ {
		switch rd.kind(i) {
		case tkEq:
			return true
		case tkNum, tkPlus, tkMinus, tkOpen, tkClose, tkWordNum:
			continue
		}
		return false
	}
	return false
}

// lineEnd returns the index of the first newline token at or after i, or len(toks).
func (rd *reader) lineEnd(i int) int {
	if i >= len(rd.toks) {
		return len(rd.toks)
	}
	if rd.lineEnds == nil { // computed once: answers of one long line stay linear
		rd.lineEnds = make([]int32, len(rd.toks))
		end := len(rd.toks)
		for k := len(rd.toks) - 1; k >= 0; k-- {
			if rd.toks[k].kind == tkNewline {
				end = k
			}
			rd.lineEnds[k] = int32(end)
		}
	}
	return int(rd.lineEnds[i])
}

// readTables reads markdown tables: rows whose first token is "|".
func (rd *reader) readTables() {
	var header map[int]Field // cell index → field of the current table's labelled header
	var lastRow [][2]int     // the last data row under such a header (cell token ranges)
	flush := func() {
		for c, f := range header {
			if c < len(lastRow) {
				rd.tableCell(f, -1, lastRow[c][0], lastRow[c][1])
			}
		}
		header, lastRow = nil, nil
	}
	for i := 0; i < len(rd.toks); {
		end := rd.lineEnd(i)
		if rd.kind(i) != tkPipe {
			if header != nil {
				flush()
			}
			i = end + 1
			continue
		}
		var cells [][2]int
		for s := i + 1; s < end; {
			e := s
			for e < end && rd.kind(e) != tkPipe {
				e++
			}
			cells = append(cells, [2]int{s, e})
			s = e + 1
		}
		if n := len(cells); n > 0 && cells[n-1][0] == cells[n-1][1] {
			cells = cells[:n-1] // the closing "|"
		}
		labels, numbers, rule := 0, 0, true
		firstLabel, lastLabelCell := -1, -1
		for c, cell := range cells {
			for k := cell[0]; k < cell[1]; k++ {
				switch rd.kind(k) {
				case tkLabel:
					if lastLabelCell != c {
						labels++
						lastLabelCell = c
					}
					if firstLabel < 0 {
						firstLabel = c
					}
				case tkNum, tkWordNum:
					numbers++
				}
				if kk := rd.kind(k); kk != tkMinus && kk != tkColon && kk != tkDash {
					rule = false
				}
			}
		}
		switch {
		case rule:
		case labels >= 2 && numbers == 0:
			flush()
			header = map[int]Field{}
			for c, cell := range cells {
				for k := cell[0]; k < cell[1]; k++ {
					if rd.kind(k) == tkLabel {
						header[c] = Field(rd.toks[k].val)
						rd.used[k] = true
						break
					}
				}
			}
		case firstLabel >= 0:
			rd.tableRow(cells, firstLabel)
		case header != nil:
			lastRow = cells
		}
		i = end + 1
	}
	if header != nil {
		flush()
	}
}

// tableRow reads a row whose cell lc holds a label: the value is the last
// later cell that starts with a number.
func (rd *reader) tableRow(cells [][2]int, lc int) {
	lt := -1
	for k := cells[lc][0]; k < cells[lc][1]; k++ {
		if rd.kind(k) == tkLabel {
			lt = k
			break
		}
	}
	f := Field(rd.toks[lt].val)
	for c := len(cells) - 1; c > lc; c-- {
		if rd.tableCell(f, lt, cells[c][0], cells[c][1]) {
			rd.used[lt] = true
			// the label's own cell and any other label cells are done with
			for k := cells[lc][0]; k < cells[lc][1]; k++ {
				if rd.kind(k) == tkLabel && Field(rd.toks[k].val) == f {
					rd.used[k] = true
				}
			}
			return
		}
	}
	// "| Джива: 2 |": the label's cell holds the value; readLabels reads it
}

// tableCell reads a value from the cell toks[s:e] if it starts with a number
// (after fillers and hedges); it reports whether it did.
func (rd *reader) tableCell(f Field, lt, s, e int) bool {
	k := s
	for k < e {
		switch rd.kind(k) {
		case tkFiller, tkHedge, tkOpen, tkClose, tkColon:
			k++
			continue
		}
		break
	}
	if k >= e || !rd.isTerm(k) {
		return false
	}
	val, last, _ := rd.chain(k, e)
	if val < 0 {
		return false
	}
	label := lt
	rd.add(f, label, val, last, "table")
	rd.alternatives(f, val, last+1, e)
	return true
}

// readLabels reads every label not yet used, in text order.
func (rd *reader) readLabels() {
	for i := 0; i < len(rd.toks); i++ {
		if rd.toks[i].kind != tkLabel || rd.used[i] {
			continue
		}
		if n := rd.group(i); n > 0 {
			continue
		}
		if rd.listTail(i) {
			continue // "из Дживы и Подхода: 2 + 1 = 3" is the sum of both, not Approach's value
		}
		rd.label(i)
	}
}

// listTail reports whether the label at i follows another label, joined by
// "and", "+", "," or "/".
func (rd *reader) listTail(i int) bool {
	p := i - 1
	if k := rd.kind(p); !groupSep(k) && k != tkPlus {
		return false
	}
	if rd.kind(p-1) == tkComma && rd.kind(p) == tkAnd {
		p--
	}
	return rd.kind(p-1) == tkLabel
}

// maxGroup bounds the labels of a group (five, named in both languages).
const maxGroup = 10

// groupSep reports whether token kind k may join labels or values of a group.
func groupSep(k tokKind) bool { return k == tkComma || k == tkSlash || k == tkAnd }

// group reads labels joined by "/", "," or "and" followed by as many values
// joined the same way; it returns the number of labels paired (0 if none).
func (rd *reader) group(i int) int {
	labels := []int{i}
	j := i + 1
	for j+1 < len(rd.toks) && groupSep(rd.kind(j)) {
		m := j + 1
		if rd.kind(m) == tkAnd { // ", and Karma"
			m++
		}
		if rd.kind(m) != tkLabel {
			break
		}
		labels = append(labels, m)
		j = m + 1
		if len(labels) > maxGroup {
			return 0 // a run of labels no answer writes: keeps hostile text linear
		}
	}
	if len(labels) < 2 {
		return 0
	}
	// between the labels and the values: separators, fillers, brackets, one line break
	newlines := 0
	for j < len(rd.toks) {
		switch rd.kind(j) {
		case tkColon, tkEq, tkDash, tkMinus, tkFiller, tkOpen, tkClose, tkComma:
			j++
			continue
		case tkNewline:
			if newlines == 0 {
				newlines++
				j++
				continue
			}
		}
		break
	}
	var vals []int
	for j < len(rd.toks) && rd.isTerm(j) {
		vals = append(vals, j)
		if len(vals) > len(labels) {
			return 0
		}
		n := j + 1
		if groupSep(rd.kind(n)) {
			n++
			if rd.kind(n) == tkAnd {
				n++
			}
		}
		if !rd.isTerm(n) {
			break
		}
		j = n
	}
	if len(vals) != len(labels) {
		return 0
	}
	// "2/4/2/4/3 (or 2/4/2/4/4)" or an arithmetic continuation: not a plain list
	if k := rd.kind(vals[len(vals)-1] + 1); k == tkPlus || k == tkEq {
		return 0
	}
	for p, l := range labels {
		rd.used[l] = true
		rd.add(Field(rd.toks[l].val), l, vals[p], vals[p], "group")
	}
	rd.alternatives(Field(rd.toks[labels[len(labels)-1]].val), vals[len(vals)-1], vals[len(vals)-1]+1, rd.lineEnd(vals[len(vals)-1]))
	return len(labels)
}

// label reads the value after the label at token i.
func (rd *reader) label(i int) {
	f := Field(rd.toks[i].val)
	limit := rd.lineEnd(i)
	input := false // an input word was passed with no ":" or "=" after it
	neg := false   // "not" was passed: the next value is rejected
	prevOp := false
	arrowed := false // the value follows words and an arrow
	heading := true  // only marks so far: "### Джива" or "Karma:" alone on its line
	for j := i + 1; j <= limit; j++ {
		if j == limit {
			// a heading: the value starts the next line
			if !heading || limit+1 >= len(rd.toks) || !rd.isTerm(limit+1) {
				return
			}
			limit = rd.lineEnd(limit + 1)
			continue
		}
		k := rd.kind(j)
		if k != tkColon && k != tkDash {
			heading = false
		}
		switch k {
		case tkColon, tkEq:
			input = false
			prevOp = rd.kind(j) == tkEq
			continue
		case tkDash, tkMinus, tkFiller, tkHedge, tkClose:
			continue
		case tkInput:
			input = true
			continue
		case tkNeg:
			neg = true
			continue
		case tkOpen:
			k := rd.closeParen(j, limit)
			if k < 0 {
				return
			}
			j = k
			continue
		case tkComma:
			if k := rd.commaAside(j, limit); k > 0 {
				j = k
			}
			continue
		case tkLabel:
			// a label operand starts a chain: "Dharma = Jiva + Approach = …"
			if !(prevOp || rd.kind(j+1) == tkPlus) {
				return
			}
		case tkNum, tkWordNum:
			if !rd.isTerm(j) {
				return
			}
		case tkWord:
			// "Karma: sum of all four → 14 → 5": words, then an arrow to the value
			if a := rd.arrowAfterWords(j, limit); a > 0 {
				j = a - 1
				arrowed = true
				continue
			}
			return
		default:
			return
		}
		val, last, derived := rd.chain(j, limit)
		if val < 0 {
			return
		}
		if arrowed && !derived && (rd.toks[val].val < 1 || rd.toks[val].val > 9) {
			return // "… → 29 + 1": no result
		}
		if input && !derived {
			return // "comes from the year 1988": the input, not the value
		}
		if neg {
			// "not 5, but 6": read on for the value that replaces it
			neg = false
			j = last
			continue
		}
		rd.used[i] = true
		rd.add(f, i, val, last, viaOf(derived))
		rd.alternatives(f, val, last+1, limit)
		return
	}
}

// arrowAfterWords returns the index of an "=" or arrow that follows the
// words starting at j (at most a dozen, on the same line and sentence), when
// a value follows it; 0 if none.
func (rd *reader) arrowAfterWords(j, limit int) int {
	for k := j; k < limit && k < j+12; k++ {
		switch rd.kind(k) {
		case tkWord, tkFiller, tkInput, tkAnd, tkWordNum, tkOpen, tkClose:
			continue
		case tkEq:
			m := k + 1
			for m < limit && (rd.kind(m) == tkFiller || rd.kind(m) == tkOpen) {
				m++
			}
			if m < limit && rd.isTerm(m) {
				return k
			}
		}
		return 0
	}
	return 0
}

func viaOf(derived bool) string {
	if derived {
		return "chain"
	}
	return "label"
}

// closeParen returns the index of the ")" that closes the "(" at j, within limit; -1 if none.
func (rd *reader) closeParen(j, limit int) int {
	depth := 0
	limit = min(limit, j+maxAside) // a longer "aside" is no aside
	for k := j; k < limit; k++ {
		switch rd.kind(k) {
		case tkOpen:
			depth++
		case tkClose:
			depth--
			if depth == 0 {
				return k
			}
		}
	}
	return -1
}

// maxAside bounds, in tokens, a parenthesised aside between a label and its value.
const maxAside = 200

// commaAside returns the index of the comma that closes an aside of words
// opened by the comma at j ("Jiva, the number of the day, is 2"); 0 if none.
func (rd *reader) commaAside(j, limit int) int {
	for k := j + 1; k < limit && k < j+16; k++ {
		switch rd.kind(k) {
		case tkWord, tkFiller, tkInput, tkAnd, tkWordNum, tkLabel:
			continue
		case tkComma:
			if k == j+1 {
				return 0
			}
			for m := j + 1; m < k; m++ {
				if rd.kind(m) == tkLabel {
					rd.used[m] = true // "Dharma, the sum of Jiva and Approach, is 3"
				}
			}
			return k
		}
		return 0
	}
	return 0
}

// alternatives looks, after the value at token val, for another value the
// answer offers for the same field on the same line: a number after a hedge
// ("or 6", "(possibly 6)", ". Hmm, actually 6") or after a slash ("2/3").
// Content words between the hedge and the number cancel it ("may find 3 paths").
func (rd *reader) alternatives(f Field, val, from, limit int) {
	hedged := false
	sentences := 0
	if rd.kind(from) == tkSlash && rd.isTerm(from+1) {
		rd.alternative(f, val, from+1, limit)
		return
	}
	for k := from; k < limit; k++ {
		switch rd.kind(k) {
		case tkHedge:
			hedged = true
		case tkNeg:
			// "5, not 6": the next number is rejected, not offered
			if rd.isTerm(k + 1) {
				k++
			}
			hedged = false
		case tkStop:
			sentences++
			if sentences > 1 {
				return
			}
		case tkLabel:
			if rd.toks[k].val != int(f) {
				return
			}
			// the same field named again: a new reading, made by readLabels
			return
		case tkNum, tkWordNum:
			if hedged && rd.isTerm(k) {
				k = rd.alternative(f, val, k, limit)
				hedged = false
			}
		case tkFiller, tkComma, tkColon, tkDash, tkMinus, tkOpen, tkClose, tkEq, tkPlus, tkAnd:
		default:
			hedged = false
		}
	}
}

// alternative records the value of the chain starting at term k as an
// alternative reading of f unless it reduces to the value at token val; it
// returns the chain's last token.
func (rd *reader) alternative(f Field, val, k, limit int) int {
	v, last, _ := rd.chain(k, limit)
	if v < 0 {
		return last
	}
	if DigitalRoot(rd.toks[v].val) == DigitalRoot(rd.toks[val].val) && rd.toks[v].val != rd.toks[val].val {
		rd.used[v] = true
		return last // "2 (11 before reduction)": the same number unreduced
	}
	rd.add(f, -1, v, v, "alternative")
	// the span runs from the first value to the alternative
	r := &rd.readings[len(rd.readings)-1]
	r.span.Start = rd.toks[val].start
	r.span.Labelled = true
	return last
}

// readBareLists finds runs of exactly five single-digit numbers 1..9, not
// used by a reading and not part of arithmetic.
func (rd *reader) readBareLists() {
	for i := 0; i < len(rd.toks); i++ {
		if rd.kind(i) != tkNum {
			continue
		}
		run := []int{i}
		for {
			last := run[len(run)-1]
			n := last + 1
			switch rd.kind(n) {
			case tkComma, tkSlash, tkAnd, tkPipe:
				n++
				if rd.kind(n) == tkAnd {
					n++
				}
			case tkDash, tkMinus:
				if rd.toks[n].start > rd.toks[last].end { // a spaced dash, not "2-3"
					n++
				}
			}
			if rd.kind(n) != tkNum {
				break
			}
			run = append(run, n)
		}
		i = run[len(run)-1]
		if len(run) != 5 || arith(rd.kind(run[0]-1)) || arith(rd.kind(run[4]+1)) {
			continue
		}
		ok := true
		for _, k := range run {
			t := rd.toks[k]
			if rd.used[k] || t.end-t.start != 1 || t.val == 0 {
				ok = false
			}
		}
		if ok {
			rd.lists = append(rd.lists, [5]int(run))
		}
	}
}

func arith(k tokKind) bool { return k == tkPlus || k == tkEq }

func (rd *reader) result() Reading {
	var r Reading
	var all [5][]Span
	for _, rg := range rd.readings {
		all[rg.span.Field] = append(all[rg.span.Field], rg.span)
	}
	count := 0
	for f := range all {
		if len(all[f]) > 0 {
			count++
		}
	}
	// a bare list of five is a commitment in the plan's order: it fills the
	// fields the labels leave out and must agree with those they give
	if len(rd.lists) > 0 {
		for _, l := range rd.lists {
			for p, k := range l {
				t := rd.toks[k]
				all[p] = append(all[p], Span{Field: Field(p), Value: t.val, Start: t.start, End: t.end, ValueStart: t.start, ValueEnd: t.end, Via: "list"})
			}
		}
		count = 5
	}
	for f := range all {
		spans := all[f]
		if len(spans) == 0 {
			continue
		}
		slices.SortStableFunc(spans, func(a, b Span) int { return a.ValueStart - b.ValueStart })
		fr := &r.Fields[f]
		fr.Found = true
		fr.Span = spans[len(spans)-1]
		// the committed value is the last reading that is not an alternative,
		// and the last one reduced to 1..9 where one is: a two-digit reading
		// is unreduced working ("Karma: 2 + 3 + 1 + 8 = 14" before "Karma is 5")
		picked := false
		for k := len(spans) - 1; k >= 0; k-- {
			if spans[k].Via != "alternative" && spans[k].Value >= 1 && spans[k].Value <= 9 {
				fr.Span, picked = spans[k], true
				break
			}
		}
		for k := len(spans) - 1; k >= 0 && !picked; k-- {
			if spans[k].Via != "alternative" {
				fr.Span = spans[k]
				break
			}
		}
		seen := map[int]bool{fr.Span.Value: true}
		for _, s := range spans {
			if seen[s.Value] {
				continue
			}
			if s.Value > 9 && fr.Span.Value <= 9 && DigitalRoot(s.Value) == fr.Span.Value {
				continue // the committed value unreduced
			}
			seen[s.Value] = true
			fr.Others = append(fr.Others, s)
		}
		r.Numbers.Set(Field(f), fr.Span.Value)
	}
	switch {
	case count == 0:
		r.Verdict = NoNumbers
	case r.ambiguous():
		r.Verdict = Ambiguous
	case count < 5:
		r.Verdict = Incomplete
	default:
		r.Verdict = Committed
	}
	return r
}

func (r Reading) ambiguous() bool {
	for _, f := range r.Fields {
		if len(f.Others) > 0 {
			return true
		}
	}
	return false
}
