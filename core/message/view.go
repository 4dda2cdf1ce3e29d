package message

import "time"

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

// Filter selects an account's messages to list.
type Filter struct {
	// Status keeps messages in it; "" keeps all.
	Status Status
	// Since keeps messages created at or after it; zero keeps all.
	Since time.Time
	// Limit caps the page; at most 500.
	Limit int
	// Cursor continues after the page that returned it.
	Cursor string
}
