package otpcode

import (
	"strings"
)

// Scores: a candidate is taken when its score reaches threshold. A
// six-digit number is a code only with a code word near it or when it is
// the whole text; other shapes need more.
const (
	threshold = 3
	nearWord  = 48  // bytes between a code word and the candidate
	farWord   = 120 // still the same sentence or the next
	closeWord = 12
	wholeText = 3
	retriever = 1 // "<#>": Android's SMS Retriever marks code texts so
	promoHint = 4
	yearHint  = 2
)

var baseScore = map[shape]int{
	plainDigits:    1,
	groupedDigits:  2,
	prefixedDigits: 4,
	alphanumeric:   -1,
}

// textFacts are read once per text and shared by its candidates.
type textFacts struct {
	folded, lower string
	codeWordAt    []span // where code words are, in lower
	promo         bool
	retriever     bool
}

type span struct{ start, end int }

func readFacts(folded, lower string) textFacts {
	f := textFacts{folded: folded, lower: lower}
	f.codeWordAt = findCodeWords(lower)
	for _, p := range promoWords {
		if strings.Contains(lower, p) {
			f.promo = true
			break
		}
	}
	f.retriever = strings.Contains(lower, "<#>")
	return f
}

// findCodeWords lists every occurrence of a code word in lower.
func findCodeWords(lower string) []span {
	out := asciiCodeWords(lower, nil)
	if isPlainASCII(lower) {
		return out
	}
	for _, kw := range otherCodeWords {
		for from := 0; from < len(lower); {
			i := strings.Index(lower[from:], kw)
			if i < 0 {
				break
			}
			out = append(out, span{from + i, from + i + len(kw)})
			from += i + len(kw)
		}
	}
	return out
}

// asciiCodeWords finds the ASCII code words in one pass over lower's
// words: a word is a code word when it is one, or when it starts with one
// longer than four letters ("verification" in "verifications", but "pin"
// not in "pinned").
func asciiCodeWords(lower string, out []span) []span {
	for i := 0; i < len(lower); {
		if !isASCIIAlnum(lower[i]) {
			i++
			continue
		}
		j := i
		for j < len(lower) && isASCIIAlnum(lower[j]) {
			j++
		}
		if kw, ok := asciiCodeWordAt(lower[i:j]); ok {
			out = append(out, span{i, i + len(kw)})
		}
		i = j
	}
	return out
}

func asciiCodeWordAt(w string) (string, bool) {
	key := w
	if len(key) > 4 {
		key = key[:4]
	}
	for _, kw := range asciiCodeWordsByStart[key] {
		if kw == w || len(kw) > 4 && strings.HasPrefix(w, kw) {
			return kw, true
		}
	}
	return "", false
}

func isASCIIAlnum(c byte) bool { return isASCIILetter(c) || c >= '0' && c <= '9' }

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' }

// score weighs the evidence that c is the code.
func (f *textFacts) score(c candidate) int {
	s := baseScore[c.shape]
	if c.shape == plainDigits && len(c.code) == 6 {
		s++
	}
	d := f.codeWordDistance(c)
	switch {
	case d <= closeWord:
		s += 5
	case d <= nearWord:
		s += 4
	case d <= farWord:
		s += 2
	}
	if strings.TrimSpace(f.folded) == f.folded[c.start:c.end] {
		s += wholeText
	}
	if f.retriever && c.shape != alphanumeric {
		s += retriever
	}
	if f.promo {
		s -= promoHint
	}
	if isYear(c) && d > closeWord {
		s -= yearHint
	}
	return s
}

// excluded reports whether c is an amount, a quantity or a labelled number
// of another kind, whatever words
// are near it.
func (f *textFacts) excluded(c candidate) bool {
	if notCodeWords[f.previousWord(c.start)] {
		return true // "Order #882910", "A/C 4411", "Ref: AB12"
	}
	before := strings.TrimRight(f.lower[:c.start], " ")
	after := strings.TrimLeft(f.lower[c.end:], " ")
	for _, cur := range currencyWords {
		if strings.HasSuffix(before, cur) && boundaryBefore(before, len(before)-len(cur)) {
			return true
		}
		if strings.HasPrefix(after, cur) && boundaryAfter(after, len(cur)) {
			return true
		}
	}
	for _, u := range unitWords {
		if strings.HasPrefix(after, u) && boundaryAfter(after, len(u)) {
			return true
		}
	}
	return false
}

func boundaryBefore(s string, i int) bool { return i == 0 || !isASCIILetter(s[i-1]) }
func boundaryAfter(s string, i int) bool  { return i >= len(s) || !isASCIILetter(s[i]) }

// codeWordDistance is how many bytes separate c from the nearest code
// word, or a large number when there is none.
func (f *textFacts) codeWordDistance(c candidate) int {
	best := 1 << 30
	for _, w := range f.codeWordAt {
		var d int
		switch {
		case w.end <= c.start:
			d = c.start - w.end
		case w.start >= c.end:
			d = w.start - c.end
		default:
			d = 0 // the word is inside the candidate's span, as "OTP-1234"
		}
		if d < best {
			best = d
		}
	}
	return best
}

// previousWord is the ASCII word before byte i, skipping the punctuation
// that usually sits between a label and its number ("Order #", "A/C:").
func (f *textFacts) previousWord(i int) string {
	s := f.lower
	for i > 0 && !isASCIILetter(s[i-1]) && !(s[i-1] >= '0' && s[i-1] <= '9') && s[i-1] < 0x80 {
		i--
	}
	end := i
	for i > 0 && isASCIILetter(s[i-1]) {
		i--
	}
	return s[i:end]
}

func isYear(c candidate) bool {
	if c.shape != plainDigits || len(c.code) != 4 {
		return false
	}
	return strings.HasPrefix(c.code, "19") || strings.HasPrefix(c.code, "20")
}
