package account

import (
	"fmt"
	"time"

	"github.com/smsrouter/smsrouter/core/money"
)

// LedgerEntry is one movement of an account's credit. Entries are only
// ever added, and the account's balance always equals their sum.
type LedgerEntry struct {
	// ID orders an account's entries (and pages them).
	ID        uint64 `json:"id"`
	AccountID string `json:"-"`
	// Amount is signed: charges are negative, top-ups and refunds positive.
	Amount money.Amount `json:"amount"`
	// BalanceAfter is the account's balance once this entry was applied.
	BalanceAfter money.Amount `json:"balance_after"`
	Kind         string       `json:"kind"`
	MessageID    string       `json:"message_id,omitempty"`
	Reason       string       `json:"reason,omitempty"`
	CreatedAt    time.Time    `json:"created_at"`
}

// LedgerPage selects a page of an account's ledger.
type LedgerPage struct {
	// Limit caps the page; at most 500.
	Limit int
	// Cursor continues after the page that returned it.
	Cursor string
}

// InsufficientCreditError refuses an acceptance the account cannot pay
// for; nothing of it is stored.
type InsufficientCreditError struct {
	AccountID string
	// Messages is how many messages the acceptance holds, and Needed
	// what they cost.
	Messages int
	Needed   money.Amount
	// Balance is the account's balance when it was refused, and
	// CreditLimit how far below zero the account may go.
	Balance     money.Amount
	CreditLimit money.Amount
}

func (e *InsufficientCreditError) Error() string {
	s := fmt.Sprintf("insufficient credit: the messages cost %s and the account's balance is %s", e.Needed, e.Balance)
	if e.CreditLimit > 0 {
		s += fmt.Sprintf(" with a credit limit of %s", e.CreditLimit)
	}
	return s
}
