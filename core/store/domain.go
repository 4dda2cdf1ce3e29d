package store

import "github.com/smsrouter/smsrouter/core/account"

// The store keeps rows; callers get the domain's types. These map one to
// the other.

// domains maps rows to the domain's type, nil staying nil.
func domains[R any, D any](rows []R, domain func(R) D) []D {
	if rows == nil {
		return nil
	}
	out := make([]D, len(rows))
	for i, r := range rows {
		out[i] = domain(r)
	}
	return out
}

func (e LedgerEntry) domain() account.LedgerEntry {
	return account.LedgerEntry{ID: e.ID, AccountID: e.AccountID, Amount: e.Amount, BalanceAfter: e.BalanceAfter, Kind: e.Kind,
		MessageID: e.MessageID, Reason: e.Reason, CreatedAt: e.CreatedAt}
}

func (w Webhook) domain() account.Webhook {
	return account.Webhook{AccountID: w.AccountID, URL: w.URL, Secret: w.Secret, CreatedAt: w.CreatedAt,
		SecretRotatedAt: w.SecretRotatedAt, UpdatedAt: w.UpdatedAt}
}
