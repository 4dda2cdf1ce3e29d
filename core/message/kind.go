package message

import "strings"

// Kind is what an application says a message is for, the "kind" of the
// REST API (sms, otp, transactional, marketing); routing rules read it as
// `kind`. Not to be confused with a provider's plugin kind
// (pluginhost.PluginKind) or a sender's kind (SenderKind).
type Kind string

// The kinds of message. A closed list, so that a typo ("marketting") is
// refused instead of silently missing the rules written for the kind.
const (
	KindSMS           Kind = "sms" // the default
	KindOTP           Kind = "otp" // carries a one-time code, which stored texts never show
	KindTransactional Kind = "transactional"
	KindMarketing     Kind = "marketing"
)

// Kinds lists the kinds in the order the REST API names them.
func Kinds() []Kind { return []Kind{KindSMS, KindOTP, KindTransactional, KindMarketing} }

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool {
	switch k {
	case KindSMS, KindOTP, KindTransactional, KindMarketing:
		return true
	}
	return false
}

// SenderKind is what a sender (the "from" a handset shows) is: an
// alphanumeric name, a short code or a phone number.
type SenderKind string

// The kinds of sender, as the REST API lists sender ids.
const (
	SenderAlphanumeric SenderKind = "alphanumeric" // "MyShop"
	SenderShortcode    SenderKind = "shortcode"    // "12345": up to 8 digits
	SenderNumber       SenderKind = "number"       // "+14155550100"
)

// SenderKindOf tells what kind of sender v is from how it is written.
func SenderKindOf(v string) SenderKind {
	digits := strings.TrimPrefix(v, "+")
	for _, r := range digits {
		if r < '0' || r > '9' {
			return SenderAlphanumeric
		}
	}
	if strings.HasPrefix(v, "+") || len(digits) > 8 {
		return SenderNumber
	}
	return SenderShortcode
}
