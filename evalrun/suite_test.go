package evalrun

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sattva/sattva/internal/fixture"
)

func starterSuite(t testing.TB) *Suite {
	t.Helper()
	s, err := LoadSuite(filepath.Join(fixture.Repo(), "evals", "sattva-control.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStarterSuite(t *testing.T) {
	s := starterSuite(t)
	if len(s.Cases) != 30 {
		t.Fatalf("%d cases, want 30", len(s.Cases))
	}
	langs := map[string]int{}
	kinds := map[string]int{}
	for _, c := range s.Cases {
		langs[c.Lang]++
		if got := DetectScript(c.Prompt()).Lang(); got != c.Lang && c.ID != "lang-ru-english-terms" {
			t.Errorf("%s: prompt reads as %q, case says %q", c.ID, got, c.Lang)
		}
		for _, sc := range c.Scorers {
			kinds[sc.Name()]++
		}
	}
	if langs["ru"] != 15 || langs["en"] != 15 {
		t.Errorf("languages %v, want 15 ru and 15 en", langs)
	}
	for _, k := range []string{"numerology", "refusal", "language", "format", "similarity", "contains_all", "contains_any", "not_contains", "regex", "not_regex"} {
		if kinds[k] == 0 {
			t.Errorf("no case uses %s", k)
		}
	}
	if s.Defaults.MaxTokens != 256 || !s.Defaults.ChatTemplate || s.Defaults.Sampling.Seed != 42 {
		t.Errorf("defaults %+v", s.Defaults)
	}
}

func TestSuiteProblems(t *testing.T) {
	src := `name: bad
defaults:
  max_tokens: -3
  sampling: {temperature: hot, seed: 1}
  colour: red
cases:
  - id: a
    lang: ru
    prompt: "Привет"
    expect:
      regex: "(unclosed"
  - id: a
    lang: de
    prompt: hi
    messages: [{role: user, content: hi}]
    expect: {refusal: maybe}
  - lang: en
    prompt: "x"
    expect:
      numerology: "31.02.1990"
      similarity: {min: 2}
      contans_all: [x]
  - id: nothing
    prompt: "Hello there"
`
	_, err := ParseSuite("bad.yaml", []byte(src))
	var se *SuiteError
	if !errors.As(err, &se) || !errors.Is(err, ErrSuite) {
		t.Fatalf("err = %v, want *SuiteError", err)
	}
	if !se.InvalidInput() {
		t.Error("SuiteError must be InvalidInput")
	}
	want := []string{
		"bad.yaml:3: defaults.max_tokens: must be between",
		"bad.yaml:4: defaults.sampling.temperature: want a number",
		"bad.yaml:5: defaults.colour: unknown key",
		"bad.yaml:11: cases[0].expect.regex: bad regular expression",
		"bad.yaml:13: cases[1].lang: must be ru or en",
		"bad.yaml:15: cases[1].messages: give prompt or messages, not both",
		"bad.yaml:16: cases[1].expect.refusal: must be expect, forbid or ask",
		"bad.yaml:12: cases[1].id: duplicate id \"a\" (first at line 7)",
		"bad.yaml:17: cases[2].id: missing",
		"bad.yaml:20: cases[2].expect.numerology:",
		"bad.yaml:21: cases[2].expect.similarity.min: must be between 0 and 1",
		"bad.yaml:21: cases[2].expect.similarity.reference: missing",
		"bad.yaml:22: cases[2].expect.contans_all: unknown expectation",
		"bad.yaml:23: cases[3].expect: missing",
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("missing problem %q in:\n%s", w, msg)
		}
	}
	if len(se.Problems) != len(want) {
		t.Errorf("%d problems, want %d:\n%s", len(se.Problems), len(want), msg)
	}
}

func TestSuiteJSONL(t *testing.T) {
	src := `{"suite": {"name": "j", "defaults": {"max_tokens": 32, "chat_template": false}}}
{"id": "one", "prompt": "Дата 29.01.1988", "expect": {"numerology": "29.01.1988"}}

{"id": "two", "lang": "en", "messages": [{"role": "user", "content": "hi"}], "expect": {"refusal": "forbid", "language": true}}
`
	s, err := ParseSuite("x.jsonl", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "j" || s.Defaults.MaxTokens != 32 || s.Defaults.ChatTemplate || len(s.Cases) != 2 {
		t.Fatalf("suite %+v", s)
	}
	if s.Cases[0].Lang != "ru" || s.Cases[1].Line != 4 {
		t.Errorf("lang %q (want ru from the prompt's script), line %d (want 4)", s.Cases[0].Lang, s.Cases[1].Line)
	}
	bad := `{"id": "one", "prompt": "x", "expect": {"format": {"max_chars": "ten"}}}
{"id": "two", "prompt": "y" "expect": {}}
{"id": "three", "lang": "en", "prompt": "z", "expect": {"regex": ["ok", "(["]}}
`
	_, err = ParseSuite("x.jsonl", []byte(bad))
	for _, w := range []string{
		"x.jsonl:1: cases[0].expect.format.max_chars: want an integer",
		"x.jsonl:2: not valid JSON",
		"x.jsonl:3: cases[1].expect.regex[1]: bad regular expression",
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in %v", w, err)
		}
	}
}

func FuzzParseSuiteJSONL(f *testing.F) {
	f.Add([]byte(`{"id": "one", "prompt": "Дата 29.01.1988", "expect": {"numerology": "29.01.1988", "format": {"only_numbers": true}}}`))
	f.Add([]byte(`{"suite": {"defaults": {"sampling": {"seed": 1}}}}` + "\n" + `{"id":"x","lang":"en","prompt":"p","expect":{"similarity":{"min":0.5,"reference":"r"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSuite("f.jsonl", data)
		if err == nil && len(s.Cases) == 0 {
			t.Fatal("a valid suite without cases")
		}
		if err != nil && !errors.Is(err, ErrSuite) {
			t.Fatalf("error %v is not ErrSuite", err)
		}
	})
}

// TestSuiteCasesCapped: a suite of more than MaxSuiteCases cases is refused
// with a SuiteError instead of being held whole (a 200k-case suite took
// 906 MB).
func TestSuiteCasesCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString("cases:\n")
	for i := range MaxSuiteCases + 1 {
		fmt.Fprintf(&b, "  - {prompt: \"p%d\", expect: {contains: \"x\"}}\n", i)
	}
	if _, err := ParseSuite("big.yaml", []byte(b.String())); !errors.Is(err, ErrSuite) {
		t.Fatalf("yaml: %v", err)
	}
	b.Reset()
	for i := range MaxSuiteCases + 1 {
		fmt.Fprintf(&b, "{\"prompt\":\"p%d\",\"expect\":{\"contains\":\"x\"}}\n", i)
	}
	if _, err := ParseSuite("big.jsonl", []byte(b.String())); !errors.Is(err, ErrSuite) {
		t.Fatalf("jsonl: %v", err)
	}
}
