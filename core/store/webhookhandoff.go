package store

import (
	"database/sql"
	"fmt"
	"slices"

	"gorm.io/gorm"
)

// insertDeliveries writes outbox rows with one statement, leasing to the
// transaction's handoff (see HandOffWebhooks) those it may take; the
// others are left to claims, which the transaction wakes on commit. first
// says each row is the first event of its message, so that no older one
// needs looking for.
func insertDeliveries(tx *gorm.DB, cs []ClaimedWebhook, first bool) error {
	if len(cs) == 0 {
		return nil
	}
	m := markOf(tx)
	var handed []int
	if m != nil && m.handoff != nil {
		var err error
		if handed, err = chooseHandoffs(tx, m, cs, first); err != nil {
			return err
		}
	}
	if len(handed) < len(cs) {
		markEnqueued(tx)
	}
	rows := make([]WebhookDelivery, len(cs))
	for i := range cs {
		rows[i] = cs[i].WebhookDelivery
	}
	if len(handed) == 0 {
		return insertRows(tx, rows)
	}
	seqs := make(map[string]uint64, len(cs))
	err := insertRowsReturning(tx, rows, "seq, event_id", func(r *sql.Rows) error {
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
		return err
	}
	if m.handedSeqs == nil {
		m.handedSeqs = map[uint64]bool{}
	}
	for _, i := range handed {
		c := cs[i]
		if c.Seq = seqs[c.EventID]; c.Seq == 0 {
			return fmt.Errorf("webhook event %s: the insert returned no seq", c.EventID)
		}
		m.handed = append(m.handed, c)
		m.handedSeqs[c.Seq] = true
	}
	return nil
}

// chooseHandoffs picks the deliveries of cs to lease to the handoff and
// leases them (in cs, before they are inserted). A message's event is
// handed over only if every older event of it still pending is held by
// the handoff (or handed to it by this transaction); it then waits behind
// them there. Events of one message are written by transactions that lock
// its row first, so once this one holds the lock every older event is
// committed and visible. Of several events of one message in cs only the
// first may be handed over; those after it are claimed in order once it is
// finished.
func chooseHandoffs(tx *gorm.DB, m *enqueueMark, cs []ClaimedWebhook, first bool) ([]int, error) {
	seen := make(map[string]bool, len(cs))
	var (
		candidates []int
		ids        []string
	)
	for i, c := range cs {
		if c.MessageID == "" || seen[c.MessageID] {
			continue
		}
		seen[c.MessageID] = true
		if c.URL == "" || c.Secret == "" {
			continue
		}
		candidates = append(candidates, i)
		ids = append(ids, c.MessageID)
	}
	if len(candidates) == 0 {
		return nil, nil
	}
	pending := map[string][]uint64{}
	if !first {
		var err error
		if pending, err = pendingDeliveries(tx, ids); err != nil {
			return nil, err
		}
	}
	h := m.handoff
	room := h.h.Room()
	now := tx.NowFunc()
	lease := now.Add(h.lease)
	var out []int
	for _, i := range candidates {
		c := &cs[i]
		after := pending[c.MessageID]
		if len(after) > 0 {
			var others []uint64
			for _, seq := range after {
				if !m.handedSeqs[seq] {
					others = append(others, seq)
				}
			}
			if len(others) > 0 && !h.h.Holds(c.MessageID, others) {
				continue
			}
		}
		if room <= 0 {
			break
		}
		room--
		c.LeaseUntil = &lease
		c.Attempts = 1
		c.After = after
		out = append(out, i)
	}
	return out, nil
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
			// fresh, busy table piles up before its first vacuum): 37 ms
			// per batch under load.
			rows, err = tx.Statement.ConnPool.QueryContext(tx.Statement.Context, `SELECT p.message_id, p.seq
FROM unnest($1::text[]) AS v(id) JOIN webhook_deliveries p ON p.message_id = v.id AND p.state = 'pending'`, chunk)
		} else {
			rows, err = tx.Model(&WebhookDelivery{}).Select("message_id", "seq").
				Where("message_id IN ? AND state = ?", chunk, WebhookPending).Rows()
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
