package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/inbound"
	"github.com/smsrouter/smsrouter/core/intake"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// TestBatchIsolatesTextPostgresRefuses: a member whose text PostgreSQL
// cannot store (SQLite can), in a batch with others, fails alone; the
// others are stored and hear nil. Every member is queued before the batch
// starts (MaxBatch is the batch's size and Linger long), so they share one
// transaction. TestBatcherCommitFailureReachesOnlyItsCaller is the same on
// both drivers with a reused message id.
func TestBatchIsolatesTextPostgresRefuses(t *testing.T) {
	cases := []struct {
		name   string
		poison func(m *intake.Message)
	}{
		// Not the text: it is stored sealed, so a NUL in it never reaches
		// PostgreSQL (the API refuses it before, with 422).
		{"NUL in the recipient", func(m *intake.Message) { m.Recipient = "+9591234\x0056789" }},
		{"invalid UTF-8 in the sender", func(m *intake.Message) { m.Sender = "A\xffB" }},
	}
	s := storetest.Open(t, store.DriverPostgres)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := ctxT(t)
			now := time.Now().UTC()
			acc := mustAccount(t, s, c.name).ID
			const size, bad = 9, 4
			members := make([]*intake.Message, size)
			for i := range members {
				members[i] = testMessage(acc, "+959123456789", fmt.Sprint("valid ", i), now)
			}
			c.poison(members[bad])
			b := store.NewBatcher(s, store.BatcherOptions{MaxBatch: size, Workers: 1, Linger: time.Minute})
			defer b.Close()
			errs := make([]error, size)
			var wg sync.WaitGroup
			for i, m := range members {
				wg.Go(func() { errs[i] = b.Accept(ctx, intake.Acceptance{Messages: []*intake.Message{m}}) })
			}
			wg.Wait()
			for i, err := range errs {
				switch {
				case i == bad && err == nil:
					t.Errorf("the poisoned member was accepted")
				case i != bad && err != nil:
					t.Errorf("member %d failed for another's input: %v", i, err)
				case i != bad:
					if _, err := s.GetMessage(ctx, acc, members[i].ID); err != nil {
						t.Errorf("member %d was answered nil but is not stored: %v", i, err)
					}
				}
			}
		})
	}
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
		ev := message.Event{ID: fmt.Sprint("mo-", i), Inbound: &inbound.Message{Sender: "+959123456789", Recipient: "+14155550100", Text: text, ReceivedAt: time.Now()}}
		wg.Go(func() { errs[i] = b.StoreEvents(ctx, "sandbox", []message.Event{ev}) })
	}
	wg.Wait()
	for i, err := range errs {
		if (err != nil) != (i == bad) {
			t.Errorf("member %d: error %v", i, err)
		}
	}
	msgs, _, err := s.ListInbound(context.Background(), "", inbound.Filter{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != size-1 {
		t.Errorf("%d inbound messages stored, want %d", len(msgs), size-1)
	}
}
