package numerology

import (
	"errors"
	"math/rand/v2"
	"testing"
)

func TestComputeSeedExamples(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Numbers
	}{
		{"plan example 1, DD.MM.YYYY", "29.01.1988", Numbers{2, 3, 1, 8, 5}},
		{"plan example 2, DDMMYYYY", "05112004", Numbers{5, 7, 2, 6, 2}},
		{"plan example 2, dotted", "05.11.2004", Numbers{5, 7, 2, 6, 2}},
		{"plan example 1, ISO", "1988-01-29", Numbers{2, 3, 1, 8, 5}},
		{"plan example 2, English", "5 November 2004", Numbers{5, 7, 2, 6, 2}},
		{"plan example 2, Russian", "5 ноября 2004", Numbers{5, 7, 2, 6, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDate(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := Compute(d); got != tt.want {
				t.Errorf("Compute(%v) = %v, want %v", d, got, tt.want)
			}
		})
	}
}

func TestParseDateMonthNames(t *testing.T) {
	ruGen := []string{"января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября", "ноября", "декабря"}
	ruNom := []string{"январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август", "сентябрь", "октябрь", "ноябрь", "декабрь"}
	enFull := []string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"}
	enAbbr := []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
	for m := 1; m <= 12; m++ {
		want := Date{Year: 1999, Month: m, Day: 7}
		forms := map[string]string{
			"ru genitive":       "7 " + ruGen[m-1] + " 1999",
			"ru genitive upper": "7 " + upper(ruGen[m-1]) + " 1999 г.",
			"ru nominative":     "7 " + ruNom[m-1] + " 1999",
			"ru with года":      "7-го " + ruGen[m-1] + " 1999 года",
			"en full":           "7 " + enFull[m-1] + " 1999",
			"en abbrev":         "7 " + enAbbr[m-1] + ". 1999",
			"en month first":    enFull[m-1] + " 7, 1999",
			"en ordinal":        "7th of " + enFull[m-1] + " 1999",
			"en abbrev lower":   enAbbr[m-1] + " 7 1999",
		}
		for name, in := range forms {
			d, err := ParseDate(in)
			if err != nil {
				t.Errorf("%s %q: %v", name, in, err)
				continue
			}
			if d != want {
				t.Errorf("%s %q = %v, want %v", name, in, d, want)
			}
		}
	}
}

func upper(s string) string {
	r := []rune(s)
	for i := range r {
		if r[i] >= 'а' && r[i] <= 'я' {
			r[i] -= 'а' - 'А'
		}
	}
	return string(r)
}

func TestParseDateValidAndInvalid(t *testing.T) {
	ok := []struct {
		in   string
		want Date
	}{
		{"29.02.2000", Date{2000, 2, 29}},
		{"29.02.2004", Date{2004, 2, 29}},
		{"29 февраля 2000", Date{2000, 2, 29}},
		{"2000-02-29", Date{2000, 2, 29}},
		{"1.2.2003", Date{2003, 2, 1}},
		{"01/02/2003", Date{2003, 2, 1}},
		{"31-12-9999", Date{9999, 12, 31}},
		{"01.01.0001", Date{1, 1, 1}},
		{"  05.11.2004 ", Date{2004, 11, 5}},
	}
	for _, tt := range ok {
		d, err := ParseDate(tt.in)
		if err != nil || d != tt.want {
			t.Errorf("ParseDate(%q) = %v, %v; want %v", tt.in, d, err, tt.want)
		}
	}
	bad := []struct{ name, in string }{
		{"29 Feb in a century non-leap year", "29.02.1900"},
		{"29 Feb in a common year", "29.02.2001"},
		{"31 February", "31.02.2001"},
		{"31 April", "31.04.2001"},
		{"31 June in words", "31 июня 2001"},
		{"year 0", "01.01.0000"},
		{"year 0 compact", "01010000"},
		{"month 13", "01.13.2000"},
		{"day 0", "00.01.2000"},
		{"two-digit year", "29.01.88"},
		{"five-digit year", "29.01.19880"},
		{"three-digit day", "029.01.1988"},
		{"seven digits", "2901198"},
		{"nine digits", "290119880"},
		{"ISO one-digit month", "1988-1-29"},
		{"mixed separators", "29.01-1988"},
		{"empty", ""},
		{"unknown month", "5 Novembre 2004"},
		{"no year", "5 ноября"},
		{"letters", "yesterday"},
		{"two-digit year in words", "5 ноября 04"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDate(tt.in)
			if !errors.Is(err, ErrDate) {
				t.Fatalf("ParseDate(%q) = %v, %v; want ErrDate", tt.in, d, err)
			}
			var de *DateError
			if !errors.As(err, &de) || de.Input != tt.in {
				t.Errorf("error %v does not carry the input", err)
			}
		})
	}
}

func TestDigitalRoot(t *testing.T) {
	for n, want := range map[int]int{0: 0, -5: 0, 1: 1, 9: 9, 10: 1, 18: 9, 19: 1, 1988: 8, 2004: 6, 9999: 9} {
		if got := DigitalRoot(n); got != want {
			t.Errorf("DigitalRoot(%d) = %d, want %d", n, got, want)
		}
	}
}

// TestComputeProperty: over every day of a wide range of years, each number is
// 1..9, each first-order number is the digit sum of its part, and Dharma and
// Karma follow from the others.
func TestComputeProperty(t *testing.T) {
	digitSum := func(n int) int {
		for n > 9 {
			s := 0
			for ; n > 0; n /= 10 {
				s += n % 10
			}
			n = s
		}
		return n
	}
	check := func(d Date) {
		n := Compute(d)
		for _, v := range n.Slice() {
			if v < 1 || v > 9 {
				t.Fatalf("%v: number %d outside 1..9 in %v", d, v, n)
			}
		}
		if n.Jiva != digitSum(d.Day) || n.Approach != digitSum(d.Month) || n.Method != digitSum(d.Year) {
			t.Fatalf("%v: %v does not match digit sums", d, n)
		}
		if n.Dharma != digitSum(n.Jiva+n.Approach) {
			t.Fatalf("%v: Dharma %d != dr(%d+%d)", d, n.Dharma, n.Jiva, n.Approach)
		}
		if n.Karma != digitSum(n.Jiva+n.Dharma+n.Approach+n.Method) {
			t.Fatalf("%v: Karma %d does not follow", d, n.Karma)
		}
	}
	for y := 1; y <= 9999; y += 7 {
		for m := 1; m <= 12; m++ {
			for day := 1; day <= DaysIn(y, m); day++ {
				check(Date{y, m, day})
			}
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		y, m := 1+r.IntN(9999), 1+r.IntN(12)
		d := Date{y, m, 1 + r.IntN(DaysIn(y, m))}
		check(d)
		back, err := ParseDate(d.String())
		if err != nil || back != d {
			t.Fatalf("round trip %v: %v, %v", d, back, err)
		}
	}
}

func TestFindDates(t *testing.T) {
	tests := []struct {
		text string
		want []Date
	}{
		{"Определи числа для даты: 29.01.1988. Дай только числа.", []Date{{1988, 1, 29}}},
		{"Analyze this birth date (DDMMYYYY=05112004) and return", []Date{{2004, 11, 5}}},
		{"Родилась 5 ноября 2004 года, брат — 1988-01-29.", []Date{{2004, 11, 5}, {1988, 1, 29}}},
		{"Born on November 5, 2004.", []Date{{2004, 11, 5}}},
		{"no date 31.02.2001 here, nor 129.01.19880", nil},
		{"in 2004 nothing", nil},
	}
	for _, tt := range tests {
		got := FindDates(tt.text)
		if len(got) != len(tt.want) {
			t.Errorf("FindDates(%q) = %v, want %v", tt.text, got, tt.want)
			continue
		}
		for i := range got {
			if got[i].Date != tt.want[i] {
				t.Errorf("FindDates(%q)[%d] = %v, want %v", tt.text, i, got[i].Date, tt.want[i])
			}
			if _, err := ParseDate(tt.text[got[i].Start:got[i].End]); err != nil {
				t.Errorf("span %q does not parse", tt.text[got[i].Start:got[i].End])
			}
		}
	}
}

func TestFindDatesForms(t *testing.T) {
	want := Date{2004, 11, 5}
	for _, text := range []string{
		"дата 05.11.2004.", "дата 5/11/2004", "(DDMMYYYY=05112004)", "ISO 2004-11-05!", "born 5 November 2004",
		"born 5th of Nov 2004", "on November 5, 2004.", "Nov. 5th 2004", "5 ноября 2004 г.", "5-го ноября 2004 года",
		"5\u00a0ноября\u00a02004", "Родился 5 ноябрь 2004",
	} {
		got := FindDates(text)
		if len(got) != 1 || got[0].Date != want {
			t.Errorf("FindDates(%q) = %v", text, got)
		}
	}
	for _, text := range []string{"05.11.20045", "105.11.2004", "5 Novembre 2004", "05.11-2004", "2004-11-5", "5 ноября"} {
		if got := FindDates(text); len(got) != 0 {
			t.Errorf("FindDates(%q) = %v, want none", text, got)
		}
	}
}

func FuzzFindDates(f *testing.F) {
	f.Add("Родился 5 ноября 2004 г., брат — 1988-01-29, Nov. 5th, 2004; 05112004")
	f.Add("November\u00a05, 2004")
	f.Fuzz(func(t *testing.T, s string) {
		last := 0
		for _, m := range FindDates(s) {
			if m.Start < last || m.End <= m.Start || m.End > len(s) {
				t.Fatalf("bad match %+v in %q", m, s)
			}
			last = m.End
			if d, err := ParseDate(s[m.Start:m.End]); err != nil || d != m.Date {
				t.Fatalf("match %q does not parse to %v: %v", s[m.Start:m.End], m.Date, err)
			}
		}
		if d, err := ParseDate(s); err == nil && !d.Valid() {
			t.Fatalf("ParseDate(%q) = invalid %v", s, d)
		}
	})
}
