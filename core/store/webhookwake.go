package store

import (
	"context"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"github.com/smsrouter/smsrouter/core/outbox"
)

// OnWebhooksEnqueued sets f to be called after every transaction of this
// store that wrote webhook deliveries nobody took (see HandOffWebhooks) has
// committed, so that a deliverer (webhook.Deliverer.Wake) claims them at
// once instead of at its next poll. f must not block. Deliveries written by
// other processes sharing the database are not seen: deliverers keep
// polling for those. nil stops the calls.
func (s *Store) OnWebhooksEnqueued(f func()) {
	if f == nil {
		s.onWebhooks.Store(nil)
		return
	}
	s.onWebhooks.Store(&f)
}

// WebhookHandoff is a deliverer in this process that takes webhook
// deliveries as they are written: the transaction that writes an event
// leases it to the deliverer in the same insert (as outbox.Choose allows),
// and hands it over once it commits. A delivery found by a claim costs a
// lease update and a claim that reads past every event in flight (most of
// the database's webhook work under load); a handed-over one costs neither.
type WebhookHandoff interface {
	outbox.Holder
	// Take receives deliveries leased to the deliverer, after their
	// transaction committed. It must not block.
	Take([]outbox.Delivery)
}

// HandOffWebhooks makes the store lease the deliveries it writes to h for
// lease, as far as h has room and ordering allows (a message's event is
// handed over only when every older one still pending is held by h). nil stops
// it; deliveries are then written for claims only.
func (s *Store) HandOffWebhooks(h WebhookHandoff, lease time.Duration) {
	if h == nil {
		s.handoff.Store(nil)
		return
	}
	s.handoff.Store(&handoff{h: h, lease: lease})
}

type handoff struct {
	h     WebhookHandoff
	lease time.Duration
}

// enqueueMark records what a transaction did with webhook deliveries; it
// travels in the transaction's context, so the paths that write them need
// no extra parameter.
type enqueueMark struct {
	// wrote: deliveries were written for claims (not handed over).
	wrote atomic.Bool
	// handoff is the store's, fixed for the transaction; nil for none.
	handoff *handoff
	// handed are the deliveries leased to the handoff, given to it after
	// the commit; handedSeqs their seqs.
	handed     []outbox.Delivery
	handedSeqs map[uint64]bool
}

type enqueueMarkKey struct{}

// transaction runs fn in a transaction, as gorm's Transaction does, and
// once it has committed hands the deliveries fn leased to the handoff and
// tells the OnWebhooksEnqueued callback if fn wrote others. Transactions
// that may enqueue webhooks use it: told before the commit, a deliverer
// would look before the rows are visible.
func (s *Store) transaction(ctx context.Context, fn func(tx *gorm.DB) error) error {
	f := s.onWebhooks.Load()
	h := s.handoff.Load()
	if f == nil && h == nil {
		return s.db.WithContext(ctx).Transaction(fn)
	}
	m := &enqueueMark{handoff: h}
	err := s.db.WithContext(context.WithValue(ctx, enqueueMarkKey{}, m)).Transaction(fn)
	if err != nil {
		return err
	}
	if len(m.handed) > 0 {
		// Written with the secrets as stored (sealed): they are opened
		// only as they leave the store.
		s.openClaimed(m.handed)
		h.h.Take(m.handed)
	}
	if f != nil && m.wrote.Load() {
		(*f)()
	}
	return nil
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
