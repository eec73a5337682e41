package numerology

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Span is where ParseAnswer found one of the five numbers, in byte offsets
// into the text it was given.
type Span struct {
	Field Field
	Value int
	// Start and End bound the evidence: text[Start:End] runs from the label
	// through the value ("Джива: 2"), or is the value alone in a bare list.
	Start, End int
	// ValueStart and ValueEnd bound the digits of the value.
	ValueStart, ValueEnd int
	// Labelled is true when a label named the field, false for a bare list in
	// the plan's order.
	Labelled bool
}

// Errors of ParseAnswer; each is matched with errors.Is.
var (
	// ErrNoNumbers: neither a labelled number nor a bare list of five was found.
	ErrNoNumbers = errors.New("numerology: no numbers found in the answer")
	// ErrIncomplete: some but not all five numbers were labelled; the
	// returned Numbers hold the found ones (0 for the rest).
	ErrIncomplete = errors.New("numerology: the answer lacks some of the five numbers")
	// ErrConflict: one field was given two different values; the returned
	// Numbers hold the last one.
	ErrConflict = errors.New("numerology: the answer gives one number two values")
)

// ParseAnswer extracts the five numbers from a model's answer.
//
// Labels may be Russian (Джива, Дхарма, Подход, Метод, Карма, in any case
// ending: Дживы, Карме, Подходом …) or English (Jiva, Dharma, Approach, Method,
// Karma), in any letter case and either language whatever the answer's
// language, and are matched through homoglyphs (a Latin "K" or "a" inside a
// Cyrillic word, zero-width characters). After a label, the value is the first
// number on the same line, skipping separators (":", "—", "=", "**"), a
// parenthesised aside and a few filler words ("is", "number", "равна",
// "число"); in a chain such as "2 + 9 = 11 → 2" the value is the number after
// the last "=" or arrow. Labelled numbers may come in any order.
//
// When the labels do not name all five, ParseAnswer looks for a bare list of
// exactly five numbers 1..9 ("2, 3, 1, 8, 5", "2 3 1 8 5") in the plan's order
// (Jiva, Dharma, Approach, Method, Karma) and takes the last such list; a
// labelled number elsewhere that disagrees with it is an ErrConflict.
//
// The spans give, in field order, the evidence for every number returned. The
// error is nil when all five were found once each, else it wraps ErrNoNumbers,
// ErrIncomplete or ErrConflict.
func ParseAnswer(text string) (Numbers, []Span, error) {
	var hitBuf [16]Span
	hits := labelledSpans(text, hitBuf[:0])
	var n Numbers
	var found [5]bool
	var spans [5]Span
	var conflict []string
	for _, h := range hits {
		if found[h.Field] && spans[h.Field].Value != h.Value {
			conflict = append(conflict, fmt.Sprintf("%s %d and %d", h.Field, spans[h.Field].Value, h.Value))
		}
		found[h.Field] = true
		spans[h.Field] = h
		n.Set(h.Field, h.Value)
	}
	count := 0
	for _, f := range found {
		if f {
			count++
		}
	}
	if count < 5 {
		if list, ok := lastBareList(text); ok {
			// labelled numbers outside the list must agree with it
			for _, h := range hits {
				if l := list[h.Field]; h.Value != l.Value && (h.ValueStart < list[0].Start || h.ValueStart >= list[4].End) {
					conflict = append(conflict, fmt.Sprintf("%s %d (labelled) and %d (list)", h.Field, h.Value, l.Value))
				}
			}
			if len(conflict) > 0 {
				return listNumbers(list), list, fmt.Errorf("%w: %s", ErrConflict, strings.Join(conflict, "; "))
			}
			return listNumbers(list), list, nil
		}
	}
	out := make([]Span, 0, count)
	for f := range 5 {
		if found[f] {
			out = append(out, spans[f])
		}
	}
	switch {
	case count == 0:
		return Numbers{}, nil, ErrNoNumbers
	case len(conflict) > 0:
		return n, out, fmt.Errorf("%w: %s", ErrConflict, strings.Join(conflict, "; "))
	case count < 5:
		var missing []string
		for f := range 5 {
			if !found[f] {
				missing = append(missing, Field(f).String())
			}
		}
		return n, out, fmt.Errorf("%w: missing %s", ErrIncomplete, strings.Join(missing, ", "))
	}
	return n, out, nil
}

func listNumbers(list []Span) Numbers {
	var n Numbers
	for _, s := range list {
		n.Set(s.Field, s.Value)
	}
	return n
}

// skeleton folds r for label matching: lower case, ё to е, and letters that
// look alike in Latin, Cyrillic and Greek to one representative. It returns
// -1 for characters that are ignored inside a word (zero-width, combining).
func skeleton(r rune) rune {
	switch {
	case r < utf8.RuneSelf:
		if r >= 'A' && r <= 'Z' {
			r += 'a' - 'A'
		}
		return r
	case r >= 'А' && r <= 'Я':
		r += 'а' - 'А'
	case r >= 'а' && r <= 'я':
	case r == '\u200b', r == '\u200c', r == '\u200d', r == '\u2060', r == '\ufeff', r == '\u00ad':
		return -1
	case unicode.Is(unicode.Mn, r):
		return -1
	default:
		r = unicode.ToLower(r)
	}
	switch r {
	case 'а', 'α':
		return 'a'
	case 'в', 'β':
		return 'b'
	case 'е', 'ё', 'ε':
		return 'e'
	case 'к', 'κ':
		return 'k'
	case 'м':
		return 'm'
	case 'н', 'η':
		return 'h'
	case 'о', 'ο':
		return 'o'
	case 'р', 'ρ':
		return 'p'
	case 'с':
		return 'c'
	case 'т', 'τ':
		return 't'
	case 'у', 'γ':
		return 'y'
	case 'х', 'χ':
		return 'x'
	case 'і', 'ι':
		return 'i'
	case 'ј':
		return 'j'
	case 'п':
		return 'n'
	case 'и':
		return 'u'
	case 'ν':
		return 'v'
	}
	return r
}

func skeletonString(s string) string {
	var b strings.Builder
	for _, r := range s {
		if k := skeleton(r); k >= 0 {
			b.WriteRune(k)
		}
	}
	return b.String()
}

type labelForm struct {
	field    Field
	stem     string          // skeleton of the stem
	suffixes map[string]bool // skeletons of the allowed endings
}

func newLabelForm(f Field, stem string, suffixes ...string) labelForm {
	m := map[string]bool{}
	for _, s := range suffixes {
		m[skeletonString(s)] = true
	}
	return labelForm{field: f, stem: skeletonString(stem), suffixes: m}
}

// labelForms is immutable after package initialisation.
var labelForms = func() []labelForm {
	fem := []string{"а", "ы", "е", "у", "ой", "ою", "и"}
	masc := []string{"", "а", "у", "ом", "е", "ы", "ов", "ам"}
	return []labelForm{
		newLabelForm(Jiva, "джив", fem...),
		newLabelForm(Dharma, "дхарм", fem...),
		newLabelForm(Approach, "подход", masc...),
		newLabelForm(Method, "метод", masc...),
		newLabelForm(Karma, "карм", fem...),
		newLabelForm(Jiva, "jiva", "", "s"),
		newLabelForm(Dharma, "dharma", "", "s"),
		newLabelForm(Approach, "approach", "", "es"),
		newLabelForm(Method, "method", "", "s"),
		newLabelForm(Karma, "karma", "", "s"),
	}
}()

// maxLabelSkeleton bounds the skeleton of a label word in bytes; longer
// words are not labels.
const maxLabelSkeleton = 40

// matchLabel returns the field a word names.
func matchLabel(word string) (Field, bool) {
	var buf [maxLabelSkeleton]byte
	sk := buf[:0]
	for _, r := range word {
		k := skeleton(r)
		if k < 0 {
			continue
		}
		if len(sk)+utf8.RuneLen(k) > maxLabelSkeleton {
			return 0, false
		}
		sk = utf8.AppendRune(sk, k)
		if len(sk) == utf8.RuneLen(k) && !labelInitial[byte(k)] {
			return 0, false // quick reject on the first letter
		}
	}
	for _, lf := range labelForms {
		if len(sk) >= len(lf.stem) && string(sk[:len(lf.stem)]) == lf.stem && lf.suffixes[string(sk[len(lf.stem):])] {
			return lf.field, true
		}
	}
	return 0, false
}

// labelInitial holds the low byte of the first skeleton rune of every label
// form (a superset check: a false positive only costs the full comparison).
var labelInitial = func() [256]bool {
	var t [256]bool
	for _, lf := range labelForms {
		r, _ := utf8.DecodeRuneInString(lf.stem)
		t[byte(r)] = true
	}
	return t
}()

// fillers may stand between a label and its value.
var fillers = map[string]bool{
	"is": true, "number": true, "num": true, "no": true, "equals": true, "your": true, "the": true,
	"число": true, "равно": true, "равна": true, "равен": true, "составляет": true, "ваша": true,
	"ваш": true, "твоя": true, "твой": true, "это": true, "dr": true, "цифра": true,
}

func isWordRune(r rune) bool {
	return isLetter(r) || skeleton(r) < 0
}

// isLetter is unicode.IsLetter with fast paths for ASCII and basic Cyrillic.
func isLetter(r rune) bool {
	switch {
	case r < utf8.RuneSelf:
		return r|0x20 >= 'a' && r|0x20 <= 'z'
	case r >= 0x410 && r <= 0x44f, r == 0x401, r == 0x451:
		return true
	case r >= 0x2000 && r <= 0x2bff: // punctuation, arrows, symbols
		return false
	}
	return unicode.IsLetter(r)
}

type labelHit struct {
	field      Field
	start, end int
}

// labelledSpans appends to dst the labelled numbers of text.
func labelledSpans(text string, dst []Span) []Span {
	var buf [16]labelHit
	labs := buf[:0]
	for i := 0; ; {
		s, e := nextWord(text, i)
		if s < 0 {
			break
		}
		if f, ok := matchLabel(text[s:e]); ok {
			labs = append(labs, labelHit{f, s, e})
		}
		i = e
	}
	for i, l := range labs {
		limit := len(text)
		if i+1 < len(labs) {
			limit = labs[i+1].start
		}
		if nl := strings.IndexByte(text[l.end:limit], '\n'); nl >= 0 {
			limit = l.end + nl
		}
		if vs, ve, v, ok := valueAfter(text, l.end, limit); ok {
			dst = append(dst, Span{Field: l.field, Value: v, Start: l.start, End: ve, ValueStart: vs, ValueEnd: ve, Labelled: true})
		}
	}
	return dst
}

// digitRun returns the end of the run of ASCII digits starting at i.
func digitRun(text string, i int) int {
	for i < len(text) && text[i] >= '0' && text[i] <= '9' {
		i++
	}
	return i
}

// dateLike reports whether the number ending at e continues as a date,
// decimal or time ("29.01", "3,5", "12:30").
func dateLike(text string, e int) bool {
	return e+1 < len(text) && strings.IndexByte("./,:", text[e]) >= 0 && text[e+1] >= '0' && text[e+1] <= '9'
}

// valueAfter finds the value of a label ending at i, looking no further than limit.
func valueAfter(text string, i, limit int) (vs, ve, v int, ok bool) {
	for i < limit {
		c := text[i]
		switch {
		case c >= '0' && c <= '9':
			e := digitRun(text, i)
			if dateLike(text, e) {
				// skip a date or decimal entirely
				for e < limit && (text[e] >= '0' && text[e] <= '9' || strings.IndexByte("./,:", text[e]) >= 0 && e+1 < limit && text[e+1] >= '0' && text[e+1] <= '9') {
					e++
				}
				i = e
				continue
			}
			return chainValue(text, i, e, limit)
		case c == '(' || c == '[':
			closer := byte(')')
			if c == '[' {
				closer = ']'
			}
			j := strings.IndexByte(text[i:limit], closer)
			if j < 0 {
				return 0, 0, 0, false
			}
			i += j + 1
		case c < utf8.RuneSelf:
			if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' {
				w, n := wordAt(text, i)
				if !fillers[strings.ToLower(w)] {
					return 0, 0, 0, false
				}
				i += n
				continue
			}
			i++
		default:
			r, n := DecodeRune(text[i:])
			if unicode.IsLetter(r) {
				w, wn := wordAt(text, i)
				if !fillers[strings.ToLower(w)] {
					return 0, 0, 0, false
				}
				i += wn
				continue
			}
			i += n
		}
	}
	return 0, 0, 0, false
}

func wordAt(text string, i int) (string, int) {
	j := i
	for j < len(text) {
		r, n := DecodeRune(text[j:])
		if !isWordRune(r) {
			break
		}
		j += n
	}
	return text[i:j], j - i
}

// chainValue reads "N", or a chain "N + M = K → R", starting with the digits
// text[s:e]; the value is the number after the last "=" or arrow.
func chainValue(text string, s, e, limit int) (vs, ve, v int, ok bool) {
	if e-s > 3 {
		return 0, 0, 0, false
	}
	vs, ve = s, e
	i := e
	for {
		j := i
		for j < limit && (text[j] == ' ' || text[j] == '\t' || text[j] == ')' || text[j] == '(') {
			j++
		}
		op, n := chainOp(text[j:limit])
		if op == 0 {
			break
		}
		j += n
		for j < limit && (text[j] == ' ' || text[j] == '\t' || text[j] == '(') {
			j++
		}
		if j+2 <= limit && (text[j:j+2] == "dr" || text[j:j+2] == "DR") {
			j += 2
			for j < limit && (text[j] == '(' || text[j] == ' ') {
				j++
			}
		}
		if j >= limit || text[j] < '0' || text[j] > '9' {
			break
		}
		k := digitRun(text, j)
		if op == '=' {
			vs, ve = j, k
		}
		i = k
	}
	if ve-vs > 3 {
		return 0, 0, 0, false
	}
	return vs, ve, atoiDigits(text[vs:ve]), true
}

// chainOp recognises an operator at the start of s: '+' for a sum, '=' for
// "=", "→", "->", "=>", "⇒".
func chainOp(s string) (byte, int) {
	switch {
	case strings.HasPrefix(s, "->"), strings.HasPrefix(s, "=>"):
		return '=', 2
	case strings.HasPrefix(s, "→"), strings.HasPrefix(s, "⇒"):
		return '=', len("→")
	case strings.HasPrefix(s, "="):
		return '=', 1
	case strings.HasPrefix(s, "+"):
		return '+', 1
	}
	return 0, 0
}

// lastBareList finds the last run of exactly five numbers 1..9 separated by
// commas, semicolons, slashes, bars, spaces or spaced dashes, not part of a date.
func lastBareList(text string) ([]Span, bool) {
	var bestBuf, curBuf [6]Span
	var best []Span
	cur := curBuf[:0]
	flush := func() {
		if len(cur) == 5 {
			best = append(bestBuf[:0], cur...)
		}
		cur = cur[:0]
	}
	i := 0
	for i < len(text) {
		c := text[i]
		if c >= '0' && c <= '9' {
			e := digitRun(text, i)
			prevOK := i == 0 || text[i-1] != '.'
			if e-i == 1 && c != '0' && prevOK && !dateLike(text, e) {
				cur = append(cur, Span{Field: Field(len(cur) % 5), Value: int(c - '0'), Start: i, End: e, ValueStart: i, ValueEnd: e})
				if len(cur) > 5 {
					cur = cur[:6] // too long a run: never a list of five
				}
			} else {
				flush()
				if dateLike(text, e) {
					for e < len(text) && (text[e] >= '0' && text[e] <= '9' || strings.IndexByte("./,:", text[e]) >= 0 && e+1 < len(text) && text[e+1] >= '0' && text[e+1] <= '9') {
						e++
					}
				}
			}
			i = e
			// separator until the next number
			j := i
			sep := false
			for j < len(text) {
				switch text[j] {
				case ' ', '\t', ',', ';', '/', '|':
					sep = true
					j++
					continue
				case '-':
					if j > i && text[j-1] == ' ' {
						j++
						continue
					}
				}
				if strings.HasPrefix(text[j:], "–") || strings.HasPrefix(text[j:], "—") {
					j += len("–")
					continue
				}
				break
			}
			if j < len(text) && text[j] >= '0' && text[j] <= '9' && sep {
				i = j
				continue
			}
			flush()
			i = j
			if i < len(text) && text[i] >= '0' && text[i] <= '9' {
				continue
			}
			if i < len(text) {
				_, n := DecodeRune(text[i:])
				i += n
			}
			continue
		}
		i++
	}
	flush()
	if best == nil {
		return nil, false
	}
	return append([]Span(nil), best...), true
}

// ContainsLabel reports whether text names any of the five numbers, in
// Russian or English, through the same homoglyph-tolerant matching as ParseAnswer.
func ContainsLabel(text string) bool {
	for i := 0; ; {
		s, e := nextWord(text, i)
		if s < 0 {
			return false
		}
		if _, ok := matchLabel(text[s:e]); ok {
			return true
		}
		i = e
	}
}

// nextWord returns the bounds of the first word (letters, with zero-width
// characters inside) at or after i, or -1, -1.
func nextWord(text string, i int) (int, int) {
	for i < len(text) {
		c := text[i]
		if c < utf8.RuneSelf && !(c|0x20 >= 'a' && c|0x20 <= 'z') {
			i++
			continue
		}
		r, n := DecodeRune(text[i:])
		if !isLetter(r) {
			i += n
			continue
		}
		j := i + n
		for j < len(text) {
			r2, n2 := DecodeRune(text[j:])
			if !isWordRune(r2) {
				break
			}
			j += n2
		}
		return i, j
	}
	return -1, -1
}
