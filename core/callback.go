package core

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/webhook"
)

// callbackReadyFor is how long an account seen with a webhook secret is
// taken to still have one. An account that deletes its webhook within that
// time gets messages accepted with a callback_url whose webhooks are then
// given up; nothing worse.
const callbackReadyFor = time.Minute

// checkCallback refuses a callback_url that is not an http(s) URL, or that
// belongs to an account with no webhook secret to sign its events with:
// the application could not verify them, so it must set one up first. The
// refusal is an *InputError.
func (s *Service) checkCallback(ctx context.Context, accountID, callback string) error {
	if callback == "" {
		return nil
	}
	if err := webhook.CheckURL(callback); err != nil {
		return &InputError{"callback_url " + err.Error()}
	}
	now := s.now()
	if seen, ok := s.callbackReady.Load(accountID); ok && now.Sub(seen.(time.Time)) < callbackReadyFor {
		return nil
	}
	if _, err := s.store.GetWebhook(ctx, accountID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return &InputError{"callback_url needs the account's webhook signing secret, and there is none yet: " +
				"call PUT /api/v1/webhook first (its url may be empty if only per-message callbacks are wanted)"}
		}
		return fmt.Errorf("check callback_url: %w", err)
	}
	s.callbackReady.Store(accountID, now)
	return nil
}
