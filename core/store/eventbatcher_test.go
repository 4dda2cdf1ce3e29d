package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// TestEventBatcherStoresConcurrentReports: reports of many callers at once
// all land, and a caller whose events the store refuses fails alone, even
// when its events shared a batch with the others.
func TestEventBatcherStoresConcurrentReports(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		const n = 60
		ids := make([]string, n)
		for i := range n {
			ids[i] = sentMessage(t, s, "sbx", fmt.Sprintf("p%d", i))
		}
		b := store.NewEventBatcher(s, store.BatcherOptions{MaxBatch: 16, Linger: 5 * time.Millisecond})
		defer b.Close()

		var wg sync.WaitGroup
		errs := make([]error, n+1)
		for i := range n {
			wg.Go(func() {
				errs[i] = b.StoreEvents(context.Background(), "sbx",
					[]message.Event{statusEvent(fmt.Sprintf("e%d", i), fmt.Sprintf("p%d", i), message.Delivered, msgStart.Add(time.Minute))})
			})
		}
		wg.Go(func() {
			errs[n] = b.StoreEvents(context.Background(), "sbx",
				[]message.Event{{ID: "bad", Report: &message.Report{ProviderMessageID: "p0", Status: "teleported"}}})
		})
		wg.Wait()
		for i, err := range errs[:n] {
			if err != nil {
				t.Errorf("caller %d: %v", i, err)
			}
		}
		if errs[n] == nil || !strings.Contains(errs[n].Error(), "teleported") {
			t.Errorf("the invalid event's caller got %v, want an error naming the invalid status", errs[n])
		}
		for i, id := range ids {
			if m := getMessage(t, s, id); m.Status != "delivered" {
				t.Errorf("message %d is %s, want delivered", i, m.Status)
			}
		}
	})
}

// TestEventBatcherAfterClose: events stored after Close are stored on
// their own, not lost.
func TestEventBatcherAfterClose(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		id := sentMessage(t, s, "sbx", "p1")
		b := store.NewEventBatcher(s, store.BatcherOptions{})
		b.Close()
		storeEvt := statusEvent("e1", "p1", message.Delivered, msgStart.Add(time.Minute))
		if err := b.StoreEvents(context.Background(), "sbx", []message.Event{storeEvt}); err != nil {
			t.Fatalf("StoreEvents after Close: %v", err)
		}
		if m := getMessage(t, s, id); m.Status != "delivered" {
			t.Errorf("status %s, want delivered", m.Status)
		}
	})
}
