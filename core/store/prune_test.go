package store_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/outbox"
	"github.com/smsrouter/smsrouter/core/retention"
	"github.com/smsrouter/smsrouter/core/store"
)

func count(t *testing.T, s *store.Store, model any, where string, args ...any) int64 {
	t.Helper()
	var n int64
	q := s.DB().Model(model)
	if where != "" {
		q = q.Where(where, args...)
	}
	if err := q.Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPruneKeepsWhatStillMatters(t *testing.T) {
	c := newClock()
	c.pairs(t, func(t *testing.T, a, _ *store.Store) {
		ctx := ctxT(t)
		db := a.DB()
		start := c.now()
		day := 24 * time.Hour

		// Rate windows: one idle for 25h, one used 23h ago.
		for _, bucket := range []string{"sms:old", "sms:fresh"} {
			if ok, _, err := a.TakeRate(ctx, bucket, 5, time.Minute); err != nil || !ok {
				t.Fatalf("TakeRate(%s) = %v, %v", bucket, ok, err)
			}
			c.add(2 * time.Hour)
		}
		// OTP codes, by when they were created and what became of them.
		pruneAt := start.Add(25 * time.Hour)
		at := func(ago time.Duration) time.Time { return pruneAt.Add(-ago) }
		used := at(25*time.Hour - time.Minute)
		codes := []store.OTPCode{
			{ID: "otp_used_old", CreatedAt: at(25 * time.Hour), ExpiresAt: at(25*time.Hour - 5*time.Minute), UsedAt: &used},
			{ID: "otp_expired_old", CreatedAt: at(25 * time.Hour), ExpiresAt: at(25*time.Hour - 5*time.Minute)},
			{ID: "otp_used_recent", CreatedAt: at(time.Hour), ExpiresAt: at(time.Hour - 5*time.Minute), UsedAt: &used},
			{ID: "otp_expired_recent", CreatedAt: at(23 * time.Hour), ExpiresAt: at(23*time.Hour - 5*time.Minute)},
			// Old yet neither used nor expired (a very long TTL): it still verifies.
			{ID: "otp_pending_old", CreatedAt: at(25 * time.Hour), ExpiresAt: pruneAt.Add(30 * day)},
		}
		for i := range codes {
			codes[i].AccountID, codes[i].Phone, codes[i].MessageID, codes[i].Salt, codes[i].Hash = "acc", "+959123456789", "msg", "s", "h"
		}
		if err := db.Create(&codes).Error; err != nil {
			t.Fatal(err)
		}
		// Webhook deliveries, each with two attempts.
		deliveries := []struct {
			event, state string
			ago          time.Duration
		}{
			{"evt_delivered_old", store.WebhookDelivered, 31 * day},
			{"evt_gave_up_old", store.WebhookGaveUp, 31 * day},
			{"evt_delivered_29d", store.WebhookDelivered, 29 * day},
			{"evt_pending_old", store.WebhookPending, 31 * day},
		}
		seqs := map[string]uint64{}
		for _, d := range deliveries {
			created := at(d.ago + time.Hour)
			row := store.WebhookDelivery{EventID: d.event, AccountID: "acc", MessageID: "msg_" + d.event, Type: string(outbox.EventMessageSent),
				Payload: "{}", State: d.state, Attempts: 2, NextAttemptAt: at(d.ago + time.Minute), CreatedAt: created}
			done := at(d.ago)
			switch d.state {
			case store.WebhookDelivered:
				row.DeliveredAt = &done
			case store.WebhookGaveUp:
				row.GaveUpAt = &done
			}
			if err := db.Create(&row).Error; err != nil {
				t.Fatal(err)
			}
			seqs[d.event] = row.Seq
			for i := range 2 {
				if err := db.Create(&store.WebhookAttempt{DeliverySeq: row.Seq, At: created.Add(time.Duration(i) * time.Minute), DurationMS: 5}).Error; err != nil {
					t.Fatal(err)
				}
			}
		}
		// Processed event ids: more than one chunk of old ones, and recent ones.
		var events []store.ProcessedEvent
		for i := range 5000*2 + 3 {
			events = append(events, store.ProcessedEvent{Provider: "fast", EventID: fmt.Sprintf("old-%d", i), CreatedAt: at(31 * day)})
		}
		for i := range 4 {
			events = append(events, store.ProcessedEvent{Provider: "fast", EventID: fmt.Sprintf("recent-%d", i), CreatedAt: at(29 * day)})
		}
		if err := db.CreateInBatches(events, 1000).Error; err != nil {
			t.Fatal(err)
		}

		c.add(pruneAt.Sub(c.now())) // sms:old was used 25h ago, sms:fresh 23h ago
		p, err := a.Prune(ctx, retention.Policy{})
		if err != nil {
			t.Fatal(err)
		}
		want := retention.Pruned{RateWindows: 1, OTPCodes: 2, Webhooks: 2, WebhookAttempts: 4, ProcessedEvents: 5000*2 + 3}
		if p != want {
			t.Errorf("Prune = %+v, want %+v", p, want)
		}
		if n := count(t, a, &store.RateWindow{}, "bucket = ?", "sms:fresh"); n != 1 {
			t.Errorf("the window used 23h ago was deleted")
		}
		var left []string
		if err := db.Model(&store.OTPCode{}).Order("id").Pluck("id", &left).Error; err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(left) != "[otp_expired_recent otp_pending_old otp_used_recent]" {
			t.Errorf("OTP codes left: %v", left)
		}
		for event, seq := range seqs {
			gone := event == "evt_delivered_old" || event == "evt_gave_up_old"
			if n := count(t, a, &store.WebhookDelivery{}, "seq = ?", seq); (n == 0) != gone {
				t.Errorf("%s: %d rows left, want gone=%v", event, n, gone)
			}
			if n := count(t, a, &store.WebhookAttempt{}, "delivery_seq = ?", seq); (n == 0) != gone {
				t.Errorf("%s: %d attempts left, want gone=%v", event, n, gone)
			}
		}
		if n := count(t, a, &store.ProcessedEvent{}, ""); n != 4 {
			t.Errorf("%d processed event ids left, want the 4 recent ones", n)
		}

		// A deleted window counts from zero again.
		if ok, _, err := a.TakeRate(ctx, "sms:old", 1, time.Minute); err != nil || !ok {
			t.Errorf("TakeRate after pruning its window = %v, %v", ok, err)
		}
		// Nothing more to do, then a shorter retention takes the rest.
		if p, err := a.Prune(ctx, retention.Policy{}); err != nil || p.Total() != 0 {
			t.Errorf("second Prune = %+v, %v; want nothing deleted", p, err)
		}
		p, err = a.Prune(ctx, retention.Policy{Webhooks: 10 * day, ProcessedEvents: 10 * day})
		if err != nil || p.Webhooks != 1 || p.WebhookAttempts != 2 || p.ProcessedEvents != 4 {
			t.Errorf("Prune with 10 days = %+v, %v; want the 29-day-old delivery and event ids", p, err)
		}
		if n := count(t, a, &store.WebhookDelivery{}, "state = ?", store.WebhookPending); n != 1 {
			t.Errorf("a pending delivery was pruned")
		}
	})
}

// TestPruneOnTwoServers runs Prune on two stores sharing a database at
// once: every old row goes exactly once, neither fails.
func TestPruneOnTwoServers(t *testing.T) {
	c := newClock()
	c.pairs(t, func(t *testing.T, a, b *store.Store) {
		ctx := ctxT(t)
		const n = 5000*3 + 7
		var events []store.ProcessedEvent
		for i := range n {
			events = append(events, store.ProcessedEvent{Provider: "fast", EventID: fmt.Sprintf("e-%d", i), CreatedAt: c.now().Add(-40 * 24 * time.Hour)})
		}
		// 50 rows (200 parameters) per insert: the SQLite driver binds a
		// parameter by searching the list, so larger inserts cost the
		// square of their size (seconds each under the race detector).
		if err := a.DB().CreateInBatches(events, 50).Error; err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		got := make([]retention.Pruned, 2)
		errs := make([]error, 2)
		for i, s := range []*store.Store{a, b} {
			wg.Go(func() { got[i], errs[i] = s.Prune(ctx, retention.Policy{}) })
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("Prune errors: %v, %v", errs[0], errs[1])
		}
		if total := got[0].ProcessedEvents + got[1].ProcessedEvents; total != n {
			t.Errorf("the two deleted %d + %d event ids, want %d in all", got[0].ProcessedEvents, got[1].ProcessedEvents, n)
		}
		if left := count(t, a, &store.ProcessedEvent{}, ""); left != 0 {
			t.Errorf("%d event ids left", left)
		}
	})
}

// TestPruneWebhooksWalksThePrimaryKey: the prune reads deliveries in seq
// order, a page at a time, up to the first one created within the
// retention. Finished deliveries past the retention go, over more than a
// page and around pending ones; a pending delivery, one finished within
// the retention and everything created within it stay.
func TestPruneWebhooksWalksThePrimaryKey(t *testing.T) {
	c := newClock()
	c.pairs(t, func(t *testing.T, a, _ *store.Store) {
		ctx := ctxT(t)
		now := c.now()
		old, recent := now.Add(-40*24*time.Hour), now.Add(-time.Hour)
		row := func(i int, state string, created, done time.Time) store.WebhookDelivery {
			d := store.WebhookDelivery{EventID: fmt.Sprintf("evt_%d", i), AccountID: "acc", MessageID: fmt.Sprintf("msg_%d", i),
				Type: string(outbox.EventMessageSent), Payload: "{}", State: state, Attempts: 1, NextAttemptAt: created, CreatedAt: created}
			switch state {
			case store.WebhookDelivered:
				d.DeliveredAt = &done
			case store.WebhookGaveUp:
				d.GaveUpAt = &done
			}
			return d
		}
		const pages = 5000 + 20
		var rows []store.WebhookDelivery
		for i := range pages {
			switch {
			case i%7 == 3:
				rows = append(rows, row(i, store.WebhookPending, old, time.Time{}))
			case i%7 == 5:
				rows = append(rows, row(i, store.WebhookGaveUp, old, old.Add(time.Minute)))
			case i == 11:
				// Created long ago, finished within the retention.
				rows = append(rows, row(i, store.WebhookDelivered, old, recent))
			default:
				rows = append(rows, row(i, store.WebhookDelivered, old, old.Add(time.Second)))
			}
		}
		for i := range 3 {
			rows = append(rows, row(pages+i, store.WebhookDelivered, recent, recent))
		}
		if err := a.DB().CreateInBatches(rows, 50).Error; err != nil {
			t.Fatal(err)
		}
		var want int64
		for _, r := range rows {
			if r.State != store.WebhookPending && r.CreatedAt.Equal(old) && r.EventID != "evt_11" {
				want++
			}
		}
		p, err := a.Prune(ctx, retention.Policy{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Webhooks != want {
			t.Errorf("Prune deleted %d deliveries, want %d", p.Webhooks, want)
		}
		if left := count(t, a, &store.WebhookDelivery{}, ""); left != int64(len(rows))-want {
			t.Errorf("%d deliveries left, want %d", left, int64(len(rows))-want)
		}
		if n := count(t, a, &store.WebhookDelivery{}, "event_id = ?", "evt_11"); n != 1 {
			t.Error("a delivery finished within the retention was pruned")
		}
		if n := count(t, a, &store.WebhookDelivery{}, "created_at > ?", old); n != 3 {
			t.Errorf("%d of the 3 recent deliveries left", n)
		}
		if p, err := a.Prune(ctx, retention.Policy{}); err != nil || p.Webhooks != 0 {
			t.Errorf("second Prune = %+v, %v; want nothing deleted", p, err)
		}
	})
}
