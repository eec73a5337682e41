package numerology

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Example is one generated training example in LLaMA-Factory's alpaca form
// plus the user's lang field.
type Example struct {
	Instruction string `json:"instruction"`
	Input       string `json:"input"`
	Output      string `json:"output"`
	Lang        string `json:"lang"`
}

// GenOptions configure Examples.
type GenOptions struct {
	N    int    // number of examples
	Seed uint64 // the same seed and options give the same examples
	// RussianShare is the share of Russian examples, 0..1.
	RussianShare float64
	// AllowDuplicateDates lets a date occur more than once; otherwise N must
	// not exceed the number of days from From to To.
	AllowDuplicateDates bool
	// From and To bound the birth dates, inclusive (zero: 1900-01-01 and 2030-12-31).
	From, To Date
	// Meanings, when set, adds an answer style with a one-line meaning per
	// number; nil gives numbers-only answers.
	Meanings *Meanings
}

// Meanings are one-line meanings of each number 1..9 in each of the five
// positions, per language, filled in by the user (see LoadMeanings).
type Meanings struct {
	// Text[lang][field][n-1] is the meaning of number n as field in lang ("ru", "en").
	Text map[string][5][9]string
}

// Meaning returns the meaning of value v as field f in lang, "" when absent.
func (m *Meanings) Meaning(lang string, f Field, v int) string {
	if m == nil || v < 1 || v > 9 || f < Jiva || f > Karma {
		return ""
	}
	return m.Text[lang][f][v-1]
}

// ErrMeanings is matched (errors.Is) by errors of LoadMeanings.
var ErrMeanings = errors.New("numerology: invalid meanings file")

type meaningsError struct{ msg string }

func (e *meaningsError) Error() string        { return "numerology: meanings file: " + e.msg }
func (e *meaningsError) Is(target error) bool { return target == ErrMeanings }
func (e *meaningsError) InvalidInput() bool   { return true }

// LoadMeanings reads a meanings file (YAML):
//
//	ru:
//	  jiva: {1: "…", 2: "…", … 9: "…"}
//	  dharma: {…}  # approach, method, karma likewise
//	en:
//	  …
//
// Every number 1..9 of every field must be filled for each language present;
// the error names the empty entries. Unknown keys are errors.
func LoadMeanings(r io.Reader) (*Meanings, error) {
	var raw map[string]map[string]map[int]string
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		return nil, &meaningsError{err.Error()}
	}
	m := &Meanings{Text: map[string][5][9]string{}}
	var empty []string
	for lang := range raw {
		if lang != "ru" && lang != "en" {
			return nil, &meaningsError{fmt.Sprintf("language %q: want ru or en", lang)}
		}
	}
	for _, lang := range []string{"ru", "en"} {
		byField, ok := raw[lang]
		if !ok {
			continue
		}
		if lang != "ru" && lang != "en" {
			return nil, &meaningsError{fmt.Sprintf("language %q: want ru or en", lang)}
		}
		var t [5][9]string
		for key, byNum := range byField {
			f, ok := fieldByKey(key)
			if !ok {
				return nil, &meaningsError{fmt.Sprintf("%s.%s: unknown field (want jiva, dharma, approach, method, karma)", lang, key)}
			}
			for n, s := range byNum {
				if n < 1 || n > 9 {
					return nil, &meaningsError{fmt.Sprintf("%s.%s.%d: numbers are 1..9", lang, key, n)}
				}
				if strings.ContainsAny(s, "\n\r") {
					return nil, &meaningsError{fmt.Sprintf("%s.%s.%d: a meaning is one line", lang, key, n)}
				}
				t[f][n-1] = strings.TrimSpace(s)
			}
		}
		for f := range 5 {
			for n := range 9 {
				if t[f][n] == "" {
					empty = append(empty, fmt.Sprintf("%s.%s.%d", lang, strings.ToLower(Field(f).String()), n+1))
				}
			}
		}
		m.Text[lang] = t
	}
	if len(m.Text) == 0 {
		return nil, &meaningsError{"no languages (want ru: and/or en:)"}
	}
	if len(empty) > 0 {
		more := ""
		if len(empty) > 8 {
			more = fmt.Sprintf(" and %d more", len(empty)-8)
			empty = empty[:8]
		}
		return nil, &meaningsError{fmt.Sprintf("%s empty%s: fill every meaning before generating", strings.Join(empty, ", "), more)}
	}
	return m, nil
}

func fieldByKey(k string) (Field, bool) {
	for _, f := range fields {
		if strings.EqualFold(k, f.String()) {
			return f, true
		}
	}
	return 0, false
}

// dayNumber returns the days since 0001-01-01 (day 0), proleptic Gregorian
// (Howard Hinnant's days_from_civil).
func dayNumber(d Date) int {
	y, m := d.Year, d.Month
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d.Day - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 306 // 0001-01-01 is day 0
}

// dateOfDay is the inverse of dayNumber.
func dateOfDay(n int) Date {
	t := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n)
	return Date{Year: t.Year(), Month: int(t.Month()), Day: t.Day()}
}

// Examples returns a deterministic sequence of o.N examples. It fails before
// yielding anything when the options cannot be met.
func Examples(o GenOptions) (iter.Seq[Example], error) {
	if o.N < 0 {
		return nil, fmt.Errorf("numerology: negative example count %d", o.N)
	}
	if o.RussianShare < 0 || o.RussianShare > 1 {
		return nil, fmt.Errorf("numerology: Russian share %v outside 0..1", o.RussianShare)
	}
	if o.From == (Date{}) {
		o.From = Date{1900, 1, 1}
	}
	if o.To == (Date{}) {
		o.To = Date{2030, 12, 31}
	}
	if !o.From.Valid() || !o.To.Valid() {
		return nil, fmt.Errorf("numerology: invalid date range %v..%v", o.From, o.To)
	}
	lo, hi := dayNumber(o.From), dayNumber(o.To)
	if hi < lo {
		return nil, fmt.Errorf("numerology: date range %v..%v is empty", o.From, o.To)
	}
	span := hi - lo + 1
	if !o.AllowDuplicateDates && o.N > span {
		return nil, fmt.Errorf("numerology: %d examples need %d distinct dates but %v..%v has %d days; widen the range or allow duplicate dates", o.N, o.N, o.From, o.To, span)
	}
	if o.Meanings != nil {
		for _, lang := range []string{"ru", "en"} {
			share := o.RussianShare
			if lang == "en" {
				share = 1 - share
			}
			if _, ok := o.Meanings.Text[lang]; !ok && share > 0 {
				return nil, fmt.Errorf("numerology: the meanings file has no %s meanings", lang)
			}
		}
	}
	return func(yield func(Example) bool) {
		r := rand.New(rand.NewPCG(o.Seed, 0x5a77a))
		var used map[int]struct{}
		var perm []int32
		if !o.AllowDuplicateDates {
			if o.N*2 > span {
				perm = make([]int32, span)
				for i := range perm {
					perm[i] = int32(i)
				}
				r.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
			} else {
				used = make(map[int]struct{}, o.N)
			}
		}
		for i := range o.N {
			var day int
			switch {
			case perm != nil:
				day = lo + int(perm[i])
			case used != nil:
				for {
					day = lo + r.IntN(span)
					if _, dup := used[day]; !dup {
						used[day] = struct{}{}
						break
					}
				}
			default:
				day = lo + r.IntN(span)
			}
			lang := "en"
			if r.Float64() < o.RussianShare {
				lang = "ru"
			}
			if !yield(makeExample(r, dateOfDay(day), lang, o.Meanings)) {
				return
			}
		}
	}, nil
}

// instruction templates: %s is the written date; want says the answer style.
type instrTemplate struct {
	text      string
	inInput   bool // the date goes to the input field, text is the instruction
	meanings  bool // asks for meanings
	bareOK    bool // a bare list in the plan's order answers it
	dateStyle int  // -1: any; else a fixed date style
}

var ruTemplates = []instrTemplate{
	{text: "Определи числа Джива, Дхарма, Подход, Метод, Карма для даты: %s. Дай только числа.", bareOK: true, dateStyle: -1},
	{text: "Рассчитай пять чисел (Джива, Дхарма, Подход, Метод, Карма) для даты рождения %s.", dateStyle: -1},
	{text: "Дата рождения: %s. Назови Дживу, Дхарму, Подход, Метод и Карму.", dateStyle: -1},
	{text: "Посчитай нумерологию SatTva для %s: Джива, Дхарма, Подход, Метод, Карма. Только числа, по порядку.", bareOK: true, dateStyle: -1},
	{text: "Какие числа Джива, Дхарма, Подход, Метод и Карма у человека, родившегося %s?", dateStyle: 3},
	{text: "Проанализируй дату рождения (ДДММГГГГ=%s) и верни пять основных чисел: Джива, Дхарма, Подход, Метод, Карма. Выведи только числа.", bareOK: true, dateStyle: 1},
	{text: "Определи пять чисел (Джива, Дхарма, Подход, Метод, Карма) для даты рождения во входных данных.", inInput: true, dateStyle: -1},
	{text: "Нужны числа Джива, Дхарма, Подход, Метод и Карма. Дата: %s.", dateStyle: -1},
}

var ruMeaningTemplates = []instrTemplate{
	{text: "Определи числа Джива, Дхарма, Подход, Метод, Карма для даты %s и коротко поясни каждое.", meanings: true, dateStyle: -1},
	{text: "Дата рождения %s. Рассчитай Дживу, Дхарму, Подход, Метод и Карму, к каждому числу — одна строка толкования.", meanings: true, dateStyle: -1},
	{text: "Рассчитай пять чисел SatTva для даты из входных данных и дай краткое толкование каждого.", inInput: true, meanings: true, dateStyle: -1},
}

var enTemplates = []instrTemplate{
	{text: "Analyze this birth date (DDMMYYYY=%s) and return five core numerology numbers (Jiva, Dharma, Approach, Method, Karma). Output only numbers.", bareOK: true, dateStyle: 1},
	{text: "Compute Jiva, Dharma, Approach, Method and Karma for the birth date %s.", dateStyle: -1},
	{text: "Birth date: %s. What are the Jiva, Dharma, Approach, Method and Karma numbers?", dateStyle: -1},
	{text: "Give the five SatTva numbers (Jiva, Dharma, Approach, Method, Karma) for someone born on %s. Numbers only, in that order.", bareOK: true, dateStyle: 4},
	{text: "Calculate the numerology numbers Jiva, Dharma, Approach, Method, Karma for %s.", dateStyle: -1},
	{text: "Find the Jiva, Dharma, Approach, Method and Karma numbers for the birth date in the input.", inInput: true, dateStyle: -1},
	{text: "I was born on %s. Tell me my Jiva, Dharma, Approach, Method and Karma.", dateStyle: 4},
}

var enMeaningTemplates = []instrTemplate{
	{text: "Compute Jiva, Dharma, Approach, Method and Karma for %s and explain each in one line.", meanings: true, dateStyle: -1},
	{text: "Birth date %s: give the five SatTva numbers with a short meaning for each.", meanings: true, dateStyle: -1},
	{text: "Give the five SatTva numbers for the birth date in the input, each with a one-line meaning.", inInput: true, meanings: true, dateStyle: -1},
}

var ruMonthGen = []string{"января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября", "ноября", "декабря"}
var enMonth = []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}

// writeDate writes d in one of the date styles:
// 0 DD.MM.YYYY, 1 DDMMYYYY, 2 YYYY-MM-DD, 3 worded (5 ноября 2004 / 5 November 2004),
// 4 English month first (November 5, 2004) or Russian "5 ноября 2004 г.", 5 DD/MM/YYYY.
func writeDate(d Date, style int, lang string) string {
	switch style {
	case 1:
		return fmt.Sprintf("%02d%02d%04d", d.Day, d.Month, d.Year)
	case 2:
		return d.ISO()
	case 3:
		if lang == "ru" {
			return fmt.Sprintf("%d %s %04d", d.Day, ruMonthGen[d.Month-1], d.Year)
		}
		return fmt.Sprintf("%d %s %04d", d.Day, enMonth[d.Month-1], d.Year)
	case 4:
		if lang == "ru" {
			return fmt.Sprintf("%d %s %04d г.", d.Day, ruMonthGen[d.Month-1], d.Year)
		}
		return fmt.Sprintf("%s %d, %04d", enMonth[d.Month-1], d.Day, d.Year)
	case 5:
		return fmt.Sprintf("%02d/%02d/%04d", d.Day, d.Month, d.Year)
	}
	return d.String()
}

func makeExample(r *rand.Rand, d Date, lang string, m *Meanings) Example {
	plain, withMeaning := enTemplates, enMeaningTemplates
	if lang == "ru" {
		plain, withMeaning = ruTemplates, ruMeaningTemplates
	}
	var t instrTemplate
	if m != nil && r.IntN(2) == 0 {
		t = withMeaning[r.IntN(len(withMeaning))]
	} else {
		t = plain[r.IntN(len(plain))]
	}
	style := t.dateStyle
	if style < 0 {
		style = r.IntN(6)
	}
	date := writeDate(d, style, lang)
	ex := Example{Lang: lang}
	if t.inInput {
		ex.Instruction = t.text
		ex.Input = date
	} else {
		ex.Instruction = fmt.Sprintf(t.text, date)
	}
	n := Compute(d)
	switch {
	case t.meanings:
		ex.Output = answerWithMeanings(n, lang, m)
	case t.bareOK && r.IntN(3) == 0:
		ex.Output = n.String()
	default:
		ex.Output = answerNumbers(n, lang, r.IntN(3))
	}
	return ex
}

// answerNumbers writes the labelled numbers: style 0 "Джива: 2" lines (the
// plan's form), 1 "Джива — 2" lines, 2 one line "Джива 2, Дхарма 3, …".
func answerNumbers(n Numbers, lang string, style int) string {
	var b strings.Builder
	for i, f := range fields {
		switch style {
		case 0:
			if i > 0 {
				b.WriteByte('\n')
			}
			fmt.Fprintf(&b, "%s: %d", f.Label(lang), n.Get(f))
		case 1:
			if i > 0 {
				b.WriteByte('\n')
			}
			fmt.Fprintf(&b, "%s — %d", f.Label(lang), n.Get(f))
		default:
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s %d", f.Label(lang), n.Get(f))
		}
	}
	return b.String()
}

func answerWithMeanings(n Numbers, lang string, m *Meanings) string {
	var b strings.Builder
	for i, f := range fields {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s: %d — %s", f.Label(lang), n.Get(f), m.Meaning(lang, f, n.Get(f)))
	}
	return b.String()
}

//go:embed meanings.example.yaml
var meaningsTemplate []byte

// MeaningsTemplate returns an empty meanings file for the user to fill (see
// LoadMeanings). The caller owns the returned slice.
func MeaningsTemplate() []byte { return append([]byte(nil), meaningsTemplate...) }
