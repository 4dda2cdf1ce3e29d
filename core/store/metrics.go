package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/smsrouter/smsrouter/core/dispatch"
	"github.com/smsrouter/smsrouter/core/message"
)

// CountMessages counts every message by status and provider, for metrics.
// It reads the whole messages table: callers bound how often it runs and
// for how long (a context deadline cancels the query on the server).
func (s *Store) CountMessages(ctx context.Context) ([]message.Count, error) {
	var out []message.Count
	err := s.db.WithContext(ctx).Model(&Message{}).Select("status, provider, count(*) AS n").
		Group("status, provider").Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("count messages by status and provider: %w", err)
	}
	return out, nil
}

// QueueDepths counts the messages waiting in the dispatch queue at now, by
// status. Only queued and pending rows are read, through idx_messages_queued,
// so its cost follows the backlog, not the table.
func (s *Store) QueueDepths(ctx context.Context, now time.Time) ([]dispatch.QueueDepth, error) {
	// Every time this file compares is UTC; see ClaimDue.
	now = now.UTC()
	q := `SELECT status,
  SUM(CASE WHEN lease_until IS NOT NULL AND lease_until >= ? THEN 1 ELSE 0 END) AS leased,
  SUM(CASE WHEN (lease_until IS NULL OR lease_until < ?) AND next_attempt_at <= ? THEN 1 ELSE 0 END) AS due,
  SUM(CASE WHEN (lease_until IS NULL OR lease_until < ?) AND next_attempt_at > ? THEN 1 ELSE 0 END) AS scheduled
FROM messages WHERE queued GROUP BY status`
	var out []dispatch.QueueDepth
	err := s.db.WithContext(ctx).Raw(q, now, now, now, now, now).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("count queued messages: %w", err)
	}
	return out, nil
}

// OldestDue returns when the longest-waiting message that could be claimed
// now became due, or false when none is due.
func (s *Store) OldestDue(ctx context.Context, now time.Time) (time.Time, bool, error) {
	now = now.UTC()
	var m Message
	err := s.db.WithContext(ctx).Select("next_attempt_at").
		Where("queued AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until < ?)", now, now).
		Order("next_attempt_at").Limit(1).Take(&m).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("oldest due message: %w", err)
	}
	return m.NextAttemptAt, true, nil
}

// CountPendingWebhooks counts webhook deliveries still to be made (not yet
// delivered nor given up), through indexes (see pendingWebhookParts).
func (s *Store) CountPendingWebhooks(ctx context.Context) (int64, error) {
	db := s.db.WithContext(ctx)
	parts, err := pendingWebhookParts(db)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, p := range parts {
		var n int64
		if err := db.Model(&WebhookDelivery{}).Where(p.cond, p.args...).Count(&n).Error; err != nil {
			return 0, fmt.Errorf("count pending webhooks: %w", err)
		}
		total += n
	}
	return total, nil
}
