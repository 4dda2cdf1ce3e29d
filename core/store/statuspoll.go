package store

import (
	"context"
	"fmt"
	"time"

	"github.com/smsrouter/smsrouter/core/dispatch"
)

// ClaimAwaitingReport claims up to limit messages a provider accepted
// before sentBefore that still wait for a final report (sent or unknown)
// and whose next poll is due at now, oldest first, and returns them.
//
// The claim is the next poll time itself: it moves to now+lease, so no
// other server claims the messages until MarkPolled sets their real next
// poll or, if this server dies first, the lease runs out. Several servers
// claim disjoint sets (SKIP LOCKED on PostgreSQL, one writer on SQLite), so
// a provider is asked about a message by one of them.
func (s *Store) ClaimAwaitingReport(ctx context.Context, provider string, sentBefore, now time.Time, limit int, lease time.Duration) ([]dispatch.Message, error) {
	lock := ""
	if s.driver == DriverPostgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	// The statuses are written out so that SQLite sees the partial index
	// idx_messages_awaiting_report serves the query.
	q := `UPDATE messages SET next_poll_at = ?
WHERE id IN (SELECT id FROM messages
  WHERE status IN ('sent', 'unknown') AND provider = ? AND sent_at < ?
    AND ((poll_count = 0 AND next_poll_at IS NULL) OR next_poll_at <= ?)
  ORDER BY sent_at LIMIT ?` + lock + `)
RETURNING *`
	now = now.UTC()
	var out []Message
	err := s.db.WithContext(ctx).Raw(q, now.Add(lease), provider, sentBefore.UTC(), now, limit).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("claim messages of %s awaiting a report: %w", provider, err)
	}
	return claimed(out), nil
}
