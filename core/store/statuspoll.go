package store

import (
	"context"
	"fmt"
	"time"

	"github.com/smsrouter/smsrouter/core/dispatch"
)

// claimAwaitingQuery is ClaimAwaitingReport's update up to the lock of its
// inner select. It states idx_messages_awaiting_poll's condition so that
// both drivers read that index; the statuses are checked besides, though
// a message leaves the index when it becomes final.
const claimAwaitingQuery = `UPDATE messages SET next_poll_at = ?
WHERE id IN (SELECT id FROM messages
  WHERE awaiting_report_since IS NOT NULL AND provider = ? AND awaiting_report_since < ?
    AND status IN ('sent', 'unknown') AND ((poll_count = 0 AND next_poll_at IS NULL) OR next_poll_at <= ?)
  ORDER BY awaiting_report_since LIMIT ?`

// SetPolledProviders names the providers whose statuses the status poller
// asks for: only their messages are kept for it (Message.AwaitingReportSince)
// when they are sent. Until it is called every provider's are, as a store
// that does not know the configuration must.
func (s *Store) SetPolledProviders(names []string) {
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[n] = true
	}
	s.polled.Store(&set)
}

// awaitsPoll reports whether messages sent by provider are kept for the
// status poller.
func (s *Store) awaitsPoll(provider string) bool {
	set := s.polled.Load()
	return set == nil || (*set)[provider]
}

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
	q := claimAwaitingQuery + lock + `)
RETURNING *`
	now = now.UTC()
	var out []Message
	err := s.db.WithContext(ctx).Raw(q, now.Add(lease), provider, sentBefore.UTC(), now, limit).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("claim messages of %s awaiting a report: %w", provider, err)
	}
	return claimed(out), nil
}
