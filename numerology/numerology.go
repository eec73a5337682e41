// Package numerology computes SatTva's five numbers of a birth date and reads
// them back out of a model's answer.
//
// The five numbers, in the user's plan's order, are Jiva (Джива), Dharma
// (Дхарма), Approach (Подход), Method (Метод) and Karma (Карма). With dr the
// digital root (1..9):
//
//	Jiva     = dr(day)
//	Approach = dr(month)
//	Method   = dr(year)
//	Dharma   = dr(Jiva + Approach)
//	Karma    = dr(Jiva + Dharma + Approach + Method)
//
// The plan states no formulas; these were derived from its two worked examples,
// which they reproduce: 29.01.1988 → 2, 3, 1, 8, 5 and 05.11.2004 → 5, 7, 2, 6, 2.
// Should the user's school define a number differently, Compute is the one
// place to change.
package numerology

import (
	"errors"
	"fmt"
)

// Date is a calendar date of the proleptic Gregorian calendar, year 1..9999.
type Date struct{ Year, Month, Day int }

// String formats d as DD.MM.YYYY, the plan's form.
func (d Date) String() string { return fmt.Sprintf("%02d.%02d.%04d", d.Day, d.Month, d.Year) }

// ISO formats d as YYYY-MM-DD.
func (d Date) ISO() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// Valid reports whether d is a real date with year 1..9999 (Gregorian leap years).
func (d Date) Valid() bool { return d.check() == nil }

func (d Date) check() error {
	switch {
	case d.Year < 1 || d.Year > 9999:
		return fmt.Errorf("year %d is outside 1..9999", d.Year)
	case d.Month < 1 || d.Month > 12:
		return fmt.Errorf("month %d is outside 1..12", d.Month)
	case d.Day < 1 || d.Day > DaysIn(d.Year, d.Month):
		return fmt.Errorf("day %d does not exist in %02d.%04d", d.Day, d.Month, d.Year)
	}
	return nil
}

// DaysIn returns the number of days of month (1..12) in year, or 0 for a bad month.
func DaysIn(year, month int) int {
	switch month {
	case 1, 3, 5, 7, 8, 10, 12:
		return 31
	case 4, 6, 9, 11:
		return 30
	case 2:
		if IsLeap(year) {
			return 29
		}
		return 28
	}
	return 0
}

// IsLeap reports whether year is a Gregorian leap year.
func IsLeap(year int) bool { return year%4 == 0 && (year%100 != 0 || year%400 == 0) }

// Numbers are the five numbers in the plan's order. Each is 1..9 when computed;
// a value parsed from an answer may be anything the answer said (0: absent).
type Numbers struct{ Jiva, Dharma, Approach, Method, Karma int }

// Field names one of the five numbers.
type Field int

// The five fields in the plan's order.
const (
	Jiva Field = iota
	Dharma
	Approach
	Method
	Karma
)

// Fields lists the five fields in the plan's order.
var fields = [5]Field{Jiva, Dharma, Approach, Method, Karma}

// Fields returns the five fields in the plan's order.
func Fields() [5]Field { return fields }

var labels = [2][5]string{
	{"Jiva", "Dharma", "Approach", "Method", "Karma"},
	{"Джива", "Дхарма", "Подход", "Метод", "Карма"},
}

// String returns the English label ("Jiva").
func (f Field) String() string {
	if f < Jiva || f > Karma {
		return fmt.Sprintf("Field(%d)", int(f))
	}
	return labels[0][f]
}

// Label returns the field's label in lang: "ru" gives Джива…Карма, anything else Jiva…Karma.
func (f Field) Label(lang string) string {
	if f < Jiva || f > Karma {
		return f.String()
	}
	if lang == "ru" {
		return labels[1][f]
	}
	return labels[0][f]
}

// Get returns the number of field f (0 for an unknown field).
func (n Numbers) Get(f Field) int {
	switch f {
	case Jiva:
		return n.Jiva
	case Dharma:
		return n.Dharma
	case Approach:
		return n.Approach
	case Method:
		return n.Method
	case Karma:
		return n.Karma
	}
	return 0
}

// Set sets the number of field f; an unknown field is ignored.
func (n *Numbers) Set(f Field, v int) {
	switch f {
	case Jiva:
		n.Jiva = v
	case Dharma:
		n.Dharma = v
	case Approach:
		n.Approach = v
	case Method:
		n.Method = v
	case Karma:
		n.Karma = v
	}
}

// Slice returns the five numbers in the plan's order.
func (n Numbers) Slice() [5]int { return [5]int{n.Jiva, n.Dharma, n.Approach, n.Method, n.Karma} }

// String formats n as "2, 3, 1, 8, 5".
func (n Numbers) String() string {
	return fmt.Sprintf("%d, %d, %d, %d, %d", n.Jiva, n.Dharma, n.Approach, n.Method, n.Karma)
}

// DigitalRoot returns the repeated digit sum of n: 1..9 for n ≥ 1, 0 for n ≤ 0.
func DigitalRoot(n int) int {
	if n <= 0 {
		return 0
	}
	return 1 + (n-1)%9
}

// Compute returns the five numbers of d. d should be valid (see ParseDate);
// for an invalid date the numbers still follow the formulas but mean nothing.
func Compute(d Date) Numbers {
	var n Numbers
	n.Jiva = DigitalRoot(d.Day)
	n.Approach = DigitalRoot(d.Month)
	n.Method = DigitalRoot(d.Year)
	n.Dharma = DigitalRoot(n.Jiva + n.Approach)
	n.Karma = DigitalRoot(n.Jiva + n.Dharma + n.Approach + n.Method)
	return n
}

// ErrDate is matched (errors.Is) by every error ParseDate returns.
var ErrDate = errors.New("numerology: invalid date")

// DateError is a date that could not be parsed or does not exist.
type DateError struct {
	Input string // the text given
	Msg   string // what is wrong
}

func (e *DateError) Error() string {
	return fmt.Sprintf("numerology: invalid date %q: %s", e.Input, e.Msg)
}

// Is makes errors.Is(err, ErrDate) true.
func (e *DateError) Is(target error) bool { return target == ErrDate }
