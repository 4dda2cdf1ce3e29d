package core

import (
	"context"
	"errors"
	"fmt"

	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/egress"
)

// checkCallback refuses a callback_url that is not an http(s) URL, that
// points to an address the egress policy refuses, or that belongs to an
// account with no webhook secret to sign its events with: the application
// could not verify them, so it must set one up first. The refusal is an
// *InputError.
//
// The secret is looked up in the database for every request that carries
// a callback_url, not remembered: a DELETE /api/v1/webhook on any server
// sharing the database must refuse the next send at once, where a cache
// would accept sends whose events are then given up. A bulk send reads it
// once for all its messages.
func (s *Service) checkCallback(ctx context.Context, accountID, callback string) error {
	if callback == "" {
		return nil
	}
	if err := egress.CheckURL(callback, s.egress); err != nil {
		return &InputError{"callback_url " + err.Error()}
	}
	if _, err := s.store.GetWebhook(ctx, accountID); err != nil {
		if errors.Is(err, account.ErrNotFound) {
			return &InputError{"callback_url needs the account's webhook signing secret, and the account has none " +
				"(never set, or removed with DELETE /api/v1/webhook): call PUT /api/v1/webhook first " +
				"(its url may be empty if only per-message callbacks are wanted)"}
		}
		return fmt.Errorf("check callback_url: %w", err)
	}
	return nil
}
