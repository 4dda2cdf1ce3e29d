package otpcode

import (
	"fmt"
	"regexp"
	"strings"
)

// Pattern is an operator's rule for a sender whose codes the built-in rules
// miss or misread. The regular expression runs on the text with every
// script's digits already folded to ASCII; its first capture group (or
// the whole match when it has none) is the code.
type Pattern struct {
	// Sender is the sender the pattern is for, compared without regard to
	// case; empty means every sender.
	Sender string
	Regexp *regexp.Regexp
}

// Extractor finds codes: an operator's patterns first, then the built-in
// rules. The zero value uses the built-in rules only. It is safe for
// concurrent use.
type Extractor struct {
	patterns []Pattern
}

// New returns an Extractor that tries patterns, in order, before the
// built-in rules.
func New(patterns ...Pattern) (*Extractor, error) {
	for i, p := range patterns {
		if p.Regexp == nil {
			return nil, fmt.Errorf("otp pattern %d (sender %q) has no regular expression", i+1, p.Sender)
		}
		if n := p.Regexp.NumSubexp(); n > 1 {
			return nil, fmt.Errorf("otp pattern %d (sender %q) has %d capture groups; use one for the code, and (?:…) for the others", i+1, p.Sender, n)
		}
	}
	return &Extractor{patterns: patterns}, nil
}

// Extract returns the one-time code in text, as the service's form would
// take it: non-Latin digits in ASCII, "123-456" as "123456", "G-123456" as
// "123456". ok is false when the text carries no code: phone numbers,
// amounts, dates, times, order numbers and coupons are not codes.
func (e *Extractor) Extract(text, sender string) (code string, ok bool) {
	folded, lower := normalize(text)
	if e != nil {
		if code, ok := e.byPattern(folded, sender); ok {
			return code, true
		}
	}
	return builtIn(folded, lower)
}

// Extract finds the code in text with the built-in rules only.
func Extract(text string) (code string, ok bool) {
	var e *Extractor
	return e.Extract(text, "")
}

func (e *Extractor) byPattern(folded, sender string) (string, bool) {
	for _, p := range e.patterns {
		if p.Sender != "" && !strings.EqualFold(p.Sender, sender) {
			continue
		}
		m := p.Regexp.FindStringSubmatch(folded)
		switch {
		case m == nil:
			continue
		case len(m) > 1 && m[1] != "":
			return m[1], true
		case len(m) == 1:
			return m[0], true
		}
	}
	return "", false
}

// builtIn picks the best-scoring candidate that reaches the threshold;
// ties go to the one nearer a code word, then to the first.
func builtIn(folded, lower string) (string, bool) {
	cands := candidates(folded)
	if len(cands) == 0 {
		return "", false
	}
	facts := readFacts(folded, lower)
	best, bestScore, bestDist := -1, threshold-1, 0
	for i, c := range cands {
		if facts.excluded(c) {
			continue
		}
		s := facts.score(c)
		d := facts.codeWordDistance(c)
		if s > bestScore || (s == bestScore && best >= 0 && d < bestDist) {
			best, bestScore, bestDist = i, s, d
		}
	}
	if best < 0 {
		return "", false
	}
	return cands[best].code, true
}
