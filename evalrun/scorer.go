package evalrun

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Scorer checks one expectation against an answer. Scorers are pure: the same
// answer always gets the same Check, and they are safe for concurrent use.
type Scorer interface {
	// Name is the expectation's key in the suite file: "contains_all", "refusal", …
	Name() string
	Score(answer string) Check
}

// Check is one scorer's verdict on one answer.
type Check struct {
	Check    string     `json:"check"`
	Pass     bool       `json:"pass"`
	Score    *float64   `json:"score,omitempty"` // a graded score in [0,1] where the check has one (similarity)
	Detail   string     `json:"detail"`
	Evidence []Evidence `json:"evidence,omitempty"`
}

// Evidence is what a verdict rests on: the rule that fired or failed and the
// span of the answer it concerns.
type Evidence struct {
	Rule  string `json:"rule"`
	Start int    `json:"start"` // byte offsets into the answer (UTF-8); -1 when the evidence is an absence
	End   int    `json:"end"`
	Text  string `json:"text,omitempty"` // answer[Start:End], or what was missing
}

func spanEvidence(rule, answer string, start, end int) Evidence {
	return Evidence{Rule: rule, Start: start, End: end, Text: answer[start:end]}
}

func absence(rule, what string) Evidence {
	return Evidence{Rule: rule, Start: -1, End: -1, Text: what}
}

var expectKeys = "exact, contains_all, contains_any, not_contains, ignore_case, regex, not_regex, numerology, refusal, language, format, similarity"

// expect compiles a case's expect mapping into scorers, in the order of the file.
func (d *decoder) expect(n *yaml.Node, field string, c *Case) []Scorer {
	if !d.isMap(n, field) {
		return nil
	}
	// ignore_case applies to the text matchers wherever it is written.
	ignoreCase := false
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "ignore_case" {
			ignoreCase, _ = d.boolean(n.Content[i+1], field+".ignore_case")
		}
	}
	var out []Scorer
	d.eachKey(n, field, func(key string, k, v *yaml.Node) {
		f := field + "." + key
		var sc Scorer
		switch key {
		case "ignore_case":
		case "exact":
			if s, ok := d.str(v, f); ok {
				sc = &exactScorer{want: s, ignoreCase: ignoreCase}
			}
		case "contains_all", "contains_any", "not_contains":
			if list := d.strList(v, f, true); len(list) > 0 {
				sc = &containsScorer{mode: key, subs: list, res: literalRegexps(list, ignoreCase)}
			}
		case "regex", "not_regex":
			sc = d.expectRegex(v, f, key == "not_regex")
		case "numerology":
			sc = d.expectNumerology(v, f)
		case "refusal":
			sc = d.expectRefusal(v, f)
		case "language":
			sc = d.expectLanguage(v, f, c)
		case "format":
			sc = d.expectFormat(v, f)
		case "similarity":
			sc = d.expectSimilarity(v, f, c)
		default:
			d.addf(k, f, "unknown expectation (want %s)", expectKeys)
		}
		if sc != nil {
			out = append(out, sc)
		}
	})
	if len(out) == 0 && len(n.Content) > 0 && len(d.probs) == 0 {
		d.addf(n, field, "no expectation to check")
	}
	return out
}

// The expect… methods below each compile the value v of one key of expect
// (field f names it in problems). They return nil, having added a
// problem, where v asks for nothing or is wrong.

// expectRegex compiles regex or not_regex (negate): one pattern or a list.
func (d *decoder) expectRegex(v *yaml.Node, f string, negate bool) Scorer {
	srcs := d.strList(v, f, true)
	sc := &regexScorer{negate: negate}
	for i, src := range srcs {
		re, err := regexp.Compile(src)
		if err != nil {
			ef := f
			if v.Kind == yaml.SequenceNode {
				ef = fmt.Sprintf("%s[%d]", f, i)
			}
			d.addf(v, ef, "bad regular expression: %v", err)
			continue
		}
		sc.res = append(sc.res, re)
	}
	if len(sc.res) == len(srcs) && len(srcs) > 0 {
		return sc
	}
	return nil
}

// expectNumerology compiles numerology: a date, or a mapping {date: …}.
func (d *decoder) expectNumerology(v *yaml.Node, f string) Scorer {
	var date string
	var ok bool
	dn := v
	if v.Kind == yaml.MappingNode {
		d.eachKey(v, f, func(key string, k, v *yaml.Node) {
			if key != "date" {
				d.addf(k, f+"."+key, "unknown key (want date)")
				return
			}
			dn = v
			date, ok = d.scalarText(v, f+".date")
		})
		if dn == v {
			d.addf(v, f+".date", "missing")
		}
	} else {
		date, ok = d.scalarText(v, f)
	}
	if !ok {
		return nil
	}
	sc, err := NewNumerologyScorer(date)
	if err != nil {
		d.addf(dn, f, "%v", err)
		return nil
	}
	return sc
}

// expectRefusal compiles refusal: expect, forbid or ask.
func (d *decoder) expectRefusal(v *yaml.Node, f string) Scorer {
	s, ok := d.str(v, f)
	if !ok {
		return nil
	}
	m := RefusalMode(s)
	if m != RefusalExpect && m != RefusalForbid && m != RefusalOrAsk {
		d.addf(v, f, "must be expect, forbid or ask, not %q", s)
		return nil
	}
	return &RefusalScorer{Mode: m}
}

// expectLanguage compiles language: true (the case's language), ru or en.
func (d *decoder) expectLanguage(v *yaml.Node, f string, c *Case) Scorer {
	lang := ""
	if v.ShortTag() == "!!bool" {
		b, ok := d.boolean(v, f)
		if !ok || !b {
			return nil
		}
		lang = c.Lang
	} else if s, ok := d.str(v, f); ok {
		lang = strings.ToLower(s)
		if lang != "ru" && lang != "en" {
			d.addf(v, f, "must be true, ru or en, not %q", s)
			return nil
		}
	} else {
		return nil
	}
	return &LanguageScorer{Lang: lang}
}

// expectFormat compiles format: {only_numbers, json, max_chars, max_lines}.
func (d *decoder) expectFormat(v *yaml.Node, f string) Scorer {
	fs := &formatScorer{}
	d.eachKey(v, f, func(key string, k, v *yaml.Node) {
		ff := f + "." + key
		switch key {
		case "only_numbers":
			fs.onlyNumbers, _ = d.boolean(v, ff)
		case "json":
			fs.json, _ = d.boolean(v, ff)
		case "max_chars", "max_lines":
			if m, ok := d.integer(v, ff); ok {
				if m < 1 {
					d.addf(v, ff, "must be at least 1")
				}
				if key == "max_chars" {
					fs.maxChars = m
				} else {
					fs.maxLines = m
				}
			}
		default:
			d.addf(k, ff, "unknown key (want only_numbers, json, max_chars, max_lines)")
		}
	})
	if !fs.onlyNumbers && !fs.json && fs.maxChars == 0 && fs.maxLines == 0 {
		d.addf(v, f, "asks for nothing (set only_numbers, json, max_chars or max_lines)")
		return nil
	}
	return fs
}

// expectSimilarity compiles similarity: {min, reference}; the reference
// defaults to the case's.
func (d *decoder) expectSimilarity(v *yaml.Node, f string, c *Case) Scorer {
	ss := &SimilarityScorer{Reference: c.Reference}
	sawMin := false
	d.eachKey(v, f, func(key string, k, v *yaml.Node) {
		ff := f + "." + key
		switch key {
		case "min":
			sawMin = true
			if x, ok := d.float(v, ff); ok {
				if x < 0 || x > 1 {
					d.addf(v, ff, "must be between 0 and 1")
				}
				ss.Min = x
			}
		case "reference":
			ss.Reference, _ = d.str(v, ff)
		default:
			d.addf(k, ff, "unknown key (want min, reference)")
		}
	})
	if !sawMin && v.Kind == yaml.MappingNode {
		d.addf(v, f+".min", "missing")
	}
	if strings.TrimSpace(ss.Reference) == "" && v.Kind == yaml.MappingNode {
		d.addf(v, f+".reference", "missing: give similarity.reference or the case's reference")
	}
	return ss
}

func literalRegexps(subs []string, ignoreCase bool) []*regexp.Regexp {
	out := make([]*regexp.Regexp, len(subs))
	for i, s := range subs {
		p := regexp.QuoteMeta(s)
		if ignoreCase {
			p = "(?i)" + p
		}
		out[i] = regexp.MustCompile(p) // a quoted literal always compiles
	}
	return out
}

// --- exact ---

type exactScorer struct {
	want       string
	ignoreCase bool
}

func (s *exactScorer) Name() string { return "exact" }

func (s *exactScorer) Score(answer string) Check {
	got := strings.TrimSpace(answer)
	want := strings.TrimSpace(s.want)
	ok := got == want || (s.ignoreCase && strings.EqualFold(got, want))
	c := Check{Check: s.Name(), Pass: ok}
	if ok {
		c.Detail = "answer equals the expected text"
		return c
	}
	// Point at the first difference.
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	for i > 0 && !utf8.RuneStart(got[min(i, len(got)-1)]) {
		i--
	}
	off := strings.Index(answer, got)
	end := min(len(got), i+40)
	for end < len(got) && !utf8.RuneStart(got[end]) {
		end++
	}
	c.Detail = fmt.Sprintf("answer differs from %q at byte %d", truncate(want, 80), i)
	c.Evidence = []Evidence{spanEvidence("exact", answer, off+i, off+end)}
	return c
}

// --- contains_all / contains_any / not_contains ---

type containsScorer struct {
	mode string // contains_all, contains_any, not_contains
	subs []string
	res  []*regexp.Regexp
}

func (s *containsScorer) Name() string { return s.mode }

func (s *containsScorer) Score(answer string) Check {
	c := Check{Check: s.mode}
	var found, missing []string
	for i, re := range s.res {
		loc := re.FindStringIndex(answer)
		if loc == nil {
			missing = append(missing, s.subs[i])
			if s.mode == "contains_all" {
				c.Evidence = append(c.Evidence, absence(fmt.Sprintf("contains %q", s.subs[i]), s.subs[i]))
			}
			continue
		}
		found = append(found, s.subs[i])
		if s.mode != "contains_all" {
			c.Evidence = append(c.Evidence, spanEvidence(fmt.Sprintf("contains %q", s.subs[i]), answer, loc[0], loc[1]))
		}
	}
	switch s.mode {
	case "contains_all":
		c.Pass = len(missing) == 0
		if c.Pass {
			c.Detail = fmt.Sprintf("all %d found", len(s.subs))
		} else {
			c.Detail = fmt.Sprintf("missing %d of %d: %s", len(missing), len(s.subs), quoteList(missing))
		}
	case "contains_any":
		c.Pass = len(found) > 0
		if c.Pass {
			c.Detail = "found " + quoteList(found)
		} else {
			c.Detail = "none of " + quoteList(s.subs) + " found"
			c.Evidence = []Evidence{absence("contains any", strings.Join(s.subs, " | "))}
		}
	case "not_contains":
		c.Pass = len(found) == 0
		if c.Pass {
			c.Detail = "none of the forbidden texts found"
		} else {
			c.Detail = "forbidden text found: " + quoteList(found)
		}
	}
	return c
}

// --- regex / not_regex ---

type regexScorer struct {
	negate bool
	res    []*regexp.Regexp
}

func (s *regexScorer) Name() string {
	if s.negate {
		return "not_regex"
	}
	return "regex"
}

func (s *regexScorer) Score(answer string) Check {
	c := Check{Check: s.Name(), Pass: true}
	var bad []string
	for _, re := range s.res {
		loc := re.FindStringIndex(answer)
		rule := "/" + re.String() + "/"
		switch {
		case loc != nil && s.negate:
			c.Pass = false
			bad = append(bad, rule)
			c.Evidence = append(c.Evidence, spanEvidence(rule, answer, loc[0], loc[1]))
		case loc == nil && !s.negate:
			c.Pass = false
			bad = append(bad, rule)
			c.Evidence = append(c.Evidence, absence(rule, "no match"))
		case loc != nil:
			c.Evidence = append(c.Evidence, spanEvidence(rule, answer, loc[0], loc[1]))
		}
	}
	switch {
	case c.Pass && s.negate:
		c.Detail = "no forbidden pattern matched"
	case c.Pass:
		c.Detail = "every pattern matched"
	case s.negate:
		c.Detail = "forbidden pattern matched: " + strings.Join(bad, ", ")
	default:
		c.Detail = "no match for " + strings.Join(bad, ", ")
	}
	return c
}

// --- format ---

type formatScorer struct {
	onlyNumbers bool
	json        bool
	maxChars    int
	maxLines    int
}

func (s *formatScorer) Name() string { return "format" }

// numberSeparator reports runes allowed between numbers in an "only numbers"
// answer: spaces, line breaks, commas, semicolons, slashes, dashes and a
// trailing full stop.
func numberSeparator(r rune) bool {
	return unicode.IsSpace(r) || strings.ContainsRune(",;/-–—.|", r)
}

func (s *formatScorer) Score(answer string) Check {
	c := Check{Check: "format", Pass: true}
	var notes []string
	trimmed := strings.TrimSpace(answer)
	off := strings.Index(answer, trimmed)
	if s.onlyNumbers {
		digits := 0
		bad := -1
		for i, r := range trimmed {
			switch {
			case r >= '0' && r <= '9':
				digits++
			case numberSeparator(r):
			default:
				if bad < 0 {
					bad = i
				}
			}
		}
		switch {
		case bad >= 0:
			c.Pass = false
			end := bad
			for end < len(trimmed) && !numberSeparator(rune(trimmed[end])) && end-bad < 40 {
				_, sz := utf8.DecodeRuneInString(trimmed[end:])
				end += sz
			}
			notes = append(notes, "not only numbers")
			c.Evidence = append(c.Evidence, spanEvidence("only_numbers", answer, off+bad, off+end))
		case digits == 0:
			c.Pass = false
			notes = append(notes, "no number at all")
			c.Evidence = append(c.Evidence, absence("only_numbers", "a number"))
		default:
			notes = append(notes, "only numbers")
		}
	}
	if s.json {
		var v any
		if err := json.Unmarshal([]byte(trimmed), &v); err != nil {
			c.Pass = false
			ev := absence("json", err.Error())
			var se *json.SyntaxError
			if errors.As(err, &se) && int(se.Offset) <= len(trimmed) {
				at := max(0, int(se.Offset)-1)
				for at > 0 && !utf8.RuneStart(trimmed[at]) {
					at--
				}
				end := min(len(trimmed), at+20)
				for end < len(trimmed) && !utf8.RuneStart(trimmed[end]) {
					end++
				}
				ev = spanEvidence("json: "+err.Error(), answer, off+at, off+end)
			}
			notes = append(notes, "not valid JSON")
			c.Evidence = append(c.Evidence, ev)
		} else {
			notes = append(notes, "valid JSON")
		}
	}
	if s.maxChars > 0 {
		n := utf8.RuneCountInString(trimmed)
		if n > s.maxChars {
			c.Pass = false
			cut := off
			for range s.maxChars {
				_, sz := utf8.DecodeRuneInString(answer[cut:])
				cut += sz
			}
			notes = append(notes, fmt.Sprintf("%d characters > %d", n, s.maxChars))
			c.Evidence = append(c.Evidence, Evidence{Rule: fmt.Sprintf("max_chars %d", s.maxChars), Start: cut, End: off + len(trimmed), Text: truncate(answer[cut:off+len(trimmed)], 80)})
		} else {
			notes = append(notes, fmt.Sprintf("%d characters", n))
		}
	}
	if s.maxLines > 0 {
		n := 0
		if trimmed != "" {
			n = strings.Count(trimmed, "\n") + 1
		}
		if n > s.maxLines {
			c.Pass = false
			notes = append(notes, fmt.Sprintf("%d lines > %d", n, s.maxLines))
			c.Evidence = append(c.Evidence, absence(fmt.Sprintf("max_lines %d", s.maxLines), fmt.Sprintf("%d lines", n)))
		} else {
			notes = append(notes, fmt.Sprintf("%d lines", n))
		}
	}
	c.Detail = strings.Join(notes, "; ")
	return c
}

// --- helpers ---

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// truncate shortens s to at most n runes, marking the cut with "…".
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for range n {
		_, sz := utf8.DecodeRuneInString(s[i:])
		i += sz
	}
	return s[:i] + "…"
}
