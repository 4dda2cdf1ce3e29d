package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/smsrouter/smsrouter/core/retention"
)

// staleAfter is how long rate windows and OTP codes are kept after they
// stopped mattering: a day, so that an operator looking into a complaint
// about yesterday's limits still finds them.
const staleAfter = 24 * time.Hour

// pruneChunk caps the rows one delete statement removes, so that pruning
// a large backlog never holds many locks, or SQLite's write lock, for long:
// the work is a series of short transactions between which the hot paths
// get their turn.
const pruneChunk = 5000

// maxWriterTurn caps how long pruning on SQLite pauses after a chunk. A
// writer waiting for SQLite's lock polls it (busy_timeout) at intervals of
// up to 100 ms, so a pause a little longer than that lets it in.
const maxWriterTurn = 250 * time.Millisecond

// writerTurn lets other writers in after a prune chunk that took took. On
// SQLite the whole database has one write lock and a waiting writer only
// polls for it, so without a pause the next chunk takes the lock again
// before the others notice it was free: a request, or another server's
// prune, could wait out busy_timeout and fail. Pausing as long as the
// chunk took (up to maxWriterTurn) gives pruning at most about half of
// the writer's time. PostgreSQL locks rows and needs no pause.
func (s *Store) writerTurn(ctx context.Context, took time.Duration) error {
	if s.driver == DriverPostgres {
		return ctx.Err()
	}
	t := time.NewTimer(min(took, maxWriterTurn))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// The retention worker prunes through this store.
var _ retention.Store = (*Store)(nil)

// Prune deletes records nothing needs any more, so that no table grows
// with traffic for ever: rate windows and OTP codes a day after they stop
// counting, and finished webhook deliveries and processed event ids after
// their retention. It also drops the sealed full text of finished
// messages that keep less of it. It deletes in chunks of short transactions; several
// servers may run it at once (on PostgreSQL they skip each other's rows).
// Counts are of rows deleted before an error, if any.
func (s *Store) Prune(ctx context.Context, r retention.Policy) (retention.Pruned, error) {
	r = r.OrDefaults()
	now := s.now()
	stale := now.Add(-staleAfter)
	var p retention.Pruned
	var err error
	// Windows of up to a day (the API's are a minute) have ended when they
	// started more than a day ago, and a bucket without a row starts from
	// zero, as one whose window ended does. The table has a row per rate
	// limited key and no index on window_start: an index there would turn
	// every counted request's update into an index update, to save one
	// scan of a small table every few minutes.
	if p.RateWindows, err = s.deleteInChunks(ctx, "rate_windows", "window_start < ?", stale.UnixMilli()); err != nil {
		return p, fmt.Errorf("prune rate windows: %w", err)
	}
	// The per-number OTP limit counts codes sent within its window (an
	// hour, core.OTPWindow), so codes a day old no longer count; only a
	// pending code still verifies, and a day-old one has expired.
	if p.OTPCodes, err = s.deleteInChunks(ctx, "otp_codes",
		"created_at < ? AND (used_at IS NOT NULL OR expires_at <= ?)", stale, now); err != nil {
		return p, fmt.Errorf("prune OTP codes: %w", err)
	}
	if p.Webhooks, p.WebhookAttempts, err = s.pruneWebhooks(ctx, now.Add(-r.Webhooks)); err != nil {
		return p, fmt.Errorf("prune webhook deliveries: %w", err)
	}
	// Event ids guard against a provider emitting an event again: a plugin
	// restarting replays what it had not seen acknowledged, an upstream
	// retries a callback for minutes or hours. None re-emits an event
	// weeks later, so ids older than the retention guard nothing.
	// Ids with a duplicate window go when it passes (below).
	if p.ProcessedEvents, err = s.deleteInChunks(ctx, "processed_events",
		"expires_at IS NULL AND created_at < ?", now.Add(-r.ProcessedEvents)); err != nil {
		return p, fmt.Errorf("prune processed event ids: %w", err)
	}
	// Ids with a duplicate window mark repeats only within it.
	expired, err := s.deleteInChunks(ctx, "processed_events", "expires_at IS NOT NULL AND expires_at < ?", now)
	p.ProcessedEvents += expired
	if err != nil {
		return p, fmt.Errorf("prune processed event ids past their duplicate window: %w", err)
	}
	if p.HeldStatuses, err = s.deleteInChunks(ctx, "held_statuses", "created_at < ?", now.Add(-r.HeldStatuses)); err != nil {
		return p, fmt.Errorf("prune held status reports: %w", err)
	}
	// One-time codes and texts of accounts that keep them masked or not
	// at all: their only full copy goes once no provider needs it.
	if p.SealedTexts, err = s.forgetSealedTexts(ctx); err != nil {
		return p, fmt.Errorf("drop the full texts of finished messages: %w", err)
	}
	return p, nil
}

// deleteInChunks deletes the rows of table matching where, pruneChunk rows
// per statement until fewer are left, and returns how many it deleted.
// Rows are picked by their physical address (ctid, rowid): PostgreSQL
// plans a join on the primary key against a few thousand rows as a scan of
// the whole table. On PostgreSQL rows another server is deleting (or a
// request is updating) are skipped rather than waited for: they are gone
// by the next run if not now; the lock also keeps a picked row's ctid
// valid until the delete.
func (s *Store) deleteInChunks(ctx context.Context, table, where string, args ...any) (int64, error) {
	q := fmt.Sprintf("DELETE FROM %s WHERE rowid IN (SELECT rowid FROM %s WHERE %s LIMIT %d)", table, table, where, pruneChunk)
	if s.driver == DriverPostgres {
		q = fmt.Sprintf("DELETE FROM %s WHERE ctid = ANY(ARRAY(SELECT ctid FROM %s WHERE %s LIMIT %d FOR UPDATE SKIP LOCKED))",
			table, table, where, pruneChunk)
	}
	var total int64
	for {
		start := time.Now()
		res := s.db.WithContext(ctx).Exec(q, args...)
		if res.Error != nil {
			return total, res.Error
		}
		total += res.RowsAffected
		if res.RowsAffected < pruneChunk {
			return total, nil
		}
		if err := s.writerTurn(ctx, time.Since(start)); err != nil {
			return total, err
		}
	}
}

// pruneWebhooks deletes deliveries delivered or given up before cutoff,
// with their attempts, a chunk per transaction. It walks the table in seq
// order from its oldest row and stops at the first row created at or
// after cutoff: a delivery finishes after it is created, and seqs follow
// creation, so past that row there is nothing (or, for a row whose insert
// overtook an older one's, little) to prune yet, and what is left goes in
// the next round. No index serves the prune but the primary key: an index
// of finished deliveries cost every delivery an entry when it was recorded
// delivered, for a reader that runs every ten minutes.
func (s *Store) pruneWebhooks(ctx context.Context, cutoff time.Time) (deliveries, attempts int64, err error) {
	cutoff = cutoff.UTC()
	var after uint64
	for {
		start := time.Now()
		page, err := s.webhookPage(ctx, after)
		if err != nil {
			return deliveries, attempts, err
		}
		due, last, done := prunable(page, cutoff)
		after = last
		gone, goneAttempts, err := s.deleteFinishedWebhooks(ctx, due, cutoff)
		deliveries, attempts = deliveries+gone, attempts+goneAttempts
		if err != nil || done {
			return deliveries, attempts, err
		}
		if err := s.writerTurn(ctx, time.Since(start)); err != nil {
			return deliveries, attempts, err
		}
	}
}

// prunedDelivery is what the prune reads of a delivery.
type prunedDelivery struct {
	Seq         uint64
	State       string
	CreatedAt   time.Time
	DeliveredAt *time.Time
	GaveUpAt    *time.Time
}

// webhookPage reads up to pruneChunk deliveries after seq after, in seq
// order (a range of the primary key).
func (s *Store) webhookPage(ctx context.Context, after uint64) ([]prunedDelivery, error) {
	var page []prunedDelivery
	err := s.db.WithContext(ctx).Model(&WebhookDelivery{}).Select("seq", "state", "created_at", "delivered_at", "gave_up_at").
		Where("seq > ?", after).Order("seq").Limit(pruneChunk).Scan(&page).Error
	if err != nil {
		return nil, fmt.Errorf("read webhook deliveries after %d: %w", after, err)
	}
	return page, nil
}

// prunable returns the deliveries of page finished before cutoff, the seq
// the next page starts after, and whether the walk is done: page is the
// table's last, or holds a row created at or after cutoff.
func prunable(page []prunedDelivery, cutoff time.Time) (due []uint64, last uint64, done bool) {
	for _, d := range page {
		if !d.CreatedAt.Before(cutoff) {
			return due, last, true
		}
		last = d.Seq
		finished := d.DeliveredAt
		if d.State == WebhookGaveUp {
			finished = d.GaveUpAt
		}
		if (d.State == WebhookDelivered || d.State == WebhookGaveUp) && finished != nil && finished.Before(cutoff) {
			due = append(due, d.Seq)
		}
	}
	return due, last, len(page) < pruneChunk
}

// deleteFinishedWebhooks deletes the deliveries of seqs still finished
// before cutoff, with their attempts, in one transaction. On PostgreSQL
// rows another server is deleting (or a deliverer updating) are skipped:
// they are gone by the next run if not now.
func (s *Store) deleteFinishedWebhooks(ctx context.Context, seqs []uint64, cutoff time.Time) (deliveries, attempts int64, err error) {
	if len(seqs) == 0 {
		return 0, 0, nil
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var locked []uint64
		// The states are written into the statement, as everywhere the
		// table is read by state (see pendingDeliveries).
		err := forUpdateSkipLocked(tx.Model(&WebhookDelivery{})).
			Where("seq IN ? AND state IN ('"+WebhookDelivered+"', '"+WebhookGaveUp+"')", seqs).
			Where("COALESCE(delivered_at, gave_up_at) < ?", cutoff).Pluck("seq", &locked).Error
		if err != nil || len(locked) == 0 {
			return err
		}
		res := tx.Where("delivery_seq IN ?", locked).Delete(&WebhookAttempt{})
		if res.Error != nil {
			return res.Error
		}
		attempts = res.RowsAffected
		res = tx.Where("seq IN ?", locked).Delete(&WebhookDelivery{})
		deliveries = res.RowsAffected
		return res.Error
	})
	if err != nil {
		return 0, 0, fmt.Errorf("delete %d finished webhook deliveries: %w", len(seqs), err)
	}
	return deliveries, attempts, nil
}
