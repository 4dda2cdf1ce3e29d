package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/smsrouter/smsrouter/core/recordid"
)

// A delivery handed over at its insert (Handed) is in no queue index, so
// no claim finds it when its lease runs out: should the process holding
// it die, the sweep (SweepWebhooks) makes it claimable again. The sweep
// reads the primary key from the lowest seq any process may hold, which
// each process that hands deliveries over writes into webhook_holders
// (its floor); every read is a range from there to the newest delivery.
//
// Why nothing is missed: a process hands deliveries over only while its
// row is fresh (HandUntil, written at most half a lease before), and the
// floor it writes is below every seq it holds or will hold until it
// writes again: its held seqs (known from the insert's RETURNING, before
// the commit), the inserts on their way (each bounded below by the
// highest seq the process knew to be taken when it started: seqs only
// grow), and that highest seq plus one. A process's row goes only once
// every lease it may have been given has run out (DoneBy) and a sweep has
// read from its floor; a live process's expired leases (a record that
// failed) stay in its floor until a sweep of its own saw them run out.

// WebhookHolder is a process that hands webhook deliveries over to its
// deliverer at their insert, as last heard from.
type WebhookHolder struct {
	// ID is random per Store: a restarted process is a new holder.
	ID string `gorm:"primaryKey;size:40"`
	// Floor is the lowest seq the process may hold a lease on from a
	// hand-over.
	Floor  uint64    `gorm:"not null"`
	SeenAt time.Time `gorm:"not null"`
	// HandUntil is when the process stops handing over unless it writes
	// its row again; DoneBy when every lease it may hold has run out
	// (HandUntil and a lease).
	HandUntil time.Time `gorm:"not null"`
	DoneBy    time.Time `gorm:"not null"`
}

// holder is what this Store knows of the deliveries it handed over, for
// the row it writes into webhook_holders.
type holder struct {
	id string
	mu sync.Mutex
	// held maps the seqs handed over and not yet recorded or given back
	// to when their lease runs out.
	held map[uint64]time.Time
	// inflight are the inserts of hand-overs on their way, each with the
	// lowest seq it can get.
	inflight map[uint64]uint64
	next     uint64
	// maxSeen is the highest seq known to be taken (committed).
	maxSeen uint64
	// written and handUntil are those of the row as committed; zero
	// before the first. writing says a write is on its way.
	written, handUntil time.Time
	writing            bool
}

func newHolder() *holder {
	return &holder{id: recordid.New("wh_"), held: map[uint64]time.Time{}, inflight: map[uint64]uint64{}}
}

// holderWrite is a row written and not yet known to be committed.
type holderWrite struct {
	at, handUntil time.Time
	maxSeen       uint64
}

// refreshAge is how old the row may grow before an event transaction
// writes it again (a running deliverer writes it every sweep).
func refreshAge(lease time.Duration) time.Duration { return lease / 8 }

// mayHand reports whether a transaction may hand deliveries over at now,
// and whether it should write the row first (then writing is set: the
// caller must call wrote).
func (h *holder) mayHand(now time.Time, lease time.Duration) (ok, write bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ok = !h.handUntil.IsZero() && !now.After(h.handUntil)
	if !h.writing && (!ok || now.Sub(h.written) > refreshAge(lease)) {
		h.writing = true
		write = true
	}
	return ok, write
}

// startWrite claims the right to write the row, for a sweep; false when
// the process never handed anything over or a write is on its way.
func (h *holder) startWrite() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.writing || h.written.IsZero() {
		return false
	}
	h.writing = true
	return true
}

// write upserts the row in db at now, given the highest seq db sees.
func (h *holder) write(db *gorm.DB, now time.Time, lease time.Duration, maxSeq uint64) (holderWrite, error) {
	h.mu.Lock()
	w := holderWrite{at: now, handUntil: now.Add(lease / 2), maxSeen: max(h.maxSeen, maxSeq)}
	floor := w.maxSeen + 1
	for seq := range h.held {
		floor = min(floor, seq)
	}
	for _, low := range h.inflight {
		floor = min(floor, low)
	}
	h.mu.Unlock()
	row := WebhookHolder{ID: h.id, Floor: floor, SeenAt: now, HandUntil: w.handUntil, DoneBy: w.handUntil.Add(lease)}
	err := db.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "id"}},
		DoUpdates: clause.AssignmentColumns([]string{"floor", "seen_at", "hand_until", "done_by"})}).Create(&row).Error
	if err != nil {
		return w, fmt.Errorf("write the webhook holder row: %w", err)
	}
	return w, nil
}

// wrote ends a write: w is the row as committed, nil when it was not.
func (h *holder) wrote(w *holderWrite) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.writing = false
	if w == nil {
		return
	}
	h.written, h.handUntil = w.at, w.handUntil
	h.maxSeen = max(h.maxSeen, w.maxSeen)
}

// begin notes an insert of hand-overs on its way; returned or abort ends it.
func (h *holder) begin() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.next++
	h.inflight[h.next] = h.maxSeen + 1
	return h.next
}

// returned notes the seqs the insert got, held until leaseEnd.
func (h *holder) returned(token uint64, seqs []uint64, leaseEnd time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, seq := range seqs {
		h.held[seq] = leaseEnd
	}
	delete(h.inflight, token)
}

func (h *holder) abort(token uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.inflight, token)
}

// committed notes that the transaction that handed seqs over committed:
// they are taken. (Those of a transaction that failed stay held until a
// sweep finds their lease run out: a commit that reported an error may
// have committed all the same, and nobody else would find them.)
func (h *holder) committed(seqs []uint64) {
	if len(seqs) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.maxSeen = max(h.maxSeen, slices.Max(seqs))
}

// forget notes deliveries recorded or given back.
func (h *holder) forget(seqs []uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, seq := range seqs {
		delete(h.held, seq)
	}
}

// dropExpired forgets the deliveries whose lease ran out before a sweep
// of this process read from its floor: the sweep made them claimable.
func (h *holder) dropExpired(sweptAt time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for seq, end := range h.held {
		if end.Before(sweptAt) {
			delete(h.held, seq)
		}
	}
}

// maxWebhookSeq reads the highest seq of the outbox (0 for none).
func maxWebhookSeq(db *gorm.DB) (uint64, error) {
	var n uint64
	if err := db.Raw("SELECT COALESCE(MAX(seq), 0) FROM webhook_deliveries").Scan(&n).Error; err != nil {
		return 0, fmt.Errorf("read the newest webhook's seq: %w", err)
	}
	return n, nil
}

// mayHand reports whether the transaction may hand deliveries over,
// writing this process's holder row in it first when the row is due (see
// holder): the deliveries it hands over are then covered by the row that
// commits with them.
func (tx *eventTx) mayHand() (bool, error) {
	m := tx.out
	now := tx.NowFunc()
	ok, write := m.holder.mayHand(now, m.lease)
	if !write {
		return ok, nil
	}
	maxSeq, err := maxWebhookSeq(tx.DB)
	if err == nil {
		var w holderWrite
		if w, err = m.holder.write(tx.DB, now, m.lease, maxSeq); err == nil {
			m.holderWrite = &w
			return true, nil
		}
	}
	m.holder.wrote(nil)
	return false, err
}

// sweepLockID names the PostgreSQL advisory lock that lets one sweep run
// at a time.
const sweepLockID = 0x736d737377656570 // "smssweep"

// SweepWebhooks writes this process's holder row (when it hands
// deliveries over) and makes claimable again the deliveries handed over
// whose lease ran out: their deliverer died, or could not record them.
// Attempts are left as they are; the claim counts its own. Holders whose
// leases have all run out are removed, once swept. A deliverer calls it
// every few seconds (webhook.Sweeper); lease is its lease.
func (s *Store) SweepWebhooks(ctx context.Context, lease time.Duration) error {
	db := s.db.WithContext(ctx)
	now := s.now()
	h := s.holder
	wroteOwn := false
	if h.startWrite() {
		maxSeq, err := maxWebhookSeq(db)
		var w holderWrite
		if err == nil {
			w, err = h.write(db, now, lease, maxSeq)
		}
		if err != nil {
			h.wrote(nil)
			return err
		}
		h.wrote(&w)
		wroteOwn = true
	}
	var swept int64
	err := db.Transaction(func(tx *gorm.DB) error {
		if s.driver == DriverPostgres {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", int64(sweepLockID)).Error; err != nil {
				return err
			}
			// Planned with the floor itself: a generic plan cannot know
			// the range is the newest few rows.
			if err := tx.Exec("SET LOCAL plan_cache_mode = force_custom_plan").Error; err != nil {
				return err
			}
		}
		floor, ok, err := holdersFloor(tx)
		if err != nil || !ok {
			return err
		}
		res := tx.Exec(sweepQuery, false, floor, now)
		if res.Error != nil {
			return res.Error
		}
		swept = res.RowsAffected
		return tx.Where("done_by < ?", now).Delete(&WebhookHolder{}).Error
	})
	if err != nil {
		return fmt.Errorf("sweep expired webhook hand-overs: %w", err)
	}
	if wroteOwn {
		h.dropExpired(now)
	}
	if swept > 0 {
		s.log.Info("webhooks handed to a deliverer whose lease ran out are claimable again", "webhooks", swept)
	}
	return nil
}

// sweepQuery makes the expired hand-overs from a floor up claimable: a
// range of the primary key, its rows' other columns read from the table.
const sweepQuery = `UPDATE webhook_deliveries SET handed = ?, lease_until = NULL
WHERE seq >= ? AND handed AND state = '` + WebhookPending + `' AND lease_until < ?`

// pendingPart is a condition for some of the pending deliveries, which an
// index serves.
type pendingPart struct {
	cond string
	args []any
}

// pendingWebhookParts are the pending deliveries as two parts, each read
// through an index: the claimable ones (the queue index), and those
// handed over, which are all above the lowest holder floor (the primary
// key; none when there are no holders).
func pendingWebhookParts(db *gorm.DB) ([]pendingPart, error) {
	parts := []pendingPart{{cond: "claimable"}}
	floor, ok, err := holdersFloor(db)
	if err != nil {
		return nil, err
	}
	if ok {
		parts = append(parts, pendingPart{cond: "seq >= ? AND handed AND state = '" + WebhookPending + "'", args: []any{floor}})
	}
	return parts, nil
}

// holdersFloor is the lowest floor of the webhook holders, false when
// there are none.
func holdersFloor(db *gorm.DB) (int64, bool, error) {
	var floor sql.NullInt64
	if err := db.Raw("SELECT MIN(floor) FROM webhook_holders").Row().Scan(&floor); err != nil {
		return 0, false, fmt.Errorf("read the webhook holders' floor: %w", err)
	}
	return floor.Int64, floor.Valid, nil
}
