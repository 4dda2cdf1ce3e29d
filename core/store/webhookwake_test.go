package store_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/inbound"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/outbox"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// The handoff is told of deliveries left for claims after the commits that
// wrote them, and only those: when it is, the deliveries are visible.
func TestHandoffToldOfDeliveriesLeftForClaims(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		acc := mustAccount(t, s, "acme")
		var calls, visible atomic.Int64
		s.HandOffWebhooks(&noRoom{received: func(h outbox.Handed) {
			if !h.LeftForClaims || len(h.Deliveries) != 0 {
				t.Errorf("received %+v, want deliveries left for claims and none handed over", h)
			}
			calls.Add(1)
			var n int64
			if err := s.DB().Model(&store.WebhookDelivery{}).Count(&n).Error; err != nil {
				t.Error(err)
			}
			visible.Store(n)
		}})
		defer s.HandOffWebhooks(nil)
		now := time.Now().UTC()
		msgs := []*store.Message{testRow(acc.ID, "+959123456789", "a", now), testRow(acc.ID, "+959123456780", "b", now)}
		if err := storetest.InsertMessages(ctx, s, msgs); err != nil {
			t.Fatal(err)
		}
		sent := func(m *store.Message) {
			t.Helper()
			if _, err := s.ClaimDue(ctx, now.Add(time.Second), 10, time.Minute); err != nil {
				t.Fatal(err)
			}
			if err := s.RecordAttempts(ctx, []message.Attempt{{MessageID: m.ID, Provider: "a", Status: message.Sent,
				ProviderMessageID: "p-" + m.ID, At: now}}); err != nil {
				t.Fatal(err)
			}
		}
		// No webhook configured: nothing enqueued, nobody told.
		sent(msgs[0])
		if err := s.StoreEvents(ctx, "a", []message.Event{{ID: "mo-1", Inbound: &inbound.Message{Sender: "+959123456789", Recipient: "+14155550100", Text: "hi"}}}); err != nil {
			t.Fatal(err)
		}
		if n := calls.Load(); n != 0 {
			t.Fatalf("called %d times without a webhook", n)
		}

		if _, _, err := s.SetWebhook(ctx, acc.ID, "https://app.example/hooks", false); err != nil {
			t.Fatal(err)
		}
		steps := []struct {
			name string
			do   func()
		}{
			{"RecordAttempts", func() { sent(msgs[1]) }},
			{"StoreEvents, a status", func() {
				if err := s.StoreEvents(ctx, "a", []message.Event{{ID: "dlr-1", Report: &message.Report{ProviderMessageID: "p-" + msgs[0].ID,
					Status: message.Delivered, At: now}}}); err != nil {
					t.Fatal(err)
				}
			}},
			{"StoreEvents, an inbound message", func() {
				if err := s.StoreEvents(ctx, "a", []message.Event{{ID: "mo-2", Inbound: &inbound.Message{Sender: "+959123456789", Recipient: "+14155550100", Text: "hi"}}}); err != nil {
					t.Fatal(err)
				}
			}},
			{"StoreEventsMany", func() {
				res, err := s.StoreEventsMany(ctx, []store.ProviderEvents{
					{Provider: "a", Events: []message.Event{{ID: "mo-3", Inbound: &inbound.Message{Sender: "+959123456789", Recipient: "+14155550100", Text: "x"}}}},
					{Provider: "a", Events: []message.Event{{ID: "mo-4", Inbound: &inbound.Message{Sender: "+959123456789", Recipient: "+14155550100", Text: "y"}}}},
				})
				if err != nil || res[0] != nil || res[1] != nil {
					t.Fatalf("StoreEventsMany = %v, %v", res, err)
				}
			}},
		}
		for i, step := range steps {
			var before int64
			if err := s.DB().Model(&store.WebhookDelivery{}).Count(&before).Error; err != nil {
				t.Fatal(err)
			}
			step.do()
			if n := calls.Load(); n != int64(i+1) {
				t.Errorf("%s: called %d times in all, want %d", step.name, n, i+1)
			}
			if v := visible.Load(); v <= before {
				t.Errorf("%s: the callback saw %d deliveries, no more than the %d before: called before the commit", step.name, v, before)
			}
		}
		// A repeated event writes nothing.
		if err := s.StoreEvents(ctx, "a", []message.Event{{ID: "mo-2", Inbound: &inbound.Message{Sender: "+959123456789", Recipient: "+14155550100", Text: "hi"}}}); err != nil {
			t.Fatal(err)
		}
		if n := calls.Load(); n != int64(len(steps)) {
			t.Errorf("a repeated event called it: %d calls, want %d", n, len(steps))
		}
	})
}

// noRoom is a deliverer that takes nothing by hand-over.
type noRoom struct{ received func(outbox.Handed) }

func (*noRoom) Room() int                   { return 0 }
func (*noRoom) Holds(string, []uint64) bool { return false }
func (*noRoom) Knows(string, message.Status) ([]uint64, bool) {
	return nil, false
}
func (*noRoom) Lease() time.Duration      { return time.Minute }
func (h *noRoom) Receive(r outbox.Handed) { h.received(r) }
