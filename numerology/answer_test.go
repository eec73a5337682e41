package numerology

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseAnswer(t *testing.T) {
	seed1 := Numbers{2, 3, 1, 8, 5}
	seed2 := Numbers{5, 7, 2, 6, 2}
	tests := []struct {
		name string
		text string
		want Numbers
	}{
		{"plan RU output", "Джива: 2\nДхарма: 3\nПодход: 1\nМетод: 8\nКарма: 5", seed1},
		{"plan EN output", "Jiva: 5\nDharma: 7\nApproach: 2\nMethod: 6\nKarma: 2", seed2},
		{"em dash", "Джива — 2\nДхарма — 3\nПодход — 1\nМетод — 8\nКарма — 5", seed1},
		{"one line, commas", "Jiva 5, Dharma 7, Approach 2, Method 6, Karma 2.", seed2},
		{"other order", "Карма: 5\nМетод: 8\nДжива: 2\nПодход: 1\nДхарма: 3", seed1},
		{"case endings", "Число Дживы равно 2, Дхармы — 3, Подхода — 1, Метода — 8, а Кармы — 5.", seed1},
		{"markdown", "**Джива:** 2\n**Дхарма:** 3\n**Подход:** 1\n**Метод:** 8\n**Карма:** 5", seed1},
		{"numbered lines", "1. Jiva: 5\n2. Dharma: 7\n3. Approach: 2\n4. Method: 6\n5. Karma: 2", seed2},
		{"English labels in Russian text", "Ваши числа: Jiva = 2; Dharma = 3; Approach = 1; Method = 8; Karma = 5.", seed1},
		{"Russian labels in English text", "Your numbers: Джива 5, Дхарма 7, Подход 2, Метод 6, Карма 2", seed2},
		{"bare list", "2, 3, 1, 8, 5", seed1},
		{"bare list after prose and date", "Для даты 29.01.1988 числа такие: 2, 3, 1, 8, 5", seed1},
		{"bare list spaces", "5 7 2 6 2", seed2},
		{"labels then bare list", "Джива, Дхарма, Подход, Метод, Карма: 2, 3, 1, 8, 5", seed1},
		{"with meanings", "Джива: 2 — мягкость\nДхарма: 3 — радость\nПодход: 1 — воля\nМетод: 8 — сила\nКарма: 5 — свобода", seed1},
		{"chains", "Jiva = 2+9 = 11 → 2\nDharma = 2 + 1 = 3\nApproach: 1\nMethod = dr(1988) = 8\nKarma = 2+3+1+8 = 14 → 5", seed1},
		{"parenthesised aside", "Джива (день рождения): 2\nДхарма (путь): 3\nПодход (месяц): 1\nМетод (год): 8\nКарма (итог): 5", seed1},
		{"date in label aside", "Jiva (29.01.1988 → day 29): 2\nDharma: 3\nApproach: 1\nMethod: 8\nKarma: 5", seed1},
		{"homoglyphs", "Дживa: 2\nДxарма: 3\nПoдход: 1\nMeтод: 8\nKарма: 5", seed1},
		{"zero-width inside label", "Джи\u200bва: 2\nДхарма: 3\nПодход: 1\nМетод: 8\nКар\u00adма: 5", seed1},
		{"upper case", "ДЖИВА: 2\nДХАРМА: 3\nПОДХОД: 1\nМЕТОД: 8\nКАРМА: 5", seed1},
		{"is", "Your Jiva is 5, your Dharma is 7, Approach is 2, Method is 6 and Karma is 2.", seed2},
		{"both languages per label", "Джива (Jiva): 2\nДхарма (Dharma): 3\nПодход (Approach): 1\nМетод (Method): 8\nКарма (Karma): 5", seed1},
		{"markdown table", "| Число | Значение |\n|---|---|\n| Джива | 2 |\n| Дхарма | 3 |\n| Подход | 1 |\n| Метод | 8 |\n| Карма | 5 |", seed1},
		{"header then list", "Джива, Дхарма, Подход, Метод, Карма\n2, 3, 1, 8, 5", seed1},
		{"long chains", "Джива = 2 + 9 = 11 → 1 + 1 = 2\nДхарма = 2 + 1 = 3\nПодход = 0 + 1 = 1\nМетод: 8 (1+9+8+8 = 26 → 8)\nКарма: 5", seed1},
		{"hyphen and semicolons", "Jiva - 5; Dharma - 7; Approach - 2; Method - 6; Karma - 2", seed2},
		{"bold values", "**Jiva**: **5**, **Dharma**: **7**, **Approach**: **2**, **Method**: **6**, **Karma**: **2**", seed2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, spans, err := ParseAnswer(tt.text)
			if err != nil {
				t.Fatalf("ParseAnswer: %v", err)
			}
			if got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if len(spans) != 5 {
				t.Fatalf("%d spans, want 5", len(spans))
			}
			for i, s := range spans {
				if s.Field != Field(i) {
					t.Errorf("span %d is %v", i, s.Field)
				}
				if s.Start < 0 || s.Start > s.ValueStart || s.ValueStart >= s.ValueEnd || s.ValueEnd > s.End || s.End > len(tt.text) {
					t.Fatalf("span %+v out of order", s)
				}
				if v := atoiDigits(tt.text[s.ValueStart:s.ValueEnd]); v != s.Value || v != tt.want.Get(s.Field) {
					t.Errorf("span %+v: text %q", s, tt.text[s.ValueStart:s.ValueEnd])
				}
			}
		})
	}
}

func TestParseAnswerErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		want error
	}{
		{"nothing", "Я не знаю.", ErrNoNumbers},
		{"date only", "Дата рождения 29.01.1988", ErrNoNumbers},
		{"four of five", "Jiva: 2\nDharma: 3\nApproach: 1\nMethod: 8", ErrIncomplete},
		{"conflict", "Jiva: 2\nDharma: 3\nApproach: 1\nMethod: 8\nKarma: 5\nJiva: 4", ErrConflict},
		{"bare list of six", "2, 3, 1, 8, 5, 6", ErrNoNumbers},
		{"label contradicts list", "Джива: 4\nИтого: 2, 3, 1, 8, 5", ErrConflict},
		{"label without number", "Метод расчёта прост.", ErrNoNumbers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ParseAnswer(tt.text)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	n, spans, err := ParseAnswer("Jiva: 2\nKarma: 7")
	if !errors.Is(err, ErrIncomplete) || n.Jiva != 2 || n.Karma != 7 || len(spans) != 2 {
		t.Errorf("partial: %v %v %v", n, spans, err)
	}
}

func FuzzParseAnswer(f *testing.F) {
	f.Add("Джива: 2\nДхарма: 3\nПодход: 1\nМетод: 8\nКарма: 5")
	f.Add("2, 3, 1, 8, 5")
	f.Add("Jiva = 2+9 = 11 → 2 (")
	f.Fuzz(func(t *testing.T, s string) {
		_, spans, _ := ParseAnswer(s)
		for _, sp := range spans {
			if sp.Start < 0 || sp.End > len(s) || sp.ValueStart < sp.Start || sp.ValueEnd > sp.End {
				t.Fatalf("bad span %+v for %q", sp, s)
			}
		}
	})
}

func TestReadAnswerShapes(t *testing.T) {
	seed1 := Numbers{2, 3, 1, 8, 5}
	tests := []struct {
		name, text string
		verdict    Verdict
		want       Numbers
	}{
		{"list without spaces", "2,3,1,8,5", Committed, seed1},
		{"decimal is no value", "Jiva: 2,5", NoNumbers, Numbers{}},
		{"time is no value", "Karma at 12:30", NoNumbers, Numbers{}},
		{"slash alternative", "Jiva: 2\nDharma: 3\nApproach: 1\nMethod: 8\nKarma: 5/6", Ambiguous, Numbers{2, 3, 1, 8, 5}},
		{"sentence break pairs nothing", "Джива 2, Дхарма 3, Подход 1, Метод 8, Карма 5. Важен Подход. Число 7 здесь не встречается.", Committed, seed1},
		{"number word not standalone", "Karma is one of the five numbers.", NoNumbers, Numbers{}},
		{"unreduced alternative", "Jiva: 2 (or 11 before reduction)\nDharma: 3\nApproach: 1\nMethod: 8\nKarma: 5", Committed, seed1},
		{"heading", "## Karma\n5 — freedom\n## Jiva\n2\n## Dharma\n3\n## Approach\n1\n## Method\n8", Committed, seed1},
		{"label operand annotation", "Jiva 2, Dharma 3, Approach 1, Method 8\nKarma = Jiva(2) + Dharma(3) + Approach(1) + Method(8) = 14 → 5", Committed, seed1},
		{"input word", "Method comes from the year 1988.\nJiva 2, Dharma 3, Approach 1, Method 8, Karma 5", Committed, seed1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ReadAnswer(tt.text)
			if r.Verdict != tt.verdict {
				t.Fatalf("verdict %v (%v), want %v", r.Verdict, r.Err(), tt.verdict)
			}
			if tt.want != (Numbers{}) && r.Numbers != tt.want {
				t.Errorf("numbers %v, want %v", r.Numbers, tt.want)
			}
		})
	}
}

// TestReadAnswerHostileIsLinear: long answers made of what the reader looks
// back and forth over are read in time proportional to their length. At
// 200,000 repeats a quadratic step would take minutes; linear reading takes
// well under a second, so the bound holds on a loaded machine too. The race
// detector slows the reader several times over (11.8 s for "Karma: 5 or "
// on a loaded two-core machine), so its bound is raceSlowdown times longer;
// a quadratic step still takes far beyond it.
func TestReadAnswerHostileIsLinear(t *testing.T) {
	for _, unit := range []string{"Джива, ", "Karma (", "Jiva + ", "| Jiva ", "2, ", "Karma: 5 or ", "Jiva Dharma ", "Jiva = 1 + "} {
		text := strings.Repeat(unit, 200_000)
		t0 := time.Now()
		ReadAnswer(text)
		if d := time.Since(t0); d > raceSlowdown*5*time.Second {
			t.Errorf("%q × 200000 (%d bytes): %v", unit, len(text), d)
		}
	}
}
