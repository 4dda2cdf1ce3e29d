package store

import (
	"context"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"github.com/smsrouter/smsrouter/core/outbox"
)

// HandOffWebhooks makes the store hand the deliveries it writes to h, the
// deliverer in this process: as far as h has room and message order allows
// (outbox.Choose), a transaction leases them to h in the insert, and once
// it commits tells h what it handed over and whether it left deliveries for
// claims (outbox.Handed), so that h starts the first at once and claims the
// others instead of waiting for its next poll. A delivery found by a claim
// costs a lease update and a claim that reads past every event in flight
// (most of the database's webhook work under load); a handed-over one
// costs neither. Deliveries written by other processes sharing the
// database are not seen: deliverers keep polling for those. nil stops it;
// deliveries are then written for claims only.
func (s *Store) HandOffWebhooks(h outbox.Handoff) {
	if h == nil {
		s.handoff.Store(nil)
		return
	}
	s.handoff.Store(&handoff{h: h})
}

type handoff struct{ h outbox.Handoff }

// enqueueMark records what a transaction did with webhook deliveries; it
// travels in the transaction's context, so the paths that write them need
// no extra parameter.
type enqueueMark struct {
	// wrote: deliveries were written for claims (not handed over).
	wrote atomic.Bool
	// handoff is the store's, fixed for the transaction, and lease how
	// long what it hands over is leased for.
	handoff *handoff
	lease   time.Duration
	// handed are the deliveries leased to the handoff, given to it after
	// the commit; handedSeqs their seqs.
	handed     []outbox.Delivery
	handedSeqs map[uint64]bool
}

type enqueueMarkKey struct{}

// transaction runs fn in a transaction, as gorm's Transaction does, and
// once it has committed tells the handoff what fn did with the webhook
// deliveries it wrote. Transactions that may write webhooks use it: told
// before the commit, a deliverer would look before the rows are visible.
func (s *Store) transaction(ctx context.Context, fn func(tx *gorm.DB) error) error {
	h := s.handoff.Load()
	if h == nil {
		return s.db.WithContext(ctx).Transaction(fn)
	}
	handed, err := s.eventTransaction(ctx, h, fn)
	if err != nil {
		return err
	}
	if len(handed.Deliveries) > 0 || handed.LeftForClaims {
		h.h.Receive(handed)
	}
	return nil
}

// eventTransaction runs fn in a transaction that hands deliveries to h as
// it writes them, and returns what it handed over once committed.
func (s *Store) eventTransaction(ctx context.Context, h *handoff, fn func(tx *gorm.DB) error) (outbox.Handed, error) {
	m := &enqueueMark{handoff: h, lease: h.h.Lease()}
	if err := s.db.WithContext(context.WithValue(ctx, enqueueMarkKey{}, m)).Transaction(fn); err != nil {
		return outbox.Handed{}, err
	}
	// Written with the secrets as stored (sealed): they are opened only
	// as they leave the store.
	s.openClaimed(m.handed)
	return outbox.Handed{Deliveries: m.handed, LeftForClaims: m.wrote.Load()}, nil
}

// markEnqueued notes in tx's context that its transaction writes a webhook
// delivery for claims.
func markEnqueued(tx *gorm.DB) {
	if m, ok := tx.Statement.Context.Value(enqueueMarkKey{}).(*enqueueMark); ok {
		m.wrote.Store(true)
	}
}

// markOf returns the mark of tx's transaction, nil outside of one.
func markOf(tx *gorm.DB) *enqueueMark {
	m, _ := tx.Statement.Context.Value(enqueueMarkKey{}).(*enqueueMark)
	return m
}
