package message

import (
	"time"

	"github.com/smsrouter/smsrouter/core/money"
)

// View is a message as the account that sent it sees it.
type View struct {
	ID        string
	Recipient string
	Sender    string
	Segments  int
	Status    Status
	// ErrorCode and ErrorMessage say why a message failed or waits.
	ErrorCode    string
	ErrorMessage string
	CreatedAt    time.Time
	// SendAt is when the application asked the message to be sent; nil
	// for "at once".
	SendAt    *time.Time
	ExpiresAt time.Time
	// SentAt, DeliveredAt and FailedAt are when the host learnt of each
	// status; ProviderStatusAt when the provider says its last reported
	// status was reached, by its own clock.
	SentAt           *time.Time
	DeliveredAt      *time.Time
	FailedAt         *time.Time
	ProviderStatusAt *time.Time
}

// Summary is a message as the account's list shows it: its View with the
// detail that is kept in the message itself (no history, no webhooks).
type Summary struct {
	View
	Kind              Kind
	Encoding          string
	Country           string
	Route             string
	Provider          string
	ProviderMessageID string
	Attempts          int
	// Charged is what the account paid at accept time.
	Charged money.Amount
}

// Filter selects an account's messages to list. Empty fields keep all.
type Filter struct {
	// Status keeps messages in it.
	Status Status
	// Since keeps messages created at or after it, Until those created
	// before it.
	Since, Until time.Time
	// Provider keeps messages that provider took to send;
	// Route those the route matched; Recipient those to that number
	// (E.164); Kind those of that kind.
	Provider  string
	Route     string
	Recipient string
	Kind      Kind
	// Limit caps the page; at most 500.
	Limit int
	// Cursor continues after the page that returned it.
	Cursor string
}
