package store

import (
	"context"
	"maps"
	"slices"
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

// eventTx is a transaction that may write webhook deliveries: the
// database handle, and what the transaction does with the deliveries it
// writes, passed along explicitly to the paths that write them.
type eventTx struct {
	*gorm.DB
	out *txOutbox
}

// txOutbox is what one transaction did with webhook deliveries.
type txOutbox struct {
	// leftForClaims: deliveries were written for claims (not handed over);
	// leftMessages the messages of those that have one.
	leftForClaims bool
	leftMessages  []string
	// handoff is the store's, fixed for the transaction (nil for none),
	// and lease how long what it hands over is leased for.
	handoff outbox.Handoff
	lease   time.Duration
	// holder is the store's; holderWrite its row as this transaction
	// wrote it (nil: not written), known once it commits.
	holder      *holder
	holderWrite *holderWrite
	// handed are the deliveries leased to the handoff, given to it after
	// the commit; handedSeqs their seqs.
	handed     []outbox.Delivery
	handedSeqs map[uint64]bool
	// collecting says rows go to rows, inserted together by the flush
	// that collect returned.
	collecting bool
	rows       []targetedDelivery
}

// transaction runs fn in a transaction, as gorm's Transaction does, and
// once it has committed gives the handoff what fn did with the webhook
// deliveries it wrote. Transactions that may write webhooks use it: told
// before the commit, a deliverer would look before the rows are visible.
func (s *Store) transaction(ctx context.Context, fn func(tx *eventTx) error) error {
	var h outbox.Handoff
	if p := s.handoff.Load(); p != nil {
		h = p.h
	}
	handed, err := s.eventTransaction(ctx, h, fn)
	if err != nil {
		return err
	}
	if h != nil && (len(handed.Deliveries) > 0 || handed.LeftForClaims) {
		h.Receive(handed)
	}
	return nil
}

// eventTransaction runs fn in a transaction that hands deliveries to h (nil
// for none) as it writes them, and returns, once committed, what it did
// with them.
func (s *Store) eventTransaction(ctx context.Context, h outbox.Handoff, fn func(tx *eventTx) error) (outbox.Handed, error) {
	out := &txOutbox{handoff: h, holder: s.holder}
	if h != nil {
		out.lease = h.Lease()
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return fn(&eventTx{DB: tx, out: out}) })
	if out.holderWrite != nil {
		if err != nil {
			out.holderWrite = nil
		}
		s.holder.wrote(out.holderWrite)
	}
	if err != nil {
		return outbox.Handed{}, err
	}
	s.holder.committed(slices.Collect(maps.Keys(out.handedSeqs)))
	// Written with the secrets as stored (sealed): they are opened only
	// as they leave the store.
	s.openClaimed(out.handed)
	return outbox.Handed{Deliveries: out.handed, LeftForClaims: out.leftForClaims, LeftMessages: out.leftMessages}, nil
}
