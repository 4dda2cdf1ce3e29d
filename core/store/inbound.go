package store

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/smsrouter/smsrouter/core/inbound"
)

// ListInbound returns a page of the inbound messages that belong to the
// account, newest first, and the cursor of the next page ("" after the
// last). Pages follow (received_at, id) like ListMessages, so messages
// arriving while a client pages do not shift the pages it has yet to read.
func (s *Store) ListInbound(ctx context.Context, accountID string, f inbound.Filter) ([]inbound.Message, string, error) {
	if f.Limit <= 0 || f.Limit > 500 {
		return nil, "", fmt.Errorf("list inbound messages: limit %d is not within 1..500", f.Limit)
	}
	q := s.db.WithContext(ctx).Where("account_id = ?", accountID)
	if !f.Since.IsZero() {
		q = q.Where("received_at >= ?", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		q = q.Where("received_at < ?", f.Until.UTC())
	}
	if f.From != "" {
		q = q.Where("sender = ?", f.From)
	}
	if f.To != "" {
		q = q.Where("recipient = ?", f.To)
	}
	if f.Cursor != "" {
		at, id, err := decodeCursor(f.Cursor)
		if err != nil {
			return nil, "", err
		}
		q = q.Where("(received_at < ? OR (received_at = ? AND id < ?))", at, at, id)
	}
	var out []InboundMessage
	if err := q.Order("received_at DESC, id DESC").Limit(f.Limit + 1).Find(&out).Error; err != nil {
		return nil, "", fmt.Errorf("list inbound messages: %w", err)
	}
	next := ""
	if len(out) > f.Limit {
		out = out[:f.Limit]
		last := out[len(out)-1]
		next = encodeCursor(last.ReceivedAt, last.ID)
	}
	return domains(out, InboundMessage.domain), next, nil
}

// GetInbound returns the account's inbound message with the given id, or
// ErrNotFound (also for another account's message).
func (s *Store) GetInbound(ctx context.Context, accountID, id string) (inbound.Message, error) {
	var m InboundMessage
	err := s.db.WithContext(ctx).Where("id = ? AND account_id = ?", id, accountID).Take(&m).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return inbound.Message{}, ErrNotFound
	}
	if err != nil {
		return inbound.Message{}, fmt.Errorf("get inbound message %s: %w", id, err)
	}
	return m.domain(), nil
}
