package message

import "time"

// Outgoing is one message as the host hands it to a provider to send. The
// plugin host translates it to the plugin protocol's sdk.Message.
type Outgoing struct {
	// ID is the host's message id ("msg_…"); the provider's answer names it.
	ID string
	// To is the recipient in E.164 form.
	To string
	// From is the sender; empty means the provider's default.
	From string
	Text string
	// Encoding is the one the segments were counted in: "gsm7" or "ucs2"
	// (core/segment).
	Encoding string
	Segments int
	Kind     Kind
	// ValidUntil is when the message stops being worth delivering; a
	// provider is never handed a message past it.
	ValidUntil time.Time
}

// Outcome is what became of one message a provider was handed: what the
// dispatcher branches on to record it sent, try it again (here or at the
// next candidate) or end it.
type Outcome uint8

// The outcomes. The zero Outcome is none a provider gave (a plugin that
// broke the protocol); it is retried like OutcomeTemporary.
const (
	// OutcomeAccepted: the provider took the message, under
	// SendResult.ProviderMessageID.
	OutcomeAccepted Outcome = iota + 1
	// OutcomeTemporary: the provider could not take the message now
	// (throttled, queue full); it is tried again, at the next candidate at
	// once and at this one no sooner than SendResult.RetryAfter.
	OutcomeTemporary
	// OutcomeUnavailable: the provider cannot take any message now
	// (upstream down, connection lost); nothing is wrong with the message,
	// which goes on to the next candidate, and waits as pending when none
	// is left.
	OutcomeUnavailable
	// OutcomeAccountError: the upstream refused the provider's account
	// (credentials, suspension, credit); handled as OutcomeUnavailable,
	// and the plugin host reports the provider unhealthy for a while.
	OutcomeAccountError
	// OutcomeRefused: the provider will never take this message; why is
	// SendResult.Refusal. The message fails, or goes on when its candidate
	// fails over on that refusal.
	OutcomeRefused
	// OutcomeExpired: the message's validity passed before the provider
	// could submit it; it is recorded expired, never retried.
	OutcomeExpired
)

// String returns the outcome's lower-case name.
func (o Outcome) String() string {
	switch o {
	case OutcomeAccepted:
		return "accepted"
	case OutcomeTemporary:
		return "temporary"
	case OutcomeUnavailable:
		return "unavailable"
	case OutcomeAccountError:
		return "account_error"
	case OutcomeRefused:
		return "refused"
	case OutcomeExpired:
		return "expired"
	}
	return "invalid"
}

// ProviderDown reports whether the outcome says the provider, not the
// message, is at fault, so that the message fails over and waits as pending
// when no candidate is left: OutcomeUnavailable and OutcomeAccountError.
func (o Outcome) ProviderDown() bool {
	return o == OutcomeUnavailable || o == OutcomeAccountError
}

// SendResult is a provider's answer for one Outgoing message. The plugin
// host returns one per message, in the messages' order.
type SendResult struct {
	MessageID string
	Outcome   Outcome
	// ProviderMessageID is the provider's id for an accepted message;
	// delivery reports are matched to the message by it.
	ProviderMessageID string
	// Code is the provider's own result code, and Reason its explanation,
	// kept for operators.
	Code   string
	Reason string
	// RetryAfter, on a result that is tried again, is how long the
	// provider asked the host to wait before it is asked again.
	RetryAfter time.Duration
	// Sender, on an accepted message that had no sender, is the one the
	// provider used (its default); empty when unknown.
	Sender string
	// Refusal, on OutcomeRefused, says why; empty means RefusalRejected
	// (read it with RefusalOf).
	Refusal Refusal
}

// RefusalOf is the refusal a result stands for: its Refusal, or
// RefusalRejected when the provider gave none.
func (r SendResult) RefusalOf() Refusal {
	if r.Refusal == "" {
		return RefusalRejected
	}
	return r.Refusal
}
