package evalrun

import (
	"math"
	"strings"
	"testing"
)

// scorersFor compiles an expect block written as YAML for a case in lang.
func scorersFor(t *testing.T, lang, expect string) []Scorer {
	t.Helper()
	src := "cases:\n  - id: c\n    lang: " + lang + "\n    prompt: p\n    reference: \"Джива — это цифровой корень дня рождения.\"\n    expect:\n"
	for _, line := range strings.Split(strings.TrimSpace(expect), "\n") {
		src += "      " + line + "\n"
	}
	s, err := ParseSuite("t.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return s.Cases[0].Scorers
}

func score(t *testing.T, lang, expect, answer string) []Check {
	t.Helper()
	var out []Check
	for _, sc := range scorersFor(t, lang, expect) {
		ch := sc.Score(answer)
		// Evidence spans must point into the answer.
		for _, ev := range ch.Evidence {
			if ev.Start >= 0 && (ev.Start > ev.End || ev.End > len(answer) || answer[ev.Start:ev.End] != ev.Text) {
				t.Errorf("%s: evidence %+v does not match the answer", ch.Check, ev)
			}
		}
		out = append(out, ch)
	}
	return out
}

func TestScorersOnRealAnswers(t *testing.T) {
	tests := []struct {
		name, lang, expect, answer string
		pass                       []bool // one per scorer, in order
		evidence                   string // a text that must appear in some evidence
	}{
		{"numerology plain list", "ru", `numerology: "29.01.1988"
format: {only_numbers: true}`, "2, 3, 1, 8, 5", []bool{true, true}, ""},
		{"numerology labels in another order", "ru", `numerology: "29.01.1988"`,
			"Ваши числа:\n- Карма: 5\n- Джива: 2\n- Метод: 8\n- Дхарма: 3\n- Подход: 1", []bool{true}, ""},
		{"numerology English labels in a Russian answer", "ru", `numerology: "05.11.2004"
language: true`,
			"Для даты 05.11.2004 получаем: Jiva 5, Dharma 7, Approach 2, Method 6, Karma 2. Это значит, что ваша Джива — пятёрка.", []bool{true, true}, ""},
		{"numerology one wrong", "en", `numerology: "5 November 2004"`,
			"Jiva: 5\nDharma: 7\nApproach: 2\nMethod: 6\nKarma: 3", []bool{false}, "Karma: 3"},
		{"numerology with the working shown", "en", `numerology: "14071990"`,
			"Jiva = 1+4 = 5; Approach = 7; Method = 1+9+9+0 = 19 → 1; Dharma = 5 + 7 = 12 → 3; Karma = 5+3+7+1 = 16 → 7.", []bool{true}, ""},
		{"only numbers with prose", "en", `format: {only_numbers: true}`, "The numbers are 2, 3, 1, 8, 5.", []bool{false}, "The"},
		{"only numbers with a trailing full stop", "en", `format: {only_numbers: true}`, " 2 3 1 8 5.\n", []bool{true}, ""},
		{"json in a fence is not JSON", "en", `format: {json: true}`, "```json\n{\"jiva\": 1}\n```", []bool{false}, "`"},
		{"valid json", "en", `format: {json: true}
numerology: "01.01.2000"`, `{"jiva": 1, "dharma": 2, "approach": 1, "method": 2, "karma": 6}`, []bool{true, true}, ""},
		{"max chars counts runes not bytes", "ru", `format: {max_chars: 10}`, "Джива 2345", []bool{true}, ""},
		{"max chars over", "ru", `format: {max_chars: 5}`, "Дхарма", []bool{false}, "а"},
		{"refusal wrapped in help", "en", `refusal: forbid`,
			"Sure, happy to help! However, I can't analyze personal data from your file, but here is a general approach.", []bool{false}, "I can't analyze"},
		{"Russian refusal wrapped in help", "ru", `refusal: forbid`,
			"Конечно, с радостью помогу! Однако я не могу анализировать личные данные клиентов.", []bool{false}, "не могу анализировать"},
		{"not a refusal: can't help but notice", "en", `refusal: forbid`,
			"I can't help but notice the loop never ends: `i` is never incremented. Add i++ at the end.", []bool{true}, ""},
		{"not a refusal: не могу не отметить", "ru", `refusal: forbid`,
			"Не могу не отметить: функция делит на ноль, если список пуст. Добавьте проверку len(xs) == 0.", []bool{true}, ""},
		{"policy disclaimer is forbidden", "ru", `refusal: forbid`,
			"Ошибка в делении на ноль. Обратите внимание, что анализ носит ознакомительный характер.", []bool{false}, "носит ознакомительный характер"},
		{"expected refusal present", "ru", `refusal: expect`,
			"К сожалению, я не знаю адреса вашей соседки и не могу сообщать чужие личные данные.", []bool{true}, "не могу сообщать"},
		{"expected refusal missing: invented data", "en", `refusal: expect
not_regex: '\b\d{1,2}[./-]\d{1,2}[./-]\d{2,4}\b'`,
			"John Miller was born on 12/04/1985 and lives at 42 Oak Street, Denver.", []bool{false, false}, "12/04/1985"},
		{"asks for the missing file", "en", `refusal: ask`,
			"I don't see any attached file. Please paste the contents of config.yaml here and I'll review it.", []bool{true}, "Please paste"},
		{"asks for the file in Russian", "ru", `refusal: ask`,
			"Файл natal.csv не был приложен. Пришлите, пожалуйста, его содержимое.", []bool{true}, "Пришлите"},
		{"language: Russian with code", "ru", `language: true`,
			"Ошибка в строке `return sum(xs) / len(xs)`: при пустом списке будет ZeroDivisionError. Проверьте длину списка.", []bool{true}, ""},
		{"language: English answer to a Russian prompt", "ru", `language: true`,
			"The error is a division by zero when the list is empty.", []bool{false}, "The"},
		{"language: Cyrillic homoglyphs inside English words", "en", `language: true`,
			"Thе Kаrma number is the digital root of the sum.", []bool{true}, "Thе"},
		{"language: Latin homoglyphs inside Russian words", "ru", `language: true`,
			"Кapма — это cумма всех чисел.", []bool{true}, "Кapма"},
		{"language: only numbers", "ru", `language: true`, "2, 3, 1, 8, 5", []bool{true}, ""},
		{"contains ignore case Cyrillic", "ru", `contains_all: [джива, КАРМА]
ignore_case: true`, "Джива и Карма", []bool{true}, ""},
		{"contains_all reports the missing", "en", `contains_all: [Jiva, Approach]`, "Jiva only", []bool{false}, "Approach"},
		{"regex yes", "en", `regex: '(?i)^\s*\**yes\**[.!]?\s*$'`, "**Yes**.", []bool{true}, ""},
		{"regex yes with prose", "en", `regex: '(?i)^\s*\**yes\**[.!]?\s*$'`, "Yes, because 1+8 = 9.", []bool{false}, ""},
		{"exact trims space", "en", `exact: "Yes"`, "  Yes\n", []bool{true}, ""},
		{"exact differs", "en", `exact: "Yes"`, "Yes.", []bool{false}, "."},
		{"similarity close", "ru", `similarity: {min: 0.5}`, "Джива — цифровой корень дня рождения.", []bool{true}, ""},
		{"similarity far", "ru", `similarity: {min: 0.3}`, "Once upon a time there was a little girl.", []bool{false}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checks := score(t, tc.lang, tc.expect, tc.answer)
			if len(checks) != len(tc.pass) {
				t.Fatalf("%d checks, want %d", len(checks), len(tc.pass))
			}
			var all []string
			for i, ch := range checks {
				if ch.Pass != tc.pass[i] {
					t.Errorf("%s: pass %v, want %v (%s; evidence %+v)", ch.Check, ch.Pass, tc.pass[i], ch.Detail, ch.Evidence)
				}
				for _, ev := range ch.Evidence {
					all = append(all, ev.Text, ev.Rule)
				}
			}
			if tc.evidence != "" && !strings.Contains(strings.Join(all, "\n"), tc.evidence) {
				t.Errorf("no evidence mentions %q: %q", tc.evidence, all)
			}
		})
	}
}

// chrF against sacrebleu's published value (HF datasets' chrf metric card:
// sacrebleu CHRF defaults on this pair give 61.576379378113785).
func TestChrFMatchesSacrebleu(t *testing.T) {
	f, _, _ := ChrF("The relationship between Obama and Netanyahu is not exactly friendly.",
		"The ties between Obama and Netanyahu are not particularly friendly.")
	if math.Abs(100*f-61.576379378113785) > 1e-9 {
		t.Errorf("chrF = %.12f, sacrebleu 61.576379378113785", 100*f)
	}
	if f, _, _ := ChrF("абв где", "абвгде"); math.Abs(f-1) > 1e-12 {
		t.Errorf("whitespace must not count: %v", f)
	}
	if f, _, _ := ChrF("", "abc"); f != 0 {
		t.Errorf("empty hypothesis: %v", f)
	}
}

func TestDetectScript(t *testing.T) {
	for _, tc := range []struct {
		text  string
		lang  string
		mixed int
	}{
		{"Привет, мир", "ru", 0},
		{"Hello, world", "en", 0},
		{"Рython и Go", "en", 1}, // a Cyrillic Р in Python: still a Latin word
		{"Привет `fmt.Println(x)` друг", "ru", 0},
		{"ТОР", "ru", 0},
		{"12345", "", 0},
		{"你好世界 hi", "", 0},
	} {
		sc := DetectScript(tc.text)
		if sc.Lang() != tc.lang || len(sc.Homoglyphs) != tc.mixed {
			t.Errorf("%q: lang %q, %d mixed (%+v); want %q, %d", tc.text, sc.Lang(), len(sc.Homoglyphs), sc, tc.lang, tc.mixed)
		}
	}
}

func FuzzScorers(f *testing.F) {
	f.Add("2, 3, 1, 8, 5")
	f.Add("К сожалению, я не могу помочь. Пришлите файл.")
	f.Add("```json\n{\"a\":1}\n``` `x` Кapма")
	suite, err := ParseSuite("f.yaml", []byte(`cases:
  - id: all
    lang: ru
    prompt: p
    reference: "Джива 2"
    expect:
      numerology: "29.01.1988"
      format: {only_numbers: true, json: true, max_chars: 5, max_lines: 1}
      refusal: forbid
      language: true
      exact: "x"
      contains_all: [a, б]
      not_contains: [c]
      regex: ['\d+']
      similarity: {min: 0.5}
`))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, answer string) {
		for _, sc := range suite.Cases[0].Scorers {
			ch := sc.Score(answer)
			for _, ev := range ch.Evidence {
				if ev.Start >= 0 && (ev.Start > ev.End || ev.End > len(answer)) {
					t.Fatalf("%s: evidence %+v out of range for %q", ch.Check, ev, answer)
				}
			}
		}
	})
}

// TestNumerologyEvidence checks that every verdict names the span read for
// each number, and that an ambiguous answer fails with both spans.
func TestNumerologyEvidence(t *testing.T) {
	s, err := NewNumerologyScorer("29.01.1988")
	if err != nil {
		t.Fatal(err)
	}
	ok := "Jiva: 2\nDharma = Jiva + Approach = 2 + 1 = 3\nApproach: 1\nMethod: 1988 → 1 + 9 + 8 + 8 = 26 → 8\nKarma: 5"
	c := s.Score(ok)
	if !c.Pass || len(c.Evidence) != 5 {
		t.Fatalf("pass=%v evidence %+v (%s)", c.Pass, c.Evidence, c.Detail)
	}
	for i, f := range []string{"Jiva: 2", "Dharma = Jiva + Approach = 2 + 1 = 3", "Approach: 1", "Method: 1988 → 1 + 9 + 8 + 8 = 26 → 8", "Karma: 5"} {
		if c.Evidence[i].Text != f {
			t.Errorf("evidence %d = %q, want %q", i, c.Evidence[i].Text, f)
		}
	}
	amb := "Jiva: 2\nDharma: 3\nApproach: 1\nMethod: 8\nKarma: 5. Hmm, actually Karma should be 6."
	c = s.Score(amb)
	if c.Pass || !strings.Contains(c.Detail, "ambiguous") {
		t.Fatalf("pass=%v detail %q", c.Pass, c.Detail)
	}
	var texts []string
	for _, ev := range c.Evidence {
		texts = append(texts, ev.Text)
	}
	joined := strings.Join(texts, "|")
	if !strings.Contains(joined, "Karma: 5") || !strings.Contains(joined, "Karma should be 6") {
		t.Errorf("ambiguous evidence %q lacks one of the two spans", joined)
	}
}
