package store

import (
	"time"

	"github.com/smsrouter/smsrouter/core/dispatch"
)

// HandOffMessages makes the store hand the due messages it accepts to h,
// the dispatcher in this process: as far as h has room, an accept
// transaction writes them already leased to h (lease_until and the first
// attempt, as a claim would write them), and once it commits gives them to
// h as ClaimDue would have returned them, built from what it wrote, so
// that h sends them without a claim. It tells h too when it wrote messages
// for claims (not due yet, or past h's room), so that h claims them at
// once. A rollback hands nothing over. Handed messages are rows of the
// queue like any other: if this process dies, their lease runs out and
// any dispatcher claims them. nil stops it; messages are then written for
// claims only.
func (s *Store) HandOffMessages(h dispatch.Handoff) {
	if h == nil {
		s.dispatcher.Store(nil)
		return
	}
	s.dispatcher.Store(&messageHandoff{h: h})
}

type messageHandoff struct{ h dispatch.Handoff }

// handover is what one transaction that accepts messages hands over to
// the dispatcher in this process; nil when none takes hand-overs.
type handover struct {
	h      dispatch.Handoff
	driver string
	// handed are the rows leased to h by the last try of the
	// transaction; left says it wrote others, for claims.
	handed []*Message
	left   bool
}

// handover returns what a transaction accepting messages uses to hand
// them over, fixed for the transaction; nil when no dispatcher takes them.
func (s *Store) handover() *handover {
	p := s.dispatcher.Load()
	if p == nil {
		return nil
	}
	return &handover{h: p.h, driver: s.driver}
}

// lease picks, as far as the dispatcher has room, the messages of msgs due
// at now (no send time of their own, not held) to hand over, and leases
// them to it in the rows about to be inserted; the others stay unleased.
// It is called on each try of the transaction, before the insert: only
// the try that commits counts.
func (o *handover) lease(msgs []*Message, now time.Time) {
	if o == nil {
		return
	}
	o.handed, o.left = o.handed[:0], false
	room := o.h.Room()
	until := storedTime(o.driver, now.Add(o.h.Lease()))
	for _, m := range msgs {
		m.LeaseUntil, m.Attempts = nil, 0
		if m.SendAt != nil || m.NextAttemptAt.After(now) || room <= 0 {
			o.left = true
			continue
		}
		room--
		m.LeaseUntil, m.Attempts = &until, 1
		o.handed = append(o.handed, m)
	}
}

// give hands the leased messages to the dispatcher, once the transaction
// has committed: their texts in the clear (the rows hold them again after
// the insert sealed them) and their times as the database keeps them, as
// ClaimDue would return them.
func (o *handover) give() {
	if o == nil || (len(o.handed) == 0 && !o.left) {
		return
	}
	rows := make([]Message, len(o.handed))
	for i, m := range o.handed {
		rows[i] = *m
		r := &rows[i]
		r.CreatedAt, r.ExpiresAt = storedTime(o.driver, r.CreatedAt), storedTime(o.driver, r.ExpiresAt)
	}
	o.h.Receive(claimed(rows), o.left)
}
