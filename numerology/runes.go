package numerology

import "unicode/utf8"

// DecodeRune is utf8.DecodeRuneInString with the two-byte sequences of
// Cyrillic (and Latin-1, Greek) decoded inline: the hot path of scanning
// Russian text for dates and answers.
func DecodeRune(s string) (rune, int) {
	if len(s) >= 2 {
		c0, c1 := s[0], s[1]
		if c0 >= 0xc2 && c0 <= 0xdf && c1&0xc0 == 0x80 {
			return rune(c0&0x1f)<<6 | rune(c1&0x3f), 2
		}
	}
	return utf8.DecodeRuneInString(s)
}
