package otpcode

import "strings"

// shape is what a candidate looks like, which decides how much evidence it
// needs before it is taken for a code.
type shape int

const (
	plainDigits    shape = iota // 123456
	groupedDigits               // 123-456, 123 456
	prefixedDigits              // G-123456: a service's letters, then the code
	alphanumeric                // A7K9QX
)

// candidate is a token that could be the code, with its byte span in the
// normalised text.
type candidate struct {
	start, end int
	code       string
	shape      shape
}

// word is a maximal run of ASCII letters and digits.
type word struct {
	start, end      int
	digits, letters int
	upper           int
}

func (w word) allDigits() bool { return w.letters == 0 }
func (w word) len() int        { return w.end - w.start }

// words splits s into its ASCII alphanumeric runs. Any other byte,
// including every byte of a non-Latin script, separates them, so a code
// written straight after a Burmese or Chinese word is still found.
func words(s string) []word {
	out := make([]word, 0, 16)
	var cur word
	in := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		isDigit := c >= '0' && c <= '9'
		isUpper := c >= 'A' && c <= 'Z'
		isLetter := isUpper || (c >= 'a' && c <= 'z')
		if !isDigit && !isLetter {
			if in {
				cur.end = i
				out = append(out, cur)
				in = false
			}
			continue
		}
		if !in {
			cur = word{start: i}
			in = true
		}
		if isDigit {
			cur.digits++
		} else {
			cur.letters++
			if isUpper {
				cur.upper++
			}
		}
	}
	if in {
		cur.end = len(s)
		out = append(out, cur)
	}
	return out
}

// numberSeparators may sit between the digit groups of one number: a phone
// number, a date, an amount, a time, or a code written in two halves.
func isNumberSeparator(c byte) bool {
	switch c {
	case ' ', '-', '.', ',', '/', ':':
		return true
	}
	return false
}

// candidates lists the tokens of s that could be a code. A run of digit
// groups joined by single separators is one number: it yields a code only
// when it is two groups of three or four digits joined by a dash or a space
// ("123-456"); longer runs are phone numbers, dates, times or amounts.
func candidates(s string) []candidate {
	ws := words(s)
	out := make([]candidate, 0, 4)
	for i := 0; i < len(ws); i++ {
		w := ws[i]
		if !w.allDigits() {
			if c, ok := alphanumericCandidate(s, w); ok {
				out = append(out, c)
			}
			continue
		}
		j := numberRunEnd(s, ws, i)
		if c, ok := numberCandidate(s, ws, i, j); ok {
			out = append(out, c)
		}
		i = j
	}
	return out
}

// numberRunEnd is the index of the last digit word joined to ws[i] by
// single separators.
func numberRunEnd(s string, ws []word, i int) int {
	j := i
	for j+1 < len(ws) && joined(s, ws[j], ws[j+1]) {
		j++
	}
	return j
}

// joined reports whether b continues the number a ends: one separator
// between them, and for a space at least three digits after it, so that
// "code 4821 2 tries left" keeps its code while "0912 345 678" stays one
// phone number.
func joined(s string, a, b word) bool {
	if !b.allDigits() || b.start != a.end+1 || !isNumberSeparator(s[a.end]) {
		return false
	}
	return s[a.end] != ' ' || b.len() >= 3
}

// numberCandidate turns the digit run ws[i..j] into a candidate, or says
// it cannot be a code.
func numberCandidate(s string, ws []word, i, j int) (candidate, bool) {
	first, last := ws[i], ws[j]
	if first.start > 0 && s[first.start-1] == '+' || areaCode(s, first.start, last.end) {
		return candidate{}, false // +1 415…, (020) 7946…: a phone number
	}
	if last.end < len(s) && s[last.end] == '%' {
		return candidate{}, false
	}
	switch {
	case i == j:
		if first.len() < 4 || first.len() > 8 {
			return candidate{}, false
		}
		if c, ok := prefixedCandidate(s, ws, i); ok {
			return c, true
		}
		return candidate{start: first.start, end: first.end, code: s[first.start:first.end], shape: plainDigits}, true
	case j == i+1 && isGroup(first) && isGroup(last) && (s[first.end] == '-' || s[first.end] == ' '):
		return candidate{start: first.start, end: last.end, code: s[first.start:first.end] + s[last.start:last.end], shape: groupedDigits}, true
	}
	return candidate{}, false
}

// areaCode reports whether s[start:end] is written like the area code of a
// phone number: in brackets, with more digits after them.
func areaCode(s string, start, end int) bool {
	if start == 0 || s[start-1] != '(' || end+2 >= len(s) || s[end] != ')' {
		return false
	}
	next := s[end+1]
	if next == ' ' {
		next = s[end+2]
	}
	return next >= '0' && next <= '9'
}

func isGroup(w word) bool { return w.len() == 3 || w.len() == 4 }

// prefixedCandidate recognises "G-123456": one to three capital letters, a
// dash, then the code. The letters name the service; the code is the
// digits, which is what the service's form asks for.
func prefixedCandidate(s string, ws []word, i int) (candidate, bool) {
	if i == 0 {
		return candidate{}, false
	}
	p, d := ws[i-1], ws[i]
	if p.digits != 0 || p.upper != p.letters || p.letters > 3 || p.end+1 != d.start || s[p.end] != '-' {
		return candidate{}, false
	}
	return candidate{start: p.start, end: d.end, code: s[d.start:d.end], shape: prefixedDigits}, true
}

// alphanumericCandidate accepts words like "A7K9QX": four to ten
// characters, capitals and digits mixed, at least two of each. Units
// ("100MB", "24H") and words with lower-case letters are not codes.
func alphanumericCandidate(s string, w word) (candidate, bool) {
	if w.len() < 4 || w.len() > 10 || w.digits < 2 || w.letters < 2 || w.upper != w.letters {
		return candidate{}, false
	}
	if masked(s[w.start:w.end]) {
		return candidate{}, false // XX4411: a card or account number, masked
	}
	if digitsThenLetters(s[w.start:w.end]) && w.letters <= 3 {
		return candidate{}, false
	}
	return candidate{start: w.start, end: w.end, code: s[w.start:w.end], shape: alphanumeric}, true
}

// digitsThenLetters reports whether t is digits followed by letters only,
// the shape of a quantity with its unit.
func digitsThenLetters(t string) bool {
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	for j := i; j < len(t); j++ {
		if t[j] >= '0' && t[j] <= '9' {
			return false
		}
	}
	return i > 0
}

// masked reports whether t is a number with its first digits hidden by
// X's, as banks print card and account numbers.
func masked(t string) bool {
	i := 0
	for i < len(t) && t[i] == 'X' {
		i++
	}
	return i >= 2 && !strings.ContainsFunc(t[i:], func(r rune) bool { return r < '0' || r > '9' })
}
