package core

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/smsrouter/smsrouter/core/message"
)

// Bounds of a message's tags, which routing rules read as tags.NAME.
const (
	MaxTags           = 10
	MaxTagNameLength  = 32
	MaxTagValueLength = 128
)

// TextProblem says what keeps s from being stored as text, or "" when
// nothing does: PostgreSQL refuses NUL and bytes that are not UTF-8 (a
// lone UTF-16 surrogate has no UTF-8 form either), so the API refuses them
// on both drivers.
func TextProblem(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "contains a NUL character (\\u0000)"
	}
	return ""
}

// checkRequest refuses what routing and the store cannot take: text that
// cannot be stored, an unknown kind, tags out of bounds. Errors are
// *InputError.
func checkRequest(req SendRequest) error {
	if err := checkText(req); err != nil {
		return err
	}
	if err := checkKind(req.Kind); err != nil {
		return err
	}
	return checkTags(req.Tags)
}

// checkText refuses a request's texts that cannot be stored or carry no
// text at all.
func checkText(req SendRequest) error {
	for _, f := range []struct{ name, value string }{{"message", req.Message}, {"from", req.From}, {"to", req.To}, {"callback_url", req.CallbackURL}} {
		if why := TextProblem(f.value); why != "" {
			return &InputError{f.name + " " + why}
		}
	}
	if strings.TrimSpace(req.Message) == "" {
		return &InputError{"message is required: the text to send (it was only whitespace)"}
	}
	return nil
}

// checkKind refuses a kind outside message.Kinds; "" is the default, sms.
func checkKind(kind message.Kind) error {
	if kind == "" || kind.Valid() {
		return nil
	}
	kinds := message.Kinds()
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	return &InputError{fmt.Sprintf("kind %q is not a kind of message; use one of %s (or leave it out for %s)", kind, strings.Join(names, ", "), message.KindSMS)}
}

// checkTags bounds the tags: how many, their names' length and letters
// (ASCII letters, digits, _ and -, so that a rule can name them), and
// their values' length and text.
func checkTags(tags map[string]string) error {
	if len(tags) > MaxTags {
		return &InputError{fmt.Sprintf("tags has %d entries; the limit is %d", len(tags), MaxTags)}
	}
	for _, name := range slices.Sorted(maps.Keys(tags)) {
		value := tags[name]
		switch {
		case name == "" || len(name) > MaxTagNameLength || strings.IndexFunc(name, notTagNameRune) >= 0:
			return &InputError{fmt.Sprintf("tag name %q must be 1 to %d ASCII letters, digits, _ or -", name, MaxTagNameLength)}
		case TextProblem(value) != "":
			return &InputError{fmt.Sprintf("tags.%s %s", name, TextProblem(value))}
		case utf8.RuneCountInString(value) > MaxTagValueLength:
			return &InputError{fmt.Sprintf("tags.%s is %d characters long; the limit is %d", name, utf8.RuneCountInString(value), MaxTagValueLength)}
		case strings.IndexFunc(value, unicode.IsControl) >= 0:
			return &InputError{fmt.Sprintf("tags.%s contains a control character; tags are printable text", name)}
		}
	}
	return nil
}

func notTagNameRune(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-')
}
