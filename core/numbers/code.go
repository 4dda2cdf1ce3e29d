package numbers

import "regexp"

// CodeFinder finds the one-time code in the text of a message from
// sender: ok is false when the text carries none. Messages to leased
// numbers that carry one cause an otp_received webhook.
type CodeFinder func(text, sender string) (code string, ok bool)

// placeholderCode is a run of 4 to 8 ASCII digits standing alone.
var placeholderCode = regexp.MustCompile(`(?:^|[^0-9])([0-9]{4,8})(?:[^0-9]|$)`)

// FindCode is the CodeFinder used until the server is given another: the
// first run of 4 to 8 digits standing alone. It is a placeholder for the
// full extraction (non-Latin digits, alphanumeric codes, avoiding amounts,
// dates and phone numbers), which the server wires in when present.
func FindCode(text, _ string) (string, bool) {
	if len(text) > 4096 {
		text = text[:4096]
	}
	m := placeholderCode.FindStringSubmatch(text)
	if m == nil {
		return "", false
	}
	return m[1], true
}
