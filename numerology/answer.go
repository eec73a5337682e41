package numerology

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Span is one reading of one of the five numbers: where the answer states a
// value for a field, in byte offsets into the text it was given.
type Span struct {
	Field Field
	Value int
	// Start and End bound the evidence: text[Start:End] runs from the label
	// through the value ("Джива: 2", "Карма = 2 + 3 + 1 + 8 = 14 → 5"), or is
	// the value alone in a bare list.
	Start, End int
	// ValueStart and ValueEnd bound the value as written: digits, or a number
	// word ("пяти", "five").
	ValueStart, ValueEnd int
	// Labelled is true when a label named the field, false for a bare list in
	// the plan's order.
	Labelled bool
	// Via says how the value was read: "label" (a label and its value), "chain"
	// (the last result of a derivation such as "2 + 9 = 11 → 2"), "table" (a
	// table row's result column, or a column under a labelled header), "group"
	// (labels and values joined position by position, "Jiva/Dharma: 2/3"),
	// "list" (a bare list of five in the plan's order) or "alternative" (a
	// second value offered with "or", "possibly", "точнее" …).
	Via string
}

// Errors of ParseAnswer; each is matched with errors.Is.
var (
	// ErrNoNumbers: neither a labelled number nor a bare list of five was found.
	ErrNoNumbers = errors.New("numerology: no numbers found in the answer")
	// ErrIncomplete: some but not all five numbers were found; the returned
	// Numbers hold the found ones (0 for the rest).
	ErrIncomplete = errors.New("numerology: the answer lacks some of the five numbers")
	// ErrAmbiguous: the answer commits to two different values for one field
	// (a correction, a hedge such as "2 or 3", two lists that disagree); the
	// returned Numbers hold the last value read.
	ErrAmbiguous = errors.New("numerology: the answer gives one number two values")
	// ErrConflict is ErrAmbiguous under its earlier name.
	ErrConflict = ErrAmbiguous
)

// ParseAnswer is ReadAnswer in the form of a result and an error: the numbers,
// the spans of the committed values in field order (then, for an ambiguous
// answer, the alternative spans), and nil, or an error wrapping ErrNoNumbers,
// ErrIncomplete or ErrAmbiguous.
func ParseAnswer(text string) (Numbers, []Span, error) {
	r := ReadAnswer(text)
	return r.Numbers, r.Spans(), r.Err()
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
