package core

import (
	"context"
	"time"

	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/inbound"
	"github.com/smsrouter/smsrouter/core/money"
	"github.com/smsrouter/smsrouter/core/outbox"
)

// What the API does with accounts, their keys, credit, webhooks and
// inbound messages. The rules are the account package's; these read and
// change the records.

// Ready returns why the database does not answer, or nil.
func (s *Service) Ready(ctx context.Context) error { return s.store.Ping(ctx) }

// Unavailable reports whether err means the database could not be reached
// or dropped the connection: the same request may succeed shortly.
func (s *Service) Unavailable(err error) bool { return s.store.Unavailable(err) }

// Authenticate returns the live key whose raw value is raw, or an error
// wrapping account.ErrUnauthorized.
func (s *Service) Authenticate(ctx context.Context, raw string) (account.APIKey, error) {
	return s.store.Authenticate(ctx, raw)
}

// TakeRate counts one request in bucket against limit per window, and
// says when to retry when the limit is reached.
func (s *Service) TakeRate(ctx context.Context, bucket string, limit int, window time.Duration) (bool, time.Duration, error) {
	return s.store.TakeRate(ctx, bucket, limit, window)
}

// Account returns the account with the given id.
func (s *Service) Account(ctx context.Context, id string) (account.Account, error) {
	return s.store.AccountByID(ctx, id)
}

// AccountByName returns the account with the given name.
func (s *Service) AccountByName(ctx context.Context, name string) (account.Account, error) {
	return s.store.AccountByName(ctx, name)
}

// EnsureAccount returns the account with the given name, created if new.
func (s *Service) EnsureAccount(ctx context.Context, name string) (account.Account, error) {
	return s.store.EnsureAccount(ctx, name)
}

// SetMessageBodies sets what the account's messages keep of their text
// once final.
func (s *Service) SetMessageBodies(ctx context.Context, accountID string, p account.MessageBodies) (account.Account, error) {
	return s.store.SetMessageBodies(ctx, accountID, p)
}

// Ledger returns a page of the account's ledger, newest first, and the
// cursor of the next page ("" after the last).
func (s *Service) Ledger(ctx context.Context, accountID string, p account.LedgerPage) ([]account.LedgerEntry, string, error) {
	return s.store.Ledger(ctx, accountID, p)
}

// AddCredit adds credit to the account (takes it away when negative),
// with a ledger entry, and returns the entry.
func (s *Service) AddCredit(ctx context.Context, accountID string, amount money.Amount, reason string) (account.LedgerEntry, error) {
	return s.store.AddCredit(ctx, accountID, amount, reason)
}

// APIKeys returns the keys of an account, or of all accounts when
// accountID is empty, oldest first.
func (s *Service) APIKeys(ctx context.Context, accountID string) ([]account.APIKey, error) {
	return s.store.ListAPIKeys(ctx, accountID)
}

// APIKey returns the key with the given id, revoked or not.
func (s *Service) APIKey(ctx context.Context, id string) (account.APIKey, error) {
	return s.store.APIKeyByID(ctx, id)
}

// CreateAPIKey creates a key for the account with perms and, when
// smsPerMinute is positive, its own send rate limit. It returns the raw
// key, which exists nowhere else afterwards.
func (s *Service) CreateAPIKey(ctx context.Context, accountID, name string, perms []string, smsPerMinute int) (string, account.APIKey, error) {
	raw, key, err := s.store.CreateAPIKey(ctx, accountID, name, perms)
	if err != nil || smsPerMinute <= 0 {
		return raw, key, err
	}
	key, err = s.store.SetAPIKeySMSPerMinute(ctx, key.ID, smsPerMinute)
	return raw, key, err
}

// RevokeAPIKey revokes a key at once.
func (s *Service) RevokeAPIKey(ctx context.Context, id string) error {
	return s.store.RevokeAPIKey(ctx, id)
}

// Webhook returns the account's webhook settings.
func (s *Service) Webhook(ctx context.Context, accountID string) (account.Webhook, error) {
	return s.store.GetWebhook(ctx, accountID)
}

// SetWebhook sets the account's webhook URL, generating a secret when the
// account has none or rotate is set; the secret is returned only then.
func (s *Service) SetWebhook(ctx context.Context, accountID, url string, rotate bool) (account.Webhook, string, error) {
	return s.store.SetWebhook(ctx, accountID, url, rotate)
}

// DeleteWebhook removes the account's webhook URL and secret.
func (s *Service) DeleteWebhook(ctx context.Context, accountID string) error {
	return s.store.DeleteWebhook(ctx, accountID)
}

// MessageWebhooks returns the webhooks sent for one of the account's
// messages, in the order they are sent, each with its attempts.
func (s *Service) MessageWebhooks(ctx context.Context, accountID, messageID string) ([]outbox.Logged, error) {
	return s.store.MessageWebhooks(ctx, accountID, messageID)
}

// Inbound returns a page of the account's inbound messages, newest first,
// and the cursor of the next page.
func (s *Service) Inbound(ctx context.Context, accountID string, f inbound.Filter) ([]inbound.Message, string, error) {
	return s.store.ListInbound(ctx, accountID, f)
}

// InboundMessage returns one of the account's inbound messages.
func (s *Service) InboundMessage(ctx context.Context, accountID, id string) (inbound.Message, error) {
	return s.store.GetInbound(ctx, accountID, id)
}
