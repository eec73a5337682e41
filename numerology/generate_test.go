package numerology

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func collect(t *testing.T, o GenOptions) []Example {
	t.Helper()
	seq, err := Examples(o)
	if err != nil {
		t.Fatal(err)
	}
	var out []Example
	for ex := range seq {
		out = append(out, ex)
	}
	return out
}

func TestExamplesDeterministicAndCorrect(t *testing.T) {
	o := GenOptions{N: 3000, Seed: 7, RussianShare: 0.6}
	a, b := collect(t, o), collect(t, o)
	if len(a) != 3000 {
		t.Fatalf("%d examples", len(a))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("example %d differs between runs: %+v vs %+v", i, a[i], b[i])
		}
	}
	o.Seed = 8
	if c := collect(t, o); c[0] == a[0] && c[1] == a[1] {
		t.Error("another seed gives the same examples")
	}
	dates := map[Date]bool{}
	ru := 0
	instr, outs, formats := map[string]bool{}, map[string]bool{}, map[int]bool{}
	for i, ex := range a {
		q := ex.Instruction + "\n" + ex.Input
		ds := FindDates(q)
		if len(ds) != 1 {
			t.Fatalf("example %d: %d dates in %q", i, len(ds), q)
		}
		d := ds[0].Date
		if dates[d] {
			t.Fatalf("example %d: date %v repeats", i, d)
		}
		dates[d] = true
		got, _, err := ParseAnswer(ex.Output)
		if err != nil {
			t.Fatalf("example %d: %v in %q", i, err, ex.Output)
		}
		if got != Compute(d) {
			t.Fatalf("example %d: answer %v, want %v", i, got, Compute(d))
		}
		if ex.Lang == "ru" {
			ru++
		}
		instr[strings.ReplaceAll(ex.Instruction, q[ds[0].Start:ds[0].End], "")] = true
		outs[strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return -1
			}
			return r
		}, ex.Output)] = true
		formats[len(q[ds[0].Start:ds[0].End])] = true
	}
	if share := float64(ru) / float64(len(a)); share < 0.55 || share > 0.65 {
		t.Errorf("Russian share %.3f, want about 0.6", share)
	}
	if len(instr) < 12 || len(outs) < 6 || len(formats) < 4 {
		t.Errorf("little variety: %d instructions, %d answer forms, %d date lengths", len(instr), len(outs), len(formats))
	}
}

func TestExamplesDatesRange(t *testing.T) {
	o := GenOptions{N: 31, From: Date{2000, 1, 1}, To: Date{2000, 1, 31}, RussianShare: 0.5}
	got := collect(t, o)
	seen := map[Date]bool{}
	for _, ex := range got {
		d := FindDates(ex.Instruction + "\n" + ex.Input)[0].Date
		seen[d] = true
	}
	if len(seen) != 31 {
		t.Errorf("%d distinct dates, want all 31", len(seen))
	}
	o.N = 32
	if _, err := Examples(o); err == nil {
		t.Error("32 distinct dates from 31 days: want an error")
	}
	o.AllowDuplicateDates = true
	if n := len(collect(t, o)); n != 32 {
		t.Errorf("with duplicates allowed: %d examples", n)
	}
}

func filledMeanings(langs ...string) string {
	var b strings.Builder
	for _, lang := range langs {
		fmt.Fprintf(&b, "%s:\n", lang)
		for _, f := range Fields() {
			fmt.Fprintf(&b, "  %s:\n", strings.ToLower(f.String()))
			for n := 1; n <= 9; n++ {
				fmt.Fprintf(&b, "    %d: \"%s-%s-%d смысл\"\n", n, lang, f, n)
			}
		}
	}
	return b.String()
}

func TestMeanings(t *testing.T) {
	if _, err := LoadMeanings(bytes.NewReader(MeaningsTemplate())); !errors.Is(err, ErrMeanings) || !strings.Contains(err.Error(), "ru.jiva.1") {
		t.Fatalf("the empty template: err = %v, want the empty entries named", err)
	}
	if _, err := LoadMeanings(strings.NewReader("ru:\n  jivaa:\n    1: x\n")); !errors.Is(err, ErrMeanings) {
		t.Errorf("unknown field: %v", err)
	}
	m, err := LoadMeanings(strings.NewReader(filledMeanings("ru", "en")))
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Meaning("ru", Karma, 5); got != "ru-Karma-5 смысл" {
		t.Errorf("Meaning = %q", got)
	}
	ex := collect(t, GenOptions{N: 400, Seed: 1, RussianShare: 0.5, Meanings: m})
	with := 0
	for _, e := range ex {
		if strings.Contains(e.Output, "смысл") {
			with++
			d := FindDates(e.Instruction + "\n" + e.Input)[0].Date
			n, _, err := ParseAnswer(e.Output)
			if err != nil || n != Compute(d) {
				t.Fatalf("%q: %v %v", e.Output, n, err)
			}
			if want := m.Meaning(e.Lang, Jiva, n.Jiva); !strings.Contains(e.Output, want) {
				t.Fatalf("%q lacks %q", e.Output, want)
			}
		}
	}
	if with < 100 {
		t.Errorf("only %d of 400 answers carry meanings", with)
	}
	onlyRU, err := LoadMeanings(strings.NewReader(filledMeanings("ru")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Examples(GenOptions{N: 1, RussianShare: 0.5, Meanings: onlyRU}); err == nil {
		t.Error("English examples without English meanings: want an error")
	}
}

func TestDayNumberRoundTrip(t *testing.T) {
	if n := dayNumber(Date{1, 1, 1}); n != 0 {
		t.Fatalf("dayNumber(0001-01-01) = %d", n)
	}
	prev := -1
	for y := 1; y <= 9999; y += 13 {
		for m := 1; m <= 12; m++ {
			for _, d := range []int{1, DaysIn(y, m)} {
				dt := Date{y, m, d}
				n := dayNumber(dt)
				if n <= prev {
					t.Fatalf("%v: %d not increasing", dt, n)
				}
				prev = n
				if back := dateOfDay(n); back != dt {
					t.Fatalf("%v -> %d -> %v", dt, n, back)
				}
			}
		}
	}
}
