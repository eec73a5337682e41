package numerology

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// ParseDate parses a birth date in one of the forms users write:
//
//	29.01.1988  29/01/1988  29-01-1988  5.11.2004   day, month, year (1–2, 1–2, 4 digits)
//	29011988                                       DDMMYYYY (exactly 8 digits)
//	1988-01-29                                     ISO (4, 2, 2 digits)
//	5 November 2004, 5th Nov 2004, November 5, 2004
//	5 ноября 2004, 5 ноябрь 2004 г., 5-го ноября 2004 года, 5 нояб. 2004
//
// Month names are English (full or abbreviated) or Russian (genitive,
// nominative or abbreviated), in any letter case. Dates that do not exist
// (31.02.2001, 29.02.1900), year 0 and wrong digit counts are a *DateError.
func ParseDate(s string) (Date, error) {
	in := s
	s = strings.TrimSpace(s)
	if s == "" {
		return Date{}, &DateError{Input: in, Msg: "empty"}
	}
	var d Date
	var msg string
	if isNumericDate(s) {
		d, msg = parseNumericDate(s)
	} else {
		d, msg = parseWordDate(s)
	}
	if msg != "" {
		return Date{}, &DateError{Input: in, Msg: msg}
	}
	if err := d.check(); err != nil {
		return Date{}, &DateError{Input: in, Msg: err.Error()}
	}
	return d, nil
}

func isNumericDate(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c == '.' || c == '/' || c == '-') {
			return false
		}
	}
	return true
}

// atoiDigits converts an all-digit string of at most 4 digits.
func atoiDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

func parseNumericDate(s string) (Date, string) {
	if !strings.ContainsAny(s, "./-") {
		if len(s) != 8 {
			return Date{}, "a date without separators must have 8 digits (DDMMYYYY)"
		}
		return Date{Day: atoiDigits(s[0:2]), Month: atoiDigits(s[2:4]), Year: atoiDigits(s[4:8])}, ""
	}
	sep := s[strings.IndexAny(s, "./-")]
	var parts [3]string
	rest := s
	for k := range 3 {
		j := strings.IndexByte(rest, sep)
		if k == 2 {
			if j >= 0 {
				return Date{}, "want three parts: day, month and year"
			}
			parts[k] = rest
			break
		}
		if j < 0 {
			return Date{}, "want three parts: day, month and year"
		}
		parts[k], rest = rest[:j], rest[j+1:]
	}
	for _, p := range parts {
		if p == "" || strings.ContainsAny(p, "./-") {
			return Date{}, "mixed or doubled separators"
		}
	}
	if len(parts[0]) == 4 { // ISO: YYYY-MM-DD
		if len(parts[1]) != 2 || len(parts[2]) != 2 {
			return Date{}, "ISO dates have 2-digit month and day (YYYY-MM-DD)"
		}
		return Date{Year: atoiDigits(parts[0]), Month: atoiDigits(parts[1]), Day: atoiDigits(parts[2])}, ""
	}
	if len(parts[0]) > 2 || len(parts[1]) > 2 {
		return Date{}, "day and month have 1 or 2 digits"
	}
	if len(parts[2]) != 4 {
		return Date{}, "the year has 4 digits"
	}
	return Date{Day: atoiDigits(parts[0]), Month: atoiDigits(parts[1]), Year: atoiDigits(parts[2])}, ""
}

// monthNames maps lower-case month words to month numbers.
var monthNames = func() map[string]int {
	m := map[string]int{}
	en := []string{"january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"}
	ruNom := []string{"январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август", "сентябрь", "октябрь", "ноябрь", "декабрь"}
	ruGen := []string{"января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября", "ноября", "декабря"}
	ruAbbr := [][]string{{"янв"}, {"фев", "февр"}, {"мар"}, {"апр"}, {}, {"июн"}, {"июл"}, {"авг"}, {"сен", "сент"}, {"окт"}, {"ноя", "нояб"}, {"дек"}}
	for i := range 12 {
		m[en[i]] = i + 1
		m[en[i][:3]] = i + 1
		m[ruNom[i]] = i + 1
		m[ruGen[i]] = i + 1
		for _, a := range ruAbbr[i] {
			m[a] = i + 1
		}
	}
	m["sept"] = 9
	return m
}()

// MonthNumber returns the month (1..12) named by word in English or Russian
// (any case, full, abbreviated, nominative or genitive), or 0.
func MonthNumber(word string) int {
	if m, ok := monthNames[word]; ok {
		return m
	}
	return monthNames[strings.ToLower(word)]
}

// fillerWords may stand around a worded date without meaning anything.
var fillerWords = map[string]bool{
	"of": true, "the": true, "г": true, "год": true, "года": true, "году": true, "гг": true,
	"st": true, "nd": true, "rd": true, "th": true, "го": true, "е": true, "ое": true,
}

type dateToken struct {
	digits bool
	text   string
}

func tokenizeDate(s string, toks []dateToken) ([]dateToken, string) {
	for i := 0; i < len(s); {
		r, n := DecodeRune(s[i:])
		switch {
		case r >= '0' && r <= '9':
			j := i
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			toks = append(toks, dateToken{digits: true, text: s[i:j]})
			i = j
		case unicode.IsLetter(r):
			j := i
			for j < len(s) {
				r2, n2 := DecodeRune(s[j:])
				if !unicode.IsLetter(r2) {
					break
				}
				j += n2
			}
			toks = append(toks, dateToken{text: strings.ToLower(s[i:j])})
			i = j
		case unicode.IsSpace(r) || r == ',' || r == '.' || r == '-':
			i += n
		default:
			return nil, "unexpected character " + string(r)
		}
	}
	return toks, ""
}

func parseWordDate(s string) (Date, string) {
	var tokBuf, keptBuf [8]dateToken
	toks, msg := tokenizeDate(s, tokBuf[:0])
	if msg != "" {
		return Date{}, msg
	}
	kept := keptBuf[:0]
	for _, t := range toks {
		if !t.digits && fillerWords[t.text] {
			continue
		}
		kept = append(kept, t)
	}
	if len(kept) != 3 {
		return Date{}, "want a day, a month name and a year"
	}
	var day, mon, year dateToken
	switch {
	case kept[0].digits && !kept[1].digits && kept[2].digits:
		day, mon, year = kept[0], kept[1], kept[2]
	case !kept[0].digits && kept[1].digits && kept[2].digits:
		mon, day, year = kept[0], kept[1], kept[2]
	default:
		return Date{}, "want a day, a month name and a year"
	}
	m := monthNames[mon.text]
	if m == 0 {
		return Date{}, "unknown month " + mon.text
	}
	if len(day.text) > 2 {
		return Date{}, "the day has 1 or 2 digits"
	}
	if len(year.text) != 4 {
		return Date{}, "the year has 4 digits"
	}
	return Date{Day: atoiDigits(day.text), Month: m, Year: atoiDigits(year.text)}, ""
}

// DateMatch is a date found in free text; text[Start:End] is how it was written.
type DateMatch struct {
	Date       Date
	Start, End int
}

// FindDates returns the valid dates written in text in any form ParseDate
// accepts, in order. A digit run touching a match ("129.01.19880") disqualifies it.
func FindDates(text string) []DateMatch {
	var out []DateMatch
	last := 0 // end of the previous match
	for i := 0; i < len(text); {
		// dates hold digits: scan bytes for the next digit run
		if !isDigit(text[i]) || i > 0 && isDigit(text[i-1]) {
			i++
			continue
		}
		if e := dateAtDigits(text, i); e > i {
			if d, err := ParseDate(text[i:e]); err == nil {
				out = append(out, DateMatch{Date: d, Start: i, End: e})
				i, last = e, e
				continue
			}
		}
		// month first: "November 5, 2004" — a month word just before the digits
		if ws := monthWordBefore(text, i, last); ws >= 0 {
			if e := monthFirstDate(text, wordEnd(text, ws)); e > 0 {
				if d, err := ParseDate(text[ws:e]); err == nil {
					out = append(out, DateMatch{Date: d, Start: ws, End: e})
					i, last = e, e
					continue
				}
			}
		}
		i = digitRun(text, i)
	}
	return out
}

// monthWordBefore returns the start of a month word that ends, followed by
// an optional '.' and spaces, just before the digit at i, not before min; -1 if none.
func monthWordBefore(s string, i, min int) int {
	j := i
	for j > min && (s[j-1] == ' ' || s[j-1] == '\t') {
		j--
	}
	if j == i {
		if j-2 >= min && s[j-2:j] == "\u00a0" {
			j -= 2
		} else {
			return -1
		}
	}
	if j > min && s[j-1] == '.' {
		j--
	}
	end := j
	for j > min {
		r, n := utf8.DecodeLastRuneInString(s[min:j])
		if !isLetter(r) {
			break
		}
		j -= n
	}
	if n := end - j; n < 3 || n > 24 || MonthNumber(s[j:end]) == 0 {
		return -1
	}
	return j
}

// wordEnd returns the end of the letter run at i.
func wordEnd(s string, i int) int {
	_, n := letterWord(s, i)
	return i + n
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// letterWord returns the run of letters at i.
func letterWord(s string, i int) (string, int) {
	j := i
	for j < len(s) {
		c := s[j]
		if c < utf8.RuneSelf {
			if c|0x20 < 'a' || c|0x20 > 'z' {
				break
			}
			j++
			continue
		}
		r, n := DecodeRune(s[j:])
		if !isLetter(r) {
			break
		}
		j += n
	}
	return s[i:j], j - i
}

func skipSpaces(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	if strings.HasPrefix(s[i:], "\u00a0") {
		return skipSpaces(s, i+len("\u00a0"))
	}
	return i
}

// year4 returns the end of exactly four digits at i not followed by a digit, or -1.
func year4(s string, i int) int {
	if i+4 <= len(s) && isDigit(s[i]) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) && (i+4 == len(s) || !isDigit(s[i+4])) {
		return i + 4
	}
	return -1
}

// ordinalSuffix skips "st", "nd", "rd", "th", "-го", "го" after a day number.
func ordinalSuffix(s string, i int) int {
	for _, suf := range []string{"st", "nd", "rd", "th", "-го", "го"} {
		if strings.HasPrefix(s[i:], suf) {
			j := i + len(suf)
			if j < len(s) {
				if r, _ := DecodeRune(s[j:]); unicode.IsLetter(r) {
					continue
				}
			}
			return j
		}
	}
	return i
}

// dateAtDigits returns the end of a date starting with the digit run at i, or -1.
func dateAtDigits(s string, i int) int {
	e := digitRun(s, i)
	n := e - i
	switch {
	case n == 8:
		return e
	case n == 4 && e < len(s) && s[e] == '-':
		if e+6 <= len(s) && isDigit(s[e+1]) && isDigit(s[e+2]) && s[e+3] == '-' && isDigit(s[e+4]) && isDigit(s[e+5]) && (e+6 == len(s) || !isDigit(s[e+6])) {
			return e + 6
		}
		return -1
	case n > 2:
		return -1
	}
	if e < len(s) && (s[e] == '.' || s[e] == '/' || s[e] == '-') {
		sep := s[e]
		m := digitRun(s, e+1)
		if m-(e+1) >= 1 && m-(e+1) <= 2 && m < len(s) && s[m] == sep {
			if y := year4(s, m+1); y > 0 {
				return y
			}
		}
		if sep != '-' {
			return -1
		}
	}
	// worded: day [suffix] spaces [of spaces] month[.][,] spaces year
	j := ordinalSuffix(s, e)
	k := skipSpaces(s, j)
	if k == j {
		return -1
	}
	if strings.HasPrefix(s[k:], "of ") {
		k = skipSpaces(s, k+2)
	}
	w, wn := letterWord(s, k)
	if wn == 0 || MonthNumber(w) == 0 {
		return -1
	}
	k += wn
	if k < len(s) && s[k] == '.' {
		k++
	}
	if k < len(s) && s[k] == ',' {
		k++
	}
	k2 := skipSpaces(s, k)
	if k2 == k {
		return -1
	}
	return year4(s, k2)
}

// monthFirstDate reads " 5, 2004" / " 5th 2004" after a month word ending at i.
func monthFirstDate(s string, i int) int {
	if i < len(s) && s[i] == '.' {
		i++
	}
	j := skipSpaces(s, i)
	if j == i {
		return -1
	}
	e := digitRun(s, j)
	if e-j < 1 || e-j > 2 {
		return -1
	}
	e = ordinalSuffix(s, e)
	if e < len(s) && s[e] == ',' {
		e++
	}
	k := skipSpaces(s, e)
	if k == e {
		return -1
	}
	return year4(s, k)
}
