package store

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/smsrouter/smsrouter/core/message"
)

// MessageDetail returns everything kept about one message of the account
// (any account's when accountID is ""): the row, its text as the account's
// policy keeps it, and its status history, oldest first. ErrNotFound when
// there is no such message.
func (s *Store) MessageDetail(ctx context.Context, accountID, id string) (message.Detail, error) {
	var m Message
	q := s.db.WithContext(ctx).Where("id = ?", id)
	if accountID != "" {
		q = q.Where("account_id = ?", accountID)
	}
	err := q.Take(&m).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return message.Detail{}, ErrNotFound
	}
	if err != nil {
		return message.Detail{}, fmt.Errorf("get message %s: %w", id, err)
	}
	// A text this server cannot open (its key is not in the ring) does not
	// hide the rest of what is known about the message.
	text, err := s.MessageText(m)
	unreadable := err != nil
	if unreadable {
		text = ""
	}
	changes, err := statusChanges(s.db.WithContext(ctx), m)
	if err != nil {
		return message.Detail{}, err
	}
	return message.Detail{View: m.View(), AccountID: m.AccountID, Text: text, TextUnreadable: unreadable, Kind: m.Kind, Encoding: m.Encoding,
		Country: m.Country, Route: m.Route, Plan: m.PlanEntries(), Candidate: m.Candidate, Why: m.Why, Provider: m.Provider,
		ProviderMessageID: m.ProviderMessageID, Attempts: m.Attempts, Charged: m.Charged, History: history(changes)}, nil
}

func history(changes []StatusChange) []message.Change {
	out := make([]message.Change, len(changes))
	for i, c := range changes {
		out[i] = message.Change{Status: c.Status, Provider: c.Provider, ProviderStatus: c.ProviderStatus, ErrorCode: c.ErrorCode,
			Reason: c.Reason, Applied: c.Applied, At: c.At, ProviderAt: c.ProviderAt}
	}
	return out
}
