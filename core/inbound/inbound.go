package inbound

import "time"

// Message is one message a handset sent to a number of ours, as a
// provider reported it.
type Message struct {
	ID string
	// AccountID is the account the message was reported to; empty when
	// no account owns the number.
	AccountID         string
	Provider          string
	ProviderMessageID string
	Sender            string
	Recipient         string
	Text              string
	ReceivedAt        time.Time
}

// Filter selects inbound messages to list.
type Filter struct {
	// Since keeps messages received at or after it; zero keeps all.
	Since time.Time
	// Until keeps messages received before it; zero keeps all.
	Until time.Time
	// From and To keep messages from that sender and to that number, as
	// the provider reported them (E.164 for phone numbers); "" keeps all.
	From, To string
	// Limit caps the page; at most 500.
	Limit int
	// Cursor continues after the page that returned it.
	Cursor string
}
