package learn

import (
	"unicode"
	"unicode/utf8"
)

// token is one word of a text: its byte range [b0, b1) and its code point
// range [r0, r1).
type token struct{ b0, b1, r0, r1 int }

// isApostrophe reports whether r joins the letters of a word such as
// "don't" or "O’Brien".
func isApostrophe(r rune) bool { return r == '\'' || r == '\u2019' || r == '\u02bc' }

// isIdeograph reports whether r is written without spaces between words
// (Chinese, Japanese kana): each such character is a token of its own, and
// bigrams then capture the pairs.
func isIdeograph(r rune) bool {
	// No Han or kana below U+2E80: most text never reaches the tables.
	return r >= 0x2e80 && unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana)
}

// isWordRune reports whether r starts or continues a word: a letter or a
// digit.
func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// tokenize appends the words of text to dst: runs of letters and digits
// (with the combining marks that follow them), where an apostrophe between two letters stays inside the word
// ("don't", "l'homme"), and every ideograph is a word of its own. With
// possessive, a trailing "'s" is split off as a word of its own, so that
// "Anna's" holds the word "Anna" (the span suggester wants this; the
// classifier keeps "anna's" whole).
func tokenize(text string, dst []token, possessive bool) []token {
	in := false // inside a word
	var cur token
	r0 := 0 // code point offset of the rune at byte i
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		switch {
		case isIdeograph(r):
			if in {
				cur.b1, cur.r1 = i, r0
				dst = appendToken(dst, text, cur, possessive)
				in = false
			}
			dst = append(dst, token{i, i + size, r0, r0 + 1})
		case isWordRune(r):
			if !in {
				cur = token{b0: i, r0: r0}
				in = true
			}
		case in && unicode.IsMark(r):
			// A combining mark continues a word (decomposed "é"), but
			// starts none (the variation selector after an emoji).
		case in && isApostrophe(r) && nextIsLetter(text[i+size:]):
			// inside a word: keep going
		default:
			if in {
				cur.b1, cur.r1 = i, r0
				dst = appendToken(dst, text, cur, possessive)
				in = false
			}
		}
		i += size
		r0++
	}
	if in {
		cur.b1, cur.r1 = len(text), r0
		dst = appendToken(dst, text, cur, possessive)
	}
	return dst
}

func nextIsLetter(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsLetter(r) && !isIdeograph(r)
}

// appendToken appends t, split before a trailing possessive "'s" when asked.
func appendToken(dst []token, text string, t token, possessive bool) []token {
	if possessive && t.r1-t.r0 > 2 {
		w := text[t.b0:t.b1]
		last, n1 := utf8.DecodeLastRuneInString(w)
		if last == 's' || last == 'S' {
			ap, n2 := utf8.DecodeLastRuneInString(w[:len(w)-n1])
			if isApostrophe(ap) {
				cut := t.b1 - n1 - n2
				dst = append(dst, token{t.b0, cut, t.r0, t.r1 - 2})
				return append(dst, token{cut, t.b1, t.r1 - 2, t.r1})
			}
		}
	}
	return append(dst, t)
}

// appendLower appends the lower-case form of s to dst, with every
// apostrophe written as ', so that "Don’t" and "don't" are one word.
func appendLower(dst []byte, s string) []byte {
	for _, r := range s {
		if isApostrophe(r) {
			dst = append(dst, '\'')
			continue
		}
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
	}
	return dst
}

// FNV-1a, 64 bits. The hash decides which bucket a feature counts in, so it
// is part of the snapshot format: changing it, or the tokenisation, needs a
// new snapshot version.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvBytes(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

func fnvString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

func fnvByte(h uint64, c byte) uint64 {
	h ^= uint64(c)
	return h * fnvPrime
}

// fold reduces a 64-bit hash to a bucket among 1<<bits, mixing the high
// bits in (the low bits of FNV alone are weaker).
func fold(h uint64, bits uint) uint32 {
	return uint32((h ^ h>>32) & (1<<bits - 1))
}
