package numerology

import (
	"regexp"
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
	parts := strings.Split(s, string(sep))
	if len(parts) != 3 {
		return Date{}, "want three parts: day, month and year"
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
func MonthNumber(word string) int { return monthNames[strings.ToLower(word)] }

// fillerWords may stand around a worded date without meaning anything.
var fillerWords = map[string]bool{
	"of": true, "the": true, "г": true, "год": true, "года": true, "году": true, "гг": true,
	"st": true, "nd": true, "rd": true, "th": true, "го": true, "е": true, "ое": true,
}

type dateToken struct {
	digits bool
	text   string
}

func tokenizeDate(s string) ([]dateToken, string) {
	var toks []dateToken
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
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
				r2, n2 := utf8.DecodeRuneInString(s[j:])
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
	toks, msg := tokenizeDate(s)
	if msg != "" {
		return Date{}, msg
	}
	var kept []dateToken
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

var dateInText = regexp.MustCompile(`(?i)\d{1,2}[./-]\d{1,2}[./-]\d{4}|\d{4}-\d{2}-\d{2}|\d{8}|\d{1,2}(?:st|nd|rd|th|-?го)?\s+(?:of\s+)?\pL+\.?,?\s+\d{4}|\pL+\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}`)

// FindDates returns the valid dates written in text in any form ParseDate
// accepts, in order. A digit run touching a match ("129.01.19880") disqualifies it.
func FindDates(text string) []DateMatch {
	if strings.IndexAny(text, "0123456789") < 0 {
		return nil
	}
	var out []DateMatch
	for _, m := range dateInText.FindAllStringIndex(text, -1) {
		s, e := m[0], m[1]
		if s > 0 && text[s-1] >= '0' && text[s-1] <= '9' || e < len(text) && text[e] >= '0' && text[e] <= '9' {
			continue
		}
		if d, err := ParseDate(text[s:e]); err == nil {
			out = append(out, DateMatch{Date: d, Start: s, End: e})
		}
	}
	return out
}
