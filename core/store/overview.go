package store

import (
	"context"
	"fmt"
	"time"

	"github.com/smsrouter/smsrouter/core/message"
)

// The overview's reads (the console's charts and GET
// /api/v1/admin/overview) use only indexes every accept already writes,
// so they cost the hot path nothing:
//
//   - messages per minute read idx_messages_account_created as one range
//     per account (account_id = ? AND created_at >= ?); without an account
//     the accounts' ids are listed first, so that the planners of both
//     databases read one index range per account instead of the table.
//     The work is the window's messages, not the table's.
//   - the queue counts read the partial idx_messages_queued, which holds
//     only queued and pending messages;
//   - the webhook backlog reads the partial idx_webhook_deliveries_claimable,
//     which holds the pending deliveries not handed over, and the newest
//     rows of the primary key for those handed over (pendingWebhookParts).

// minuteExpr is the SQL for the UTC minute a message was created in, as
// seconds since 1970 divided by 60.
func (s *Store) minuteExpr() string {
	if s.driver == DriverPostgres {
		return "CAST(FLOOR(EXTRACT(EPOCH FROM created_at) / 60) AS BIGINT)"
	}
	return "CAST(strftime('%s', created_at) AS INTEGER) / 60"
}

// MessagesPerMinute counts the messages created since, by the minute they
// were created in, their status now and their provider: the account's, or
// every account's when accountID is "".
func (s *Store) MessagesPerMinute(ctx context.Context, accountID string, since time.Time) ([]message.MinuteCount, error) {
	var rows []struct {
		Minute   int64
		Status   message.Status
		Provider string
		N        int
	}
	q := s.db.WithContext(ctx).Table("messages").
		Select(s.minuteExpr()+" AS minute, status, provider, COUNT(*) AS n").
		Where("created_at >= ?", since.UTC())
	if accountID != "" {
		q = q.Where("account_id = ?", accountID)
	} else {
		// The ids themselves, not a subquery: PostgreSQL merge-joined a
		// subquery against the whole index (550 ms over a million
		// messages); a list is one index range per account (a few ms).
		var ids []string
		if err := s.db.WithContext(ctx).Table("accounts").Pluck("id", &ids).Error; err != nil {
			return nil, fmt.Errorf("list accounts to count their messages: %w", err)
		}
		if len(ids) == 0 {
			return nil, nil
		}
		q = q.Where("account_id IN ?", ids)
	}
	if err := q.Group("minute, status, provider").Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("count messages per minute since %s: %w", since.Format(time.RFC3339), err)
	}
	out := make([]message.MinuteCount, len(rows))
	for i, r := range rows {
		out[i] = message.MinuteCount{Minute: time.Unix(r.Minute*60, 0).UTC(), Status: r.Status, Provider: r.Provider, Count: r.N}
	}
	return out, nil
}

// QueueDepth counts the messages waiting to be sent: the account's, or
// every account's when accountID is "".
func (s *Store) QueueDepth(ctx context.Context, accountID string) (message.Queue, error) {
	var rows []struct {
		Status message.Status
		N      int
	}
	// The condition is idx_messages_queued's own, so the planner reads it.
	q := s.db.WithContext(ctx).Table("messages").Select("status, COUNT(*) AS n").Where("queued")
	if accountID != "" {
		q = q.Where("account_id = ?", accountID)
	}
	if err := q.Group("status").Scan(&rows).Error; err != nil {
		return message.Queue{}, fmt.Errorf("count queued messages: %w", err)
	}
	var out message.Queue
	for _, r := range rows {
		switch r.Status {
		case message.Queued:
			out.Queued = r.N
		case message.Pending:
			out.Pending = r.N
		}
	}
	return out, nil
}

// WebhookBacklog counts the webhook deliveries still pending and when the
// one due first was written: the account's, or every account's when accountID is "".
func (s *Store) WebhookBacklog(ctx context.Context, accountID string) (message.WebhookBacklog, error) {
	var out message.WebhookBacklog
	db := s.db.WithContext(ctx)
	parts, err := pendingWebhookParts(db)
	if err != nil {
		return out, err
	}
	var due *time.Time
	for _, p := range parts {
		var row struct{ N int }
		q := db.Table("webhook_deliveries").Select("COUNT(*) AS n").Where(p.cond, p.args...)
		if accountID != "" {
			q = q.Where("account_id = ?", accountID)
		}
		if err := q.Scan(&row).Error; err != nil {
			return out, fmt.Errorf("count pending webhooks: %w", err)
		}
		out.Pending += row.N
		if row.N == 0 {
			continue
		}
		// The delivery due first, read down the same index: when it was
		// written says how long the backlog has been waiting.
		var first struct {
			Oldest *time.Time
			Due    time.Time
		}
		o := db.Table("webhook_deliveries").Select("created_at AS oldest, next_attempt_at AS due").Where(p.cond, p.args...)
		if accountID != "" {
			o = o.Where("account_id = ?", accountID)
		}
		if err := o.Order("next_attempt_at").Limit(1).Scan(&first).Error; err != nil {
			return out, fmt.Errorf("find the oldest pending webhook: %w", err)
		}
		if due == nil || first.Due.Before(*due) {
			due, out.Oldest = &first.Due, first.Oldest
		}
	}
	return out, nil
}
