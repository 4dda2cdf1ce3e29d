package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
	"github.com/smsrouter/smsrouter/sdk"
)

// TestBatchIsolatesAFailingMember: one member the database refuses, in a
// batch with others, fails alone; the others are stored and hear nil.
// Every member is queued before the batch starts (MaxBatch is the batch's
// size and Linger long), so they share one transaction.
func TestBatchIsolatesAFailingMember(t *testing.T) {
	cases := []struct {
		name    string
		drivers []string // nil: both
		poison  func(acc string, stored *store.Message, now time.Time) *store.Message
	}{
		{"id of a stored message", nil, func(acc string, stored *store.Message, now time.Time) *store.Message {
			m := testMessage(acc, "+959123456780", "collides", now)
			m.ID = stored.ID
			return m
		}},
		// PostgreSQL cannot store NUL or invalid UTF-8 in text; SQLite can.
		{"NUL in the text", []string{store.DriverPostgres}, func(acc string, _ *store.Message, now time.Time) *store.Message {
			return testMessage(acc, "+959123456780", "nul \x00 byte", now)
		}},
		{"invalid UTF-8 in the sender", []string{store.DriverPostgres}, func(acc string, _ *store.Message, now time.Time) *store.Message {
			m := testMessage(acc, "+959123456780", "bad sender", now)
			m.Sender = "A\xffB"
			return m
		}},
	}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		for _, c := range cases {
			if c.drivers != nil && c.drivers[0] != s.Driver() {
				continue
			}
			t.Run(c.name, func(t *testing.T) {
				ctx := ctxT(t)
				now := time.Now().UTC()
				acc := mustAccount(t, s, "acme-"+fmt.Sprint(time.Now().UnixNano())).ID
				stored := testMessage(acc, "+959123456789", "stored first", now)
				if err := s.Accept(ctx, store.Acceptance{Messages: []*store.Message{stored}}); err != nil {
					t.Fatal(err)
				}
				const size = 9
				members := make([]*store.Message, size)
				for i := range members {
					members[i] = testMessage(acc, "+959123456789", fmt.Sprint("valid ", i), now)
				}
				const bad = 4
				members[bad] = c.poison(acc, stored, now)
				b := store.NewBatcher(s, store.BatcherOptions{MaxBatch: size, Workers: 1, Linger: time.Minute})
				defer b.Close()
				errs := make([]error, size)
				var wg sync.WaitGroup
				for i, m := range members {
					wg.Go(func() { errs[i] = b.Accept(ctx, store.Acceptance{Messages: []*store.Message{m}}) })
				}
				wg.Wait()
				for i, err := range errs {
					if i == bad {
						if err == nil {
							t.Errorf("the poisoned member was accepted")
						}
						continue
					}
					if err != nil {
						t.Errorf("member %d failed for another's input: %v", i, err)
					} else if _, err := s.GetMessage(ctx, acc, members[i].ID); err != nil {
						t.Errorf("member %d was answered nil but is not stored: %v", i, err)
					}
				}
			})
		}
	})
}

// TestEventBatchIsolatesAFailingMember is the same for provider events: an
// inbound message PostgreSQL cannot store fails only its own caller.
func TestEventBatchIsolatesAFailingMember(t *testing.T) {
	s := storetest.Open(t, store.DriverPostgres)
	ctx := ctxT(t)
	const size, bad = 6, 2
	b := store.NewEventBatcher(s, store.BatcherOptions{MaxBatch: size, Workers: 1, Linger: time.Minute})
	defer b.Close()
	errs := make([]error, size)
	var wg sync.WaitGroup
	for i := range size {
		text := fmt.Sprint("reply ", i)
		if i == bad {
			text = "nul \x00"
		}
		ev := sdk.Event{ID: fmt.Sprint("mo-", i), Inbound: &sdk.InboundEvent{From: "+959123456789", To: "+14155550100", Text: text, At: time.Now()}}
		wg.Go(func() { errs[i] = b.StoreEvents(ctx, "sandbox", []sdk.Event{ev}) })
	}
	wg.Wait()
	for i, err := range errs {
		if (err != nil) != (i == bad) {
			t.Errorf("member %d: error %v", i, err)
		}
	}
	msgs, _, err := s.ListInbound(context.Background(), "", store.InboundFilter{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != size-1 {
		t.Errorf("%d inbound messages stored, want %d", len(msgs), size-1)
	}
}
