package store

import (
	"database/sql"
	"fmt"
	"slices"
	"sync/atomic"

	"gorm.io/gorm"

	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/outbox"
)

// insertDeliveries writes outbox rows with one statement, leasing to the
// transaction's deliverer those outbox.Choose hands over; the others are
// left to claims, which the transaction wakes on commit. first says each
// row is the first event of its message, so that no older one needs
// looking for.
func insertDeliveries(tx *eventTx, cs []targetedDelivery, first bool) error {
	if len(cs) == 0 {
		return nil
	}
	m := tx.out
	var picks []outbox.Pick
	if m.handoff != nil {
		ok, err := tx.mayHand()
		if err != nil {
			return err
		}
		if ok {
			if picks, err = chooseHandoffs(tx, cs, first); err != nil {
				return err
			}
		}
	}
	if len(picks) < len(cs) {
		m.leftForClaims = true
		m.leftMessages = appendLeft(m.leftMessages, cs, picks)
	}
	rows := make([]WebhookDelivery, len(cs))
	for i := range cs {
		rows[i] = cs[i].WebhookDelivery
	}
	if len(picks) == 0 {
		return insertRows(tx.DB, rows)
	}
	seqs := make(map[string]uint64, len(cs))
	token := m.holder.begin()
	err := insertRowsReturning(tx.DB, rows, "seq, event_id", func(r *sql.Rows) error {
		var (
			seq uint64
			id  string
		)
		if err := r.Scan(&seq, &id); err != nil {
			return err
		}
		seqs[id] = seq
		return nil
	})
	if err != nil {
		m.holder.abort(token)
		return err
	}
	if m.handedSeqs == nil {
		m.handedSeqs = map[uint64]bool{}
	}
	held := make([]uint64, 0, len(picks))
	for _, p := range picks {
		c := &cs[p.Index]
		if c.Seq = seqs[c.EventID]; c.Seq == 0 {
			m.holder.abort(token)
			return fmt.Errorf("webhook event %s: the insert returned no seq", c.EventID)
		}
		d := c.leased(c.URL, c.Secret, c.After)
		d.Status = c.Reported
		m.handed = append(m.handed, d)
		m.handedSeqs[c.Seq] = true
		held = append(held, c.Seq)
	}
	// Held from now, before the commit: the floor this process writes
	// must cover them as soon as they may be committed.
	m.holder.returned(token, held, *cs[picks[0].Index].LeaseUntil)
	return nil
}

// orderReads counts the reads of pending events for the order guard of
// new events, and nextReads those for the next events of finished
// deliveries, for tests: what the deliverer knows spares them.
var orderReads, nextReads atomic.Int64

// appendLeft appends to left the messages of the deliveries of cs not
// picked to be handed over.
func appendLeft(left []string, cs []targetedDelivery, picks []outbox.Pick) []string {
	picked := make(map[int]bool, len(picks))
	for _, p := range picks {
		picked[p.Index] = true
	}
	for i := range cs {
		if !picked[i] && cs[i].MessageID != "" {
			left = append(left, cs[i].MessageID)
		}
	}
	return left
}

// chooseHandoffs asks outbox.Choose which deliveries of cs go to the
// transaction's deliverer and leases them (in cs, before they are
// inserted).
func chooseHandoffs(tx *eventTx, cs []targetedDelivery, first bool) ([]outbox.Pick, error) {
	m := tx.out
	b := outbox.Batch{Len: len(cs), Handed: m.handedSeqs, Target: func(i int) (string, bool) {
		c := &cs[i]
		return c.MessageID, c.URL != "" && c.Secret != ""
	}}
	if !first {
		b.Pending = func(ids []string) (map[string][]uint64, error) {
			orderReads.Add(1)
			return pendingDeliveries(tx.DB, ids)
		}
		b.Before = func(i int) message.Status { return cs[i].Before }
	}
	picks, err := outbox.Choose(m.handoff, b)
	if err != nil {
		return nil, err
	}
	lease := tx.NowFunc().Add(m.lease)
	for _, p := range picks {
		c := &cs[p.Index]
		c.LeaseUntil = &lease
		c.Handed = true
		c.Attempts = 1
		c.After = p.After
	}
	return picks, nil
}

// pendingDeliveries returns the seqs of the messages' pending deliveries.
func pendingDeliveries(tx *gorm.DB, ids []string) (map[string][]uint64, error) {
	slices.Sort(ids)
	pending := make(map[string][]uint64)
	add := func(r *sql.Rows) error {
		var (
			id  string
			seq uint64
		)
		if err := r.Scan(&id, &seq); err != nil {
			return err
		}
		pending[id] = append(pending[id], seq)
		return nil
	}
	for chunk := range slices.Chunk(ids, idChunk) {
		var (
			rows *sql.Rows
			err  error
		)
		if tx.Dialector.Name() == DriverPostgres {
			// One probe of the message index per message. Given the ids
			// as an IN list, the planner read the partial queue index
			// instead (every pending delivery, and the dead entries a
			// fresh, busy table piles up before its first vacuum), tens of
			// milliseconds per batch under load (docs/performance.md,
			// fourth round).
			rows, err = tx.Statement.ConnPool.QueryContext(tx.Statement.Context, pendingDeliveriesArrayQuery, chunk)
		} else {
			// The state is written into the statement, not bound: SQLite
			// compiled a statement whose parameter meets a partial index's
			// condition a second time at its first step.
			rows, err = tx.Model(&WebhookDelivery{}).Select("message_id", "seq").
				Where("message_id IN ? AND state = '"+WebhookPending+"'", chunk).Rows()
		}
		if err == nil {
			err = scanAll(rows, add)
		}
		if err != nil {
			return nil, fmt.Errorf("find pending webhooks of %d messages: %w", len(chunk), err)
		}
	}
	return pending, nil
}

// pendingDeliveriesArrayQuery reads the pending deliveries of messages
// given as an array, on PostgreSQL: a probe of the message index per
// message. The message index holds no state (a delivery's record would
// write an entry into it), so on a table never analyzed the planner takes
// a probe for a thousand rows and, given a batch of messages, hashed them
// against a scan of the whole table (40 ms a batch under load); the
// lateral subquery, kept apart by OFFSET 0, can only be probed.
const pendingDeliveriesArrayQuery = `SELECT v.id, p.seq
FROM unnest($1::text[]) AS v(id)
CROSS JOIN LATERAL (SELECT seq FROM webhook_deliveries WHERE message_id = v.id AND state = 'pending' OFFSET 0) p`
