package core

import (
	"context"
	"fmt"
	"time"

	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/message"
)

// MaxOverviewMinutes bounds how far back the overview counts: its cost is
// the messages of that window.
const MaxOverviewMinutes = 24 * 60

// Overview is what the console's overview charts: messages per minute by
// status and by provider, the queue and the webhook backlog.
type Overview struct {
	// AccountID is the account counted; "" for every account.
	AccountID string
	Since     time.Time
	// Minutes has one entry per minute from Since to now, oldest first,
	// minutes without messages included.
	Minutes []MinuteTotals
	Queue   message.Queue
	Webhook message.WebhookBacklog
}

// MinuteTotals are the messages created in one minute, counted by their
// status now and by their provider ("" before a provider took them).
type MinuteTotals struct {
	Minute     time.Time
	ByStatus   map[message.Status]int
	ByProvider map[string]int
}

// Overview counts the last minutes of accountID's messages, its queue and
// its webhook backlog. A system admin may ask for any account, or for
// every account with accountID ""; other callers get their own account
// whatever they ask (account.ErrForbidden for another's).
func (s *Service) Overview(ctx context.Context, caller account.APIKey, accountID string, minutes int) (Overview, error) {
	minutes = min(max(minutes, 1), MaxOverviewMinutes)
	if !caller.Has(account.PermSystemAdmin) {
		if accountID != "" && accountID != caller.AccountID {
			return Overview{}, fmt.Errorf("%w: this key sees its own account's overview (%s) only; other accounts need a %s key",
				account.ErrForbidden, caller.AccountID, account.PermSystemAdmin)
		}
		accountID = caller.AccountID
	}
	now := s.now().UTC()
	since := now.Truncate(time.Minute).Add(-time.Duration(minutes-1) * time.Minute)
	counts, err := s.store.MessagesPerMinute(ctx, accountID, since)
	if err != nil {
		return Overview{}, err
	}
	q, err := s.store.QueueDepth(ctx, accountID)
	if err != nil {
		return Overview{}, err
	}
	wb, err := s.store.WebhookBacklog(ctx, accountID)
	if err != nil {
		return Overview{}, err
	}
	return Overview{AccountID: accountID, Since: since, Minutes: perMinute(since, minutes, counts), Queue: q, Webhook: wb}, nil
}

// perMinute lays the counts out one entry per minute from since.
func perMinute(since time.Time, minutes int, counts []message.MinuteCount) []MinuteTotals {
	out := make([]MinuteTotals, minutes)
	for i := range out {
		out[i] = MinuteTotals{Minute: since.Add(time.Duration(i) * time.Minute), ByStatus: map[message.Status]int{}, ByProvider: map[string]int{}}
	}
	for _, c := range counts {
		i := int(c.Minute.Sub(since) / time.Minute)
		if i < 0 || i >= minutes {
			continue // created in the minute that began as the count ran
		}
		out[i].ByStatus[c.Status] += c.Count
		out[i].ByProvider[c.Provider] += c.Count
	}
	return out
}
