package otpcode

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxScan bounds the work one text costs: codes sit in the first lines of a
// message, and a hostile 10 KB text must cost no more than a short one.
const maxScan = 2048

// normalize returns the text cut to maxScan bytes (at a rune boundary), with
// every decimal digit of any script (Arabic-Indic, Persian, Burmese,
// Devanagari, full-width, …) folded to its ASCII digit, control characters
// turned into spaces, and letters lower-cased for keyword search. The two
// returned strings have the same byte offsets: they are built rune by rune
// and a rune is never replaced by one of another width in one but not the
// other.
func normalize(text string) (folded, lower string) {
	if len(text) > maxScan {
		cut := maxScan
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		text = text[:cut]
	}
	if isPlainASCII(text) {
		return text, asciiLower(text)
	}
	var f, l strings.Builder
	f.Grow(len(text))
	l.Grow(len(text))
	for _, r := range text {
		switch {
		case r == utf8.RuneError:
			r = ' '
		case r < 0x80:
			if r < 0x20 || r == 0x7f {
				r = ' '
			}
		case unicode.IsDigit(r):
			r = '0' + rune(digitValue(r))
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			r = ' '
		}
		f.WriteRune(r)
		l.WriteRune(lowerSameWidth(r))
	}
	return f.String(), l.String()
}

// lowerSameWidth lower-cases r unless that would change its UTF-8 width
// (as for 'İ'), which would shift the byte offsets the two strings share.
func lowerSameWidth(r rune) rune {
	lr := unicode.ToLower(r)
	if utf8.RuneLen(lr) != utf8.RuneLen(r) {
		return r
	}
	return lr
}

// isPlainASCII reports whether text is printable ASCII, the common case that
// needs no folding.
func isPlainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// digitValue is the value of a decimal digit of any script. Unicode keeps
// every script's digits as runs of ten starting at its zero, and the Nd
// table lists them as ranges that begin at a zero, so the value is the
// offset in its range modulo ten.
func digitValue(r rune) int {
	for _, rg := range unicode.Nd.R16 {
		if rune(rg.Lo) <= r && r <= rune(rg.Hi) {
			return int(r-rune(rg.Lo)) % 10
		}
	}
	for _, rg := range unicode.Nd.R32 {
		if rune(rg.Lo) <= r && r <= rune(rg.Hi) {
			return int(r-rune(rg.Lo)) % 10
		}
	}
	return 0
}
