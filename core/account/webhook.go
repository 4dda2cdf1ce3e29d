package account

import "time"

// Webhook is an account's webhook settings: where its events go and the
// secret they are signed with (in the clear: signing needs it).
type Webhook struct {
	AccountID string
	// URL receives the account's events; empty means only messages sent
	// with their own callback_url produce webhooks.
	URL       string
	Secret    string
	CreatedAt time.Time
	// SecretRotatedAt is when the current secret was generated.
	SecretRotatedAt time.Time
	UpdatedAt       time.Time
}
