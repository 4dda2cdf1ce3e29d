package intake

import (
	"time"

	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/money"
)

// Message is a message the service accepted, validated and routed, to be
// stored queued.
type Message struct {
	ID        string
	AccountID string
	Recipient string
	Sender    string
	// Text is the text to send; the store keeps of it what the account's
	// policy says.
	Text string
	// Mask lists parts of Text (a one-time code) that the stored text
	// never shows, whatever the account's policy.
	Mask     []string
	Encoding string
	Segments int
	Kind     message.Kind
	Country  string
	// Route and Plan are the routing decision: the route that matched and
	// the candidate providers in order.
	Route string
	Plan  []message.PlanEntry
	// Why is the decision's compact explanation (routing.Why as JSON):
	// the rule values read and why each candidate was kept or dropped.
	Why string
	// NextAttemptAt is when the first attempt is due; SendAt is when the
	// application asked it to be sent (nil for "at once").
	NextAttemptAt time.Time
	SendAt        *time.Time
	// HoldReason, when set, says why the first attempt waits until
	// NextAttemptAt: the route holds the message ("held for quiet hours
	// until 06:00 Asia/Yangon"). It is the queued message's error message,
	// with message.CodeHeld, and its first status change.
	HoldReason string
	// Tags are the application's tags of a scheduled message, kept so
	// that it is routed again at its send time with them; nil otherwise.
	Tags      map[string]string
	ExpiresAt time.Time
	CreatedAt time.Time
	// Charged is what the account pays for the message.
	Charged money.Amount
	// CallbackURL, when set, receives this message's webhooks instead of
	// the account's webhook URL.
	CallbackURL string
}

// Candidates returns the provider names of the message's plan, in order.
func (m *Message) Candidates() []string { return message.Providers(m.Plan) }

// Acceptance is newly accepted messages and what must be stored with them,
// all or nothing.
type Acceptance struct {
	Messages []*Message
	// Duplicates are fingerprints of messages (one per message, or none)
	// claimed until DuplicateUntil; an unexpired earlier claim refuses the
	// whole acceptance with a *message.DuplicateError.
	Duplicates     []DuplicateClaim
	DuplicateUntil time.Time
	// Idempotency, when set, is stored; an answer already stored for the
	// key refuses the acceptance with a *ReplayError carrying it.
	Idempotency *Idempotency
}

// DuplicateClaim marks a message (account, recipient, text) as sent, to
// refuse accidental repeats.
type DuplicateClaim struct {
	AccountID   string
	Fingerprint string
	MessageID   string
}

// Idempotency is the answer given to a request sent with an
// Idempotency-Key, replayed when the same key comes again.
type Idempotency struct {
	AccountID string
	Key       string
	// RequestHash identifies the request, so that the key reused for a
	// different request is told apart from a retry.
	RequestHash string
	// Code and Body are the answer given, as the caller made it.
	Code      AnswerCode
	Body      string
	ExpiresAt time.Time
}

// AnswerCode is the code a caller gave its answer to a request sent with
// an Idempotency-Key (the HTTP API keeps its status there). It is kept and
// given back as it was: core and the store never read it, so that they
// speak no transport's words.
type AnswerCode int

// ReplayError means the Idempotency-Key was used before; Record is the
// answer stored then.
type ReplayError struct {
	Record Idempotency
}

func (e *ReplayError) Error() string { return "idempotency key " + e.Record.Key + " was used before" }

// OTPCode is a one-time code sent to a phone: only a salted hash of the
// code is kept.
type OTPCode struct {
	ID        string
	AccountID string
	Phone     string
	MessageID string
	Salt      string
	Hash      string
	ExpiresAt time.Time
}
