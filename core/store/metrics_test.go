package store_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/smsrouter/smsrouter/core/dispatch"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

func TestMetricsQueries(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		now := msgStart
		if _, ok, err := s.OldestDue(ctx, now); err != nil || ok {
			t.Fatalf("OldestDue on an empty queue = %v, %v", ok, err)
		}
		due := newMessages(3, []string{"a", "b"}, now.Add(-time.Minute))
		later := newMessages(2, []string{"a"}, now.Add(time.Hour))
		pending := newMessages(1, []string{"b"}, now.Add(-2*time.Minute))
		pending[0].Status = message.Pending
		insert(t, s, slices.Concat(pending, due, later)...)

		// The pending one (oldest) and one queued are claimed; the queued
		// one is answered, the pending one stays leased.
		claimed := claim(t, s, now, 2, time.Minute)
		if len(claimed) != 2 {
			t.Fatalf("claimed %d, want 2", len(claimed))
		}
		var sent string
		for _, m := range claimed {
			if m.Status == message.Queued {
				sent = m.ID
			}
		}
		err := s.RecordAttempts(ctx, []message.Attempt{{MessageID: sent, Provider: "a", Status: message.Sent,
			ProviderMessageID: "p-1", At: now}})
		if err != nil {
			t.Fatal(err)
		}

		depths, err := s.QueueDepths(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(depths, func(a, b dispatch.QueueDepth) int { return strings.Compare(string(a.Status), string(b.Status)) })
		want := []dispatch.QueueDepth{
			{Status: "pending", Leased: 1},
			{Status: "queued", Due: 2, Scheduled: 2},
		}
		if !slices.Equal(depths, want) {
			t.Errorf("QueueDepths = %+v, want %+v", depths, want)
		}

		oldest, ok, err := s.OldestDue(ctx, now)
		if err != nil || !ok || !oldest.Equal(now.Add(-time.Minute)) {
			t.Errorf("OldestDue = %v, %v, %v; want %v", oldest, ok, err, now.Add(-time.Minute))
		}

		counts, err := s.CountMessages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		slices.SortFunc(counts, func(a, b message.Count) int {
			return strings.Compare(string(a.Status)+a.Provider, string(b.Status)+b.Provider)
		})
		wantCounts := []message.Count{{Status: "pending", N: 1}, {Status: "queued", N: 4}, {Status: "sent", Provider: "a", N: 1}}
		if !slices.Equal(counts, wantCounts) {
			t.Errorf("CountMessages = %+v, want %+v", counts, wantCounts)
		}

		if n, err := s.CountPendingWebhooks(ctx); err != nil || n != 0 {
			t.Fatalf("CountPendingWebhooks = %d, %v; want 0", n, err)
		}
		acc, err := s.CreateAccount(ctx, "metrics")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.SetWebhook(ctx, acc.ID, "http://127.0.0.1:1/hook", false); err != nil {
			t.Fatal(err)
		}
		err = s.DB().Transaction(func(tx *gorm.DB) error {
			for range 2 {
				if err := store.EnqueueWebhook(tx, acc.ID, "", "balance.low", map[string]any{}, now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := s.CountPendingWebhooks(ctx); err != nil || n != 2 {
			t.Errorf("CountPendingWebhooks = %d, %v; want 2", n, err)
		}
	})
}
