package provider

import (
	"time"

	"github.com/smsrouter/smsrouter/core/message"
)

// Balance is a provider account's credit as its plugin reported it.
type Balance struct {
	Amount   float64
	Currency string
}

// SenderID is a sender the provider account may use.
type SenderID struct {
	// Value is the sender as it appears on the handset: "MyShop", "12345",
	// "+14155550100".
	Value string
	// Kind is the kind the provider gave; empty when it gave none (then
	// message.SenderKindOf(Value) says).
	Kind message.SenderKind
}

// OutboxMessage is a message a provider that sends nothing for real (the
// sandbox) took, kept for people testing against it to read.
type OutboxMessage struct {
	MessageID         string // the host's message id
	ProviderMessageID string
	To                string
	// From is the sender used: the message's, or the provider's default.
	From     string
	Text     string
	Kind     message.Kind
	Segments int
	SentAt   time.Time
}
