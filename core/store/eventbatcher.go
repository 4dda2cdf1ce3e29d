package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/smsrouter/smsrouter/core/message"
)

// maxBatchEvents stops gathering events once a batch holds this many.
const maxBatchEvents = 2000

// ProviderEvents are events one provider reported together.
type ProviderEvents struct {
	Provider string
	Events   []message.Event
}

// EventBatcher stores provider events that arrive concurrently (every
// provider's reports, hooks) in shared transactions, as Batcher does for
// acceptances: storing receipts one commit each would cap a pipeline at the
// database's commit rate. Each caller still learns whether its own events
// were stored.
type EventBatcher struct {
	g groupCommit[ProviderEvents]
}

// NewEventBatcher starts an EventBatcher over st; Close stops it. Workers
// defaults to 2: a second batch can gather while one commits.
func NewEventBatcher(st *Store, o BatcherOptions) *EventBatcher {
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 1000
	}
	if st.driver == DriverSQLite {
		o.Workers = 1
	}
	b := &EventBatcher{g: groupCommit[ProviderEvents]{
		o:         o,
		weight:    func(p ProviderEvents) int { return len(p.Events) },
		maxWeight: maxBatchEvents,
		commit:    st.StoreEventsMany,
		ping:      st.Ping,
		log:       st.log,
		alone: func(ctx context.Context, p ProviderEvents) error {
			return st.StoreEvents(ctx, p.Provider, p.Events)
		},
	}}
	b.g.start()
	return b
}

// StoreEvents stores the events in the next batch and returns once they are
// committed, or with the error that kept them from it. It has the signature
// of Store.StoreEvents, so either serves the plugin host.
func (b *EventBatcher) StoreEvents(ctx context.Context, provider string, events []message.Event) error {
	if len(events) == 0 {
		return nil
	}
	if err := b.g.do(ctx, ProviderEvents{Provider: provider, Events: events}); err != nil {
		return fmt.Errorf("store %d events of %s: %w", len(events), provider, err)
	}
	return nil
}

// Close stores what is queued, waits for the batches in flight and stops
// the workers. Later calls store on their own.
func (b *EventBatcher) Close() { b.g.close() }

// StoreEventsMany stores several groups of events in one transaction.
// Should that transaction fail (a deadlock with a concurrent batch, one
// event the store refuses), each group is stored again on its own, so that
// one bad event fails only its own caller: results[i] is group i's outcome.
func (s *Store) StoreEventsMany(ctx context.Context, groups []ProviderEvents) (results []error, err error) {
	results = make([]error, len(groups))
	if len(groups) == 1 {
		results[0] = s.StoreEvents(ctx, groups[0].Provider, groups[0].Events)
		return results, nil
	}
	// Status events in one order for every batch, so concurrent batches
	// update the same messages in the same order instead of deadlocking.
	// Events of one message keep their order (a stable sort).
	type item struct {
		provider string
		ev       message.Event
	}
	var all []item
	for _, g := range groups {
		for _, ev := range g.Events {
			all = append(all, item{g.Provider, ev})
		}
	}
	slices.SortStableFunc(all, func(a, b item) int {
		return cmp.Or(cmp.Compare(a.provider, b.provider), cmp.Compare(messageKey(a.ev), messageKey(b.ev)))
	})
	err = s.transaction(ctx, func(tx *eventTx) error {
		// The batch's webhooks go into the outbox in one insert.
		flushOutbox := tx.collect()
		// One call per provider (all is sorted by provider), so that its
		// reports are applied with a few statements for all of them.
		for start := 0; start < len(all); {
			end := start
			evs := make([]message.Event, 0, len(all)-start)
			for end < len(all) && all[end].provider == all[start].provider {
				evs = append(evs, all[end].ev)
				end++
			}
			if err := s.storeEvents(tx, all[start].provider, evs); err != nil {
				return err
			}
			start = end
		}
		return flushOutbox()
	})
	if err == nil {
		return results, nil
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("store %d events: %w", len(all), err)
	}
	s.log.Warn("storing a batch of events failed; storing each caller's events on its own", "groups", len(groups), "events", len(all), "error", err)
	for i, g := range groups {
		results[i] = s.StoreEvents(ctx, g.Provider, g.Events)
	}
	return results, nil
}

func messageKey(ev message.Event) string {
	if ev.Report != nil {
		return ev.Report.ProviderMessageID
	}
	return ""
}
