package evalrun

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Homoglyphs: Latin and Cyrillic letters that look the same. A word written in
// one script with a few look-alikes from the other (a keyboard-layout slip, a
// tokenizer artefact, a deliberate trick) still counts as its own script.
var (
	latinLookalikes    = "aceopxyABCEHKMOPTXi"
	cyrillicLookalikes = "асеорхуАВСЕНКМОРТХі"
)

func isLookalike(r rune) bool {
	return strings.ContainsRune(latinLookalikes, r) || strings.ContainsRune(cyrillicLookalikes, r)
}

// ScriptCount is the letters of a text by script, after homoglyph repair.
type ScriptCount struct {
	Cyrillic int `json:"cyrillic"`
	Latin    int `json:"latin"`
	Other    int `json:"other"` // letters of any other script
	// Homoglyphs are the words that mixed the two scripts; each was counted
	// in the script of its distinctive letters.
	Homoglyphs []Span `json:"homoglyphs,omitempty"`
}

// Span is a byte range of a text.
type Span struct{ Start, End int }

// Letters returns the number of letters counted.
func (s ScriptCount) Letters() int { return s.Cyrillic + s.Latin + s.Other }

// Lang returns "ru" when Cyrillic letters are the majority, "en" when Latin
// ones are, and "" when there are no letters or neither wins.
func (s ScriptCount) Lang() string {
	switch {
	case s.Cyrillic > s.Latin && s.Cyrillic > s.Other:
		return "ru"
	case s.Latin > s.Cyrillic && s.Latin > s.Other:
		return "en"
	}
	return ""
}

// DetectScript counts the letters of text by script. Code (``` fences and
// `inline` spans) is left out, since identifiers are Latin in any language.
// Inside a word that mixes Latin and Cyrillic, look-alike letters are counted
// in the script of the word's distinctive letters.
func DetectScript(text string) ScriptCount {
	text = maskCode(text)
	var sc ScriptCount
	i := 0
	for i < len(text) {
		r, sz := utf8.DecodeRuneInString(text[i:])
		if !unicode.IsLetter(r) {
			i += sz
			continue
		}
		start := i
		var cyr, lat, oth, cyrDistinct, latDistinct int
		for i < len(text) {
			r, sz = utf8.DecodeRuneInString(text[i:])
			if !unicode.IsLetter(r) && !unicode.Is(unicode.Mn, r) {
				break
			}
			switch {
			case unicode.Is(unicode.Cyrillic, r):
				cyr++
				if !isLookalike(r) {
					cyrDistinct++
				}
			case unicode.Is(unicode.Latin, r):
				lat++
				if !isLookalike(r) {
					latDistinct++
				}
			case unicode.IsLetter(r):
				oth++
			}
			i += sz
		}
		sc.Other += oth
		if cyr == 0 || lat == 0 {
			sc.Cyrillic += cyr
			sc.Latin += lat
			continue
		}
		sc.Homoglyphs = append(sc.Homoglyphs, Span{start, i})
		switch {
		case cyrDistinct > 0 && latDistinct == 0:
			sc.Cyrillic += cyr + lat
		case latDistinct > 0 && cyrDistinct == 0:
			sc.Latin += cyr + lat
		case cyrDistinct == 0 && latDistinct == 0 && cyr != lat:
			// Only look-alikes: the majority decides.
			if cyr > lat {
				sc.Cyrillic += cyr + lat
			} else {
				sc.Latin += cyr + lat
			}
		default:
			sc.Cyrillic += cyr
			sc.Latin += lat
		}
	}
	return sc
}

// maskCode replaces fenced and inline code with spaces, keeping byte offsets.
func maskCode(s string) string {
	if !strings.Contains(s, "`") {
		return s
	}
	b := []byte(s)
	blank := func(from, to int) {
		for k := from; k < to; k++ {
			if b[k] != '\n' {
				b[k] = ' '
			}
		}
	}
	i := 0
	for i < len(s) {
		if strings.HasPrefix(s[i:], "```") {
			end := strings.Index(s[i+3:], "```")
			if end < 0 {
				blank(i, len(s))
				break
			}
			blank(i, i+3+end+3)
			i += 3 + end + 3
			continue
		}
		if s[i] == '`' {
			end := strings.IndexAny(s[i+1:], "`\n")
			if end >= 0 && s[i+1+end] == '`' {
				blank(i, i+1+end+1)
				i += end + 2
				continue
			}
		}
		i++
	}
	return string(b)
}

// LanguageScorer passes when the answer is written in Lang: at least MinShare
// (default 0.5, a majority) of its letters, outside code, in Lang's script (Cyrillic for
// ru, Latin for en). An answer without letters (only numbers) passes; an empty
// answer fails.
type LanguageScorer struct {
	Lang     string
	MinShare float64
}

func (s *LanguageScorer) Name() string { return "language" }

func (s *LanguageScorer) Score(answer string) Check {
	c := Check{Check: "language"}
	if strings.TrimSpace(answer) == "" {
		c.Detail = "empty answer"
		c.Evidence = []Evidence{absence("language "+s.Lang, "an answer")}
		return c
	}
	sc := DetectScript(answer)
	for _, h := range sc.Homoglyphs {
		c.Evidence = append(c.Evidence, spanEvidence("mixed-script word (homoglyphs)", answer, h.Start, h.End))
	}
	if sc.Letters() == 0 {
		c.Pass = true
		c.Detail = "no letters outside code: nothing to judge"
		return c
	}
	minShare := s.MinShare
	if minShare == 0 {
		minShare = 0.5
	}
	want := sc.Latin
	script := "Latin"
	if s.Lang == "ru" {
		want, script = sc.Cyrillic, "Cyrillic"
	}
	share := float64(want) / float64(sc.Letters())
	c.Score = &share
	c.Pass = share >= minShare
	c.Detail = fmt.Sprintf("%.0f%% of %d letters %s (want ≥ %.0f%% for %s; Cyrillic %d, Latin %d, other %d",
		100*share, sc.Letters(), script, 100*minShare, s.Lang, sc.Cyrillic, sc.Latin, sc.Other)
	if len(sc.Homoglyphs) > 0 {
		c.Detail += fmt.Sprintf(", %d mixed-script words", len(sc.Homoglyphs))
	}
	c.Detail += ")"
	if !c.Pass {
		// Point at the first stretch in the wrong script.
		if span, ok := firstForeignWord(answer, s.Lang); ok {
			c.Evidence = append(c.Evidence, spanEvidence("language "+s.Lang, answer, span.Start, span.End))
		}
	}
	return c
}

func firstForeignWord(text, lang string) (Span, bool) {
	masked := maskCode(text)
	i := 0
	for i < len(masked) {
		r, sz := utf8.DecodeRuneInString(masked[i:])
		if !unicode.IsLetter(r) {
			i += sz
			continue
		}
		start := i
		for i < len(masked) {
			r, sz = utf8.DecodeRuneInString(masked[i:])
			if !unicode.IsLetter(r) {
				break
			}
			i += sz
		}
		w := DetectScript(masked[start:i]).Lang()
		if w != lang {
			return Span{start, i}, true
		}
	}
	return Span{}, false
}
