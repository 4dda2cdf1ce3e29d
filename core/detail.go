package core

import (
	"context"

	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/outbox"
)

// MessageDetail returns everything kept about a message with the webhooks
// sent for it: one of the caller's account, or any account's for a system
// admin. ErrNotFound when the caller may not see such a message.
func (s *Service) MessageDetail(ctx context.Context, caller account.APIKey, id string) (message.Detail, []outbox.Logged, error) {
	scope := caller.AccountID
	if caller.Has(account.PermSystemAdmin) {
		scope = ""
	}
	d, err := s.store.MessageDetail(ctx, scope, id)
	if err != nil {
		return message.Detail{}, nil, err
	}
	hooks, err := s.MessageWebhooks(ctx, d.AccountID, id)
	if err != nil {
		return message.Detail{}, nil, err
	}
	return d, hooks, nil
}
