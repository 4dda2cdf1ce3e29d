package store

import (
	"context"
	"sync/atomic"

	"gorm.io/gorm"
)

// OnWebhooksEnqueued sets f to be called after every transaction of this
// store that wrote webhook deliveries has committed, so that a deliverer
// (webhook.Deliverer.Wake) sends them at once instead of at its next poll.
// f must not block. Deliveries written by other processes sharing the
// database are not seen: deliverers keep polling for those. nil stops the
// calls.
func (s *Store) OnWebhooksEnqueued(f func()) {
	if f == nil {
		s.onWebhooks.Store(nil)
		return
	}
	s.onWebhooks.Store(&f)
}

// enqueueMark records that a transaction wrote webhook deliveries; it
// travels in the transaction's context, so the paths that write them need
// no extra parameter.
type enqueueMark struct{ wrote atomic.Bool }

type enqueueMarkKey struct{}

// transaction runs fn in a transaction, as gorm's Transaction does, and
// once it has committed tells the OnWebhooksEnqueued callback if fn wrote
// webhook deliveries. Transactions that may enqueue webhooks use it: told
// before the commit, a deliverer would look before the rows are visible.
func (s *Store) transaction(ctx context.Context, fn func(tx *gorm.DB) error) error {
	f := s.onWebhooks.Load()
	if f == nil {
		return s.db.WithContext(ctx).Transaction(fn)
	}
	m := &enqueueMark{}
	err := s.db.WithContext(context.WithValue(ctx, enqueueMarkKey{}, m)).Transaction(fn)
	if err == nil && m.wrote.Load() {
		(*f)()
	}
	return err
}

// markEnqueued notes in tx's context that its transaction writes a webhook
// delivery.
func markEnqueued(tx *gorm.DB) {
	if m, ok := tx.Statement.Context.Value(enqueueMarkKey{}).(*enqueueMark); ok {
		m.wrote.Store(true)
	}
}
