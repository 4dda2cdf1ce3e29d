package store_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// Two reports of one delivery under different event ids (the event stream
// and a status poll, on two servers) stored at the same moment move the
// message once: one applied transition, the other kept as not applied.
func TestConcurrentReportsOfOneMessageApplyOnce(t *testing.T) {
	storetest.EachPair(t, store.Options{}, func(t *testing.T, a, b *store.Store) {
		const n = 30
		ids := make([]string, n)
		for i := range ids {
			ids[i] = sentMessage(t, a, "p", fmt.Sprintf("pm-%d", i))
		}
		var wg sync.WaitGroup
		for k, s := range []*store.Store{a, b} {
			wg.Go(func() {
				for i := range n {
					ev := statusEvent(fmt.Sprintf("source-%d/pm-%d", k, i), fmt.Sprintf("pm-%d", i), message.Delivered, msgStart)
					if err := s.StoreEvents(context.Background(), "p", []message.Event{ev}); err != nil {
						t.Errorf("StoreEvents: %v", err)
					}
				}
			})
		}
		wg.Wait()
		for _, id := range ids {
			want := []string{"queued", "sent", "delivered", "delivered (not applied)"}
			if got := history(t, a, id); !slices.Equal(got, want) {
				t.Errorf("history of %s %q, want %q", id, got, want)
			}
		}
	})
}

// Servers sweeping held reports at once apply each of them once.
func TestConcurrentHeldSweepsApplyEachReportOnce(t *testing.T) {
	storetest.EachPair(t, store.Options{}, func(t *testing.T, a, b *store.Store) {
		ctx := context.Background()
		const n = 30
		ids := make([]string, n)
		for i := range ids {
			pm := fmt.Sprintf("pm-%d", i)
			ids[i] = sentMessage(t, a, "p", pm)
			// Held: the report came while the store knew another id.
			if err := a.DB().Model(&store.Message{}).Where("id = ?", ids[i]).Update("provider_message_id", "other").Error; err != nil {
				t.Fatal(err)
			}
			storeEvents(t, a, "p", statusEvent("e/"+pm, pm, message.Delivered, msgStart))
			if err := a.DB().Model(&store.Message{}).Where("id = ?", ids[i]).Update("provider_message_id", pm).Error; err != nil {
				t.Fatal(err)
			}
		}
		applied := make([]int, 2)
		var wg sync.WaitGroup
		for k, s := range []*store.Store{a, b} {
			wg.Go(func() {
				for range 3 {
					got, err := s.ApplyHeldStatuses(ctx, 5)
					if err != nil {
						t.Errorf("ApplyHeldStatuses: %v", err)
						return
					}
					applied[k] += got
				}
			})
		}
		wg.Wait()
		for k, s := range []*store.Store{a, b} {
			got, err := s.ApplyHeldStatuses(ctx, n)
			if err != nil {
				t.Fatal(err)
			}
			applied[k] += got
		}
		if applied[0]+applied[1] != n {
			t.Errorf("sweeps applied %v reports, want %d in all", applied, n)
		}
		for _, id := range ids {
			if got, want := history(t, a, id), []string{"queued", "sent", "delivered"}; !slices.Equal(got, want) {
				t.Errorf("history of %s %q, want %q: each held report applied once", id, got, want)
			}
		}
	})
}
