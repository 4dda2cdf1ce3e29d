package core

import (
	"cmp"
	"context"
	"errors"
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

// APIKeys returns the keys caller may list, oldest first: a system
// admin's choice of account (every account when accountID is empty), an
// account admin's own account's, asked or not. An account admin asking for
// another account gets an error wrapping account.ErrForbidden.
func (s *Service) APIKeys(ctx context.Context, caller account.APIKey, accountID string) ([]account.APIKey, error) {
	if !caller.Has(account.PermSystemAdmin) {
		if accountID != "" && !caller.Manages(accountID) {
			return nil, caller.MayGrant(accountID, nil)
		}
		accountID = caller.AccountID
	}
	return s.store.ListAPIKeys(ctx, accountID)
}

// NewAPIKey is a key a caller asks for.
type NewAPIKey struct {
	// AccountID or AccountName (at most one) name the account; neither
	// means the caller's own. A system admin's AccountName is created
	// when new.
	AccountID   string
	AccountName string
	Name        string
	Permissions []string
	// SMSPerMinute, when positive, is the key's own send rate limit.
	SMSPerMinute int
}

// CreateAPIKey creates the key caller asks for and returns the raw key,
// which exists nowhere else afterwards. A key the caller may not give
// gets an error wrapping account.ErrForbidden (the same whether a named
// account exists or not); an AccountID naming no account one wrapping
// account.ErrNotFound.
func (s *Service) CreateAPIKey(ctx context.Context, caller account.APIKey, k NewAPIKey) (string, account.APIKey, error) {
	accountID, err := s.keyAccount(ctx, caller, k)
	if err != nil {
		return "", account.APIKey{}, err
	}
	if err := caller.MayGrant(accountID, k.Permissions); err != nil {
		return "", account.APIKey{}, err
	}
	raw, key, err := s.store.CreateAPIKey(ctx, accountID, k.Name, k.Permissions)
	if err != nil || k.SMSPerMinute <= 0 {
		return raw, key, err
	}
	key, err = s.store.SetAPIKeySMSPerMinute(ctx, key.ID, k.SMSPerMinute)
	return raw, key, err
}

// keyAccount picks the account a new key is for. An account admin naming
// another account is refused before anything is created.
func (s *Service) keyAccount(ctx context.Context, caller account.APIKey, k NewAPIKey) (string, error) {
	switch {
	case k.AccountID != "":
		return k.AccountID, nil
	case k.AccountName == "":
		return caller.AccountID, nil
	case caller.Has(account.PermSystemAdmin):
		acc, err := s.store.EnsureAccount(ctx, k.AccountName)
		return acc.ID, err
	}
	acc, err := s.store.AccountByName(ctx, k.AccountName)
	if err != nil && !errors.Is(err, account.ErrNotFound) {
		return "", err
	}
	if err != nil || acc.ID != caller.AccountID {
		return "", caller.MayGrant("", nil)
	}
	return acc.ID, nil
}

// RevokeAPIKey revokes a key at once, if caller may: an error wraps
// account.ErrForbidden when not, account.ErrNotFound when there is no
// such key.
func (s *Service) RevokeAPIKey(ctx context.Context, caller account.APIKey, id string) error {
	target, err := s.store.APIKeyByID(ctx, id)
	if err != nil {
		return err
	}
	if err := caller.MayGrant(target.AccountID, target.PermissionList()); err != nil {
		return err
	}
	return s.store.RevokeAPIKey(ctx, target.ID)
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
// messages, in the order they are sent, each with its attempts and the URL
// it goes to; ErrNotFound when the account has no such message.
func (s *Service) MessageWebhooks(ctx context.Context, accountID, messageID string) ([]outbox.Logged, error) {
	if _, err := s.Message(ctx, accountID, messageID); err != nil {
		return nil, err
	}
	hooks, err := s.store.MessageWebhooks(ctx, accountID, messageID)
	if err != nil || len(hooks) == 0 {
		return hooks, err
	}
	// A delivery without a callback URL goes to the account's URL as it
	// is when the delivery is sent: the one set now.
	accountURL := ""
	if w, err := s.store.GetWebhook(ctx, accountID); err == nil {
		accountURL = w.URL
	}
	for i := range hooks {
		hooks[i].URL = cmp.Or(hooks[i].CallbackURL, accountURL)
	}
	return hooks, nil
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
