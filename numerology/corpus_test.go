package numerology

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/answers.jsonl from testdata/answers.tmpl")

// corpusAnswer is one answer of testdata/answers.jsonl with its true verdict.
type corpusAnswer struct {
	ID    string `json:"id"`
	Lang  string `json:"lang"`
	Date  string `json:"date"` // the date as the question wrote it
	Truth string `json:"truth"`
	Text  string `json:"text"`
}

// corpusDates are the birth dates the templates are expanded for: days with
// one digit, with a digit sum of 10 or more, month 10, year 2000, a leap day.
var corpusDates = []Date{
	{1988, 1, 29}, {2004, 11, 5}, {1999, 12, 31}, {2000, 1, 1}, {1996, 2, 29}, {1990, 7, 14},
	{1975, 3, 7}, {1961, 9, 23}, {2010, 6, 18}, {1985, 4, 30}, {2011, 11, 11}, {1948, 8, 28},
	{1945, 5, 9}, {1979, 10, 19}, {2003, 8, 27}, {1957, 12, 8}, {1968, 6, 26},
}

var (
	enMonths = []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
	ruMonths = []string{"января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября", "ноября", "декабря"}
	ruNom    = []string{"январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август", "сентябрь", "октябрь", "ноябрь", "декабрь"}
	ruAbbr   = []string{"янв.", "февр.", "мар.", "апр.", "мая", "июн.", "июл.", "авг.", "сент.", "окт.", "нояб.", "дек."}
)

// spellings returns how many spellings spellDate knows for lang.
func spellings(lang string) int {
	if lang == "ru" {
		return 10
	}
	return 9
}

// spellDate writes d in the k-th spelling ParseDate accepts for lang.
func spellDate(d Date, lang string, k int) string {
	numeric := []func() string{
		func() string { return d.String() },
		func() string { return fmt.Sprintf("%d.%d.%04d", d.Day, d.Month, d.Year) },
		func() string { return fmt.Sprintf("%02d/%02d/%04d", d.Day, d.Month, d.Year) },
		func() string { return fmt.Sprintf("%02d-%02d-%04d", d.Day, d.Month, d.Year) },
		func() string { return fmt.Sprintf("%02d%02d%04d", d.Day, d.Month, d.Year) },
		func() string { return d.ISO() },
	}
	words := map[string][]func() string{
		"en": {
			func() string { return fmt.Sprintf("%d %s %d", d.Day, enMonths[d.Month-1], d.Year) },
			func() string { return fmt.Sprintf("%s %d, %d", enMonths[d.Month-1], d.Day, d.Year) },
			func() string {
				return fmt.Sprintf("%d%s %s %d", d.Day, ordinal(d.Day), enMonths[d.Month-1][:3], d.Year)
			},
		},
		"ru": {
			func() string { return fmt.Sprintf("%d %s %d", d.Day, ruMonths[d.Month-1], d.Year) },
			func() string { return fmt.Sprintf("%d %s %d г.", d.Day, ruNom[d.Month-1], d.Year) },
			func() string { return fmt.Sprintf("%d-го %s %d года", d.Day, ruMonths[d.Month-1], d.Year) },
			func() string { return fmt.Sprintf("%d %s %d", d.Day, ruAbbr[d.Month-1], d.Year) },
		},
	}
	all := append(numeric, words[lang]...)
	if len(all) != spellings(lang) {
		panic("spellings out of date")
	}
	return all[k%len(all)]()
}

func ordinal(n int) string {
	switch {
	case n%100 >= 11 && n%100 <= 13:
		return "th"
	case n%10 == 1:
		return "st"
	case n%10 == 2:
		return "nd"
	case n%10 == 3:
		return "rd"
	}
	return "th"
}

// digitChain writes the digit sums of the number s (as written) down to one
// digit: "29" → "2 + 9 = 11 → 1 + 1 = 2"; a single digit is itself.
func digitChain(s string) (string, int) {
	var b strings.Builder
	for len(s) > 1 {
		sum := 0
		for i, c := range s {
			if i > 0 {
				b.WriteString(" + ")
			}
			b.WriteRune(c)
			sum += int(c - '0')
		}
		fmt.Fprintf(&b, " = %d", sum)
		s = strconv.Itoa(sum)
		if len(s) > 1 {
			b.WriteString(" → ")
		}
	}
	if b.Len() == 0 {
		b.WriteString(s)
	}
	v, _ := strconv.Atoi(s)
	return b.String(), v
}

// sumChain writes "a + b + … = s" and, if s has two digits, its reduction.
func sumChain(vals ...int) (string, int) {
	parts := make([]string, len(vals))
	sum := 0
	for i, v := range vals {
		parts[i] = strconv.Itoa(v)
		sum += v
	}
	out := strings.Join(parts, " + ") + fmt.Sprintf(" = %d", sum)
	if sum > 9 {
		rest, r := digitChain(strconv.Itoa(sum))
		return out + " → " + rest, r
	}
	return out, sum
}

var placeholder = regexp.MustCompile(`\{(date|day|mon|year|[JDAMK][A-Za-z*]*)\}`)

var (
	enWords = []string{"one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
	ruWords = []string{"один", "два", "три", "четыре", "пять", "шесть", "семь", "восемь", "девять"}
	ruColl  = []string{"единица", "двойка", "тройка", "четвёрка", "пятёрка", "шестёрка", "семёрка", "восьмёрка", "девятка"}
)

// expand fills a template for date d written as dateText. Every number comes
// from Compute; the chains are checked against it.
func expand(t *testing.T, id, tmpl string, d Date, dateText string) string {
	t.Helper()
	n := Compute(d)
	day, mon, year := fmt.Sprintf("%02d", d.Day), fmt.Sprintf("%02d", d.Month), fmt.Sprintf("%04d", d.Year)
	jc, jv := digitChain(day)
	ac, av := digitChain(mon)
	mc, mv := digitChain(year)
	dc, dv := sumChain(n.Jiva, n.Approach)
	kc, kv := sumChain(n.Jiva, n.Dharma, n.Approach, n.Method)
	if jv != n.Jiva || av != n.Approach || mv != n.Method || dv != n.Dharma || kv != n.Karma {
		t.Fatalf("%s: the chains of %v disagree with Compute %v", id, d, n)
	}
	jsum := 0
	for _, c := range day {
		jsum += int(c - '0')
	}
	r := []string{
		"{date}", dateText, "{day}", day, "{mon}", mon, "{year}", year,
		"{Jchain}", jc, "{Achain}", ac, "{Mchain}", mc, "{Dchain}", dc, "{Kchain}", kc,
		"{Dsum}", strconv.Itoa(n.Jiva + n.Approach), "{Ksum}", strconv.Itoa(n.Jiva + n.Dharma + n.Approach + n.Method),
		"{Jsum}", strconv.Itoa(jsum),
	}
	for _, f := range Fields() {
		v := n.Get(f)
		w := v%9 + 1 // a wrong value: never v
		k := string("JDAMK"[f])
		r = append(r,
			"{"+k+"*en}", enWords[w-1],
			"{"+k+"*}", strconv.Itoa(w),
			"{"+k+"en}", enWords[v-1],
			"{"+k+"ru}", ruWords[v-1],
			"{"+k+"rk}", ruColl[v-1],
			"{"+k+"}", strconv.Itoa(v),
		)
	}
	out := strings.NewReplacer(r...).Replace(tmpl)
	if placeholder.MatchString(out) {
		t.Fatalf("%s: unexpanded placeholder in %q", id, out)
	}
	return out
}

// expandCorpus reads testdata/answers.tmpl and expands each template for
// three dates, each in another spelling.
func expandCorpus(t *testing.T) []corpusAnswer {
	out, used := expandCorpusSpellings(t)
	for _, lang := range []string{"en", "ru"} {
		if len(used[lang]) != spellings(lang) {
			t.Errorf("%s answers use %d of the %d date spellings", lang, len(used[lang]), spellings(lang))
		}
	}
	return out
}

// expandCorpusSpellings is expandCorpus that also returns, per language,
// which date spellings the answers use.
func expandCorpusSpellings(t *testing.T) ([]corpusAnswer, map[string]map[int]bool) {
	t.Helper()
	data, err := os.ReadFile("testdata/answers.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	type tmpl struct{ id, lang, truth, body string }
	var tmpls []tmpl
	var cur *tmpl
	for line := range strings.Lines(string(data)) {
		if h, ok := strings.CutPrefix(line, "=== "); ok {
			f := strings.Fields(h)
			if len(f) != 3 {
				t.Fatalf("bad header %q", line)
			}
			tmpls = append(tmpls, tmpl{id: f[0], lang: f[1], truth: f[2]})
			cur = &tmpls[len(tmpls)-1]
			continue
		}
		if cur == nil {
			continue // the file's comment
		}
		cur.body += line
	}
	var out []corpusAnswer
	used := map[string]map[int]bool{"en": {}, "ru": {}}
	k := 0
	for _, tp := range tmpls {
		switch tp.truth {
		case "pass", "wrong", "ambiguous", "incomplete", "none":
		default:
			t.Fatalf("%s: unknown truth %q", tp.id, tp.truth)
		}
		body := strings.TrimSpace(tp.body)
		for e := range 3 {
			d := corpusDates[k%len(corpusDates)]
			dt := spellDate(d, tp.lang, k)
			used[tp.lang][k%spellings(tp.lang)] = true
			k++
			out = append(out, corpusAnswer{
				ID: fmt.Sprintf("%s-%d", tp.id, e+1), Lang: tp.lang, Date: dt, Truth: tp.truth,
				Text: expand(t, tp.id, body, d, dt),
			})
		}
	}
	return out, used
}

func readCorpus(t *testing.T) []corpusAnswer {
	t.Helper()
	f, err := os.Open("testdata/answers.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []corpusAnswer
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var a corpusAnswer
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAnswerCorpusFile checks that answers.jsonl is the expansion of
// answers.tmpl (run with -update to rewrite it).
func TestAnswerCorpusFile(t *testing.T) {
	want := expandCorpus(t)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, a := range want {
		if err := enc.Encode(a); err != nil {
			t.Fatal(err)
		}
	}
	if *update {
		if err := os.WriteFile("testdata/answers.jsonl", buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile("testdata/answers.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, buf.Bytes()) {
		t.Fatal("testdata/answers.jsonl is not the expansion of answers.tmpl; run go test ./numerology -run TestAnswerCorpusFile -update")
	}
}

// outcome names what the reader concluded about an answer against the true numbers.
func outcome(r Reading, want Numbers) string {
	switch r.Verdict {
	case Committed:
		if r.Numbers == want {
			return "pass"
		}
		return "wrong"
	case Ambiguous:
		return "ambiguous"
	case Incomplete:
		return "incomplete"
	}
	return "none"
}

// TestAnswerCorpus reads every answer of the corpus: no answer whose truth is
// not "pass" passes, every "pass" passes, every verdict matches the truth, and
// every span's value text spells its value. It prints the confusion table.
func TestAnswerCorpus(t *testing.T) {
	corpus := readCorpus(t)
	if len(corpus) < 150 {
		t.Fatalf("%d answers, want at least 150", len(corpus))
	}
	classes := []string{"pass", "wrong", "ambiguous", "incomplete", "none"}
	confusion := map[[2]string]int{}
	for _, a := range corpus {
		d, err := ParseDate(a.Date)
		if err != nil {
			t.Fatalf("%s: %v", a.ID, err)
		}
		if found := FindDates(a.Text); strings.Contains(a.Text, a.Date) && (len(found) == 0 || found[0].Date != d) {
			t.Errorf("%s: FindDates does not see %q in the answer", a.ID, a.Date)
		}
		want := Compute(d)
		r := ReadAnswer(a.Text)
		got := outcome(r, want)
		confusion[[2]string{a.Truth, got}]++
		if (got == "pass") != (a.Truth == "pass") || got != a.Truth {
			t.Errorf("%s (%s, want %s): read %s %v [%v]\n%s", a.ID, a.Date, want, got, r.Numbers, r.Err(), a.Text)
		}
		for _, s := range r.Spans() {
			if s.Start < 0 || s.Start > s.ValueStart || s.ValueStart >= s.ValueEnd || s.ValueEnd > s.End || s.End > len(a.Text) {
				t.Errorf("%s: span %+v out of order", a.ID, s)
				continue
			}
			vt := a.Text[s.ValueStart:s.ValueEnd]
			if v, err := strconv.Atoi(vt); err == nil {
				if v != s.Value {
					t.Errorf("%s: span reads %d from %q", a.ID, s.Value, vt)
				}
			} else if v := numberWords[skeletonString(vt)]; v != s.Value {
				t.Errorf("%s: span reads %d from %q", a.ID, s.Value, vt)
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d answers; rows: truth, columns: what the reader concluded\n%-11s", len(corpus), "")
	for _, c := range classes {
		fmt.Fprintf(&b, "%11s", c)
	}
	b.WriteByte('\n')
	for _, tr := range classes {
		fmt.Fprintf(&b, "%-11s", tr)
		for _, c := range classes {
			fmt.Fprintf(&b, "%11d", confusion[[2]string{tr, c}])
		}
		b.WriteByte('\n')
	}
	t.Log("\n" + b.String())
}

// BenchmarkReadAnswerCorpus reads the whole corpus per iteration; ns/answer
// is the time per answer (the bar is 1 ms).
func BenchmarkReadAnswerCorpus(b *testing.B) {
	f, err := os.ReadFile("testdata/answers.jsonl")
	if err != nil {
		b.Fatal(err)
	}
	var texts []string
	var bytesTotal int
	for line := range bytes.Lines(f) {
		var a corpusAnswer
		if err := json.Unmarshal(line, &a); err != nil {
			b.Fatal(err)
		}
		texts = append(texts, a.Text)
		bytesTotal += len(a.Text)
	}
	b.SetBytes(int64(bytesTotal))
	for b.Loop() {
		for _, s := range texts {
			ReadAnswer(s)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(texts)), "ns/answer")
}
