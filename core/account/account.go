package account

import (
	"fmt"
	"time"

	"github.com/smsrouter/smsrouter/core/money"
)

// Account owns API keys and messages: one application or customer.
type Account struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	// Balance is the account's credit in the configured currency; it
	// moves only together with a ledger entry, and equals their sum.
	Balance money.Amount `json:"balance"`
	// CreditLimit is how far below zero the balance may go: nil means no
	// limit (postpaid: sends are never refused, charges still recorded),
	// 0 means prepaid.
	CreditLimit *money.Amount `json:"credit_limit"`
	// LowBalance is the account's own balance.low threshold; nil means
	// the configured one.
	LowBalance *money.Amount `json:"low_balance,omitempty"`
	// MessageBodies is what the account's messages keep of their text
	// once final ("full" for accounts made before the setting existed).
	MessageBodies MessageBodies `json:"message_bodies"`
}

// MessageBodies is what an account's messages keep of their text once no
// provider needs it any more. Until then every text is kept sealed with the
// server key, for the dispatcher to send.
type MessageBodies string

const (
	// BodiesFull keeps the whole text, sealed. The default.
	BodiesFull MessageBodies = "full"
	// BodiesMasked keeps the text with every digit replaced by '*' (codes,
	// amounts, account numbers), in the clear.
	BodiesMasked MessageBodies = "masked"
	// BodiesNone keeps no text.
	BodiesNone MessageBodies = "none"
)

// ParseMessageBodies checks a policy name; the error lists the choices.
func ParseMessageBodies(s string) (MessageBodies, error) {
	switch p := MessageBodies(s); p {
	case BodiesFull, BodiesMasked, BodiesNone:
		return p, nil
	}
	return "", fmt.Errorf("message_bodies %q is not one of %q (keep the text, sealed), %q (keep it with digits masked) or %q (keep none)",
		s, BodiesFull, BodiesMasked, BodiesNone)
}
