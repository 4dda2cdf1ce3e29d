package store_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/outbox"
	"github.com/smsrouter/smsrouter/core/retention"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// upgradeFixture is a database as the release at commit fbcf146 left it,
// written through that release's store (a test in its checkout, see
// testdata/upgrade-fbcf146/README): its schema and rows in every state a
// message, a held report and a webhook delivery can be in, plus what that
// release answered for each message (views-<driver>.json).
const upgradeFixture = "testdata/upgrade-fbcf146"

// upgradeBase is when the fixture's first message was accepted.
var upgradeBase = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)

// upgradeMessages are the fixture's messages, one per state.
var upgradeMessages = []string{"msg_up_queued", "msg_up_scheduled", "msg_up_pending", "msg_up_sent", "msg_up_polled",
	"msg_up_delivered", "msg_up_failed", "msg_up_twice"}

// TestUpgradeFromPreviousRelease opens a database written by the previous
// release with today's store, as production upgrades in place, and checks
// that what it holds still reads and still moves: the same details,
// history and webhook listings; a replayed receipt still dropped; a held
// report still applied; queued messages sent; the poller's messages found;
// pending webhooks delivered in order; old rows pruned.
func TestUpgradeFromPreviousRelease(t *testing.T) {
	for _, driver := range storetest.Drivers() {
		t.Run(driver, func(t *testing.T) {
			now := upgradeBase.Add(10 * time.Minute)
			s := openUpgraded(t, driver, func() time.Time { return now })
			ctx := t.Context()

			checkSameViews(t, s, driver)

			// A provider sending the final receipt again: the old release
			// remembered its id in processed_events.
			before := history(t, s, "msg_up_delivered")
			hooksBefore := messageWebhookTypes(t, s, "msg_up_delivered")
			storeEvents(t, s, "sandbox", statusEvent("ev-delivered", "p-delivered", message.Delivered, now))
			if got := history(t, s, "msg_up_delivered"); !slices.Equal(got, before) {
				t.Errorf("history after a replayed receipt = %v, want %v as before", got, before)
			}
			if got := messageWebhookTypes(t, s, "msg_up_delivered"); !slices.Equal(got, hooksBefore) {
				t.Errorf("webhooks after a replayed receipt = %v, want %v as before", got, hooksBefore)
			}

			// The queued message and the one whose lease ran out are
			// claimed; the scheduled one is not due.
			claimed, err := s.ClaimDue(ctx, now, 10, time.Minute)
			if err != nil {
				t.Fatalf("ClaimDue: %v", err)
			}
			var ids []string
			for _, m := range claimed {
				ids = append(ids, m.ID)
			}
			slices.Sort(ids)
			if want := []string{"msg_up_pending", "msg_up_queued"}; !slices.Equal(ids, want) {
				t.Fatalf("claimed %v, want %v", ids, want)
			}
			record(t, s,
				message.Attempt{MessageID: "msg_up_queued", Provider: "sandbox", Status: message.Sent, ProviderMessageID: "p-queued", At: now},
				message.Attempt{MessageID: "msg_up_pending", Provider: "sandbox", Status: message.Sent, ProviderMessageID: "p-held", At: now})
			if _, err := s.ApplyHeldStatuses(ctx, 100); err != nil {
				t.Fatalf("ApplyHeldStatuses: %v", err)
			}
			if got, want := history(t, s, "msg_up_queued"), []string{"queued", "sent"}; !slices.Equal(got, want) {
				t.Errorf("history of the queued message once sent = %v, want %v", got, want)
			}
			if got, want := history(t, s, "msg_up_pending"), []string{"queued", "sent", "delivered"}; !slices.Equal(got, want) {
				t.Errorf("history of the message with a held report = %v, want %v", got, want)
			}

			// A receipt for a message the old release sent: its history goes
			// on from the old release's rows.
			storeEvents(t, s, "sandbox", statusEvent("ev-sent-delivered", "p-sent", message.Delivered, now))
			if got, want := history(t, s, "msg_up_sent"), []string{"queued", "sent", "delivered"}; !slices.Equal(got, want) {
				t.Errorf("history of an old sent message once delivered = %v, want %v", got, want)
			}
			if got, want := messageWebhookTypes(t, s, "msg_up_sent"), []string{"message.sent", "message.delivered"}; !slices.Equal(got, want) {
				t.Errorf("webhooks of an old sent message once delivered = %v, want %v", got, want)
			}

			polled, err := s.ClaimAwaitingReport(ctx, "poller", now, now, 10, time.Minute)
			if err != nil {
				t.Fatalf("ClaimAwaitingReport: %v", err)
			}
			if len(polled) != 1 || polled[0].ID != "msg_up_polled" {
				t.Errorf("the poller claimed %+v, want msg_up_polled", polled)
			}

			delivered := deliverAllWebhooks(t, s, now)
			checkWebhookOrder(t, delivered)
			for _, seq := range []uint64{3, 4, 5, 6, 7} { // the fixture's pending and leased deliveries
				if !slices.ContainsFunc(delivered, func(d outbox.Delivery) bool { return d.Seq == seq }) {
					t.Errorf("the fixture's delivery %d was not delivered (delivered %v)", seq, delivered)
				}
			}

			now = upgradeBase.Add(60 * 24 * time.Hour)
			pruned, err := s.Prune(ctx, retention.Policy{})
			if err != nil {
				t.Fatalf("Prune: %v", err)
			}
			if pruned.Webhooks < 7 || pruned.ProcessedEvents < 3 {
				t.Errorf("Prune = %+v, want the fixture's 7 finished webhooks and 3 event ids gone", pruned)
			}
			for _, table := range []string{"webhook_deliveries", "processed_events", "held_statuses"} {
				var n int64
				if err := s.DB().Table(table).Count(&n).Error; err != nil {
					t.Fatal(err)
				}
				if n != 0 {
					t.Errorf("%d rows left in %s after the retention passed, want 0", n, table)
				}
			}
		})
	}
}

// openUpgraded loads the fixture into a fresh database of driver and opens
// it with today's store, which migrates it.
func openUpgraded(t *testing.T, driver string, now func() time.Time) *store.Store {
	t.Helper()
	dsn := storetest.LoadDump(t, driver, filepath.Join(upgradeFixture, driver+".sql"))
	s, err := store.Open(t.Context(), store.Options{Driver: driver, DSN: dsn, Keys: storetest.KeysFrom(t, storetest.UpgradeFixtureKey), Now: now, Logger: storetest.Logger(t)})
	if err != nil {
		t.Fatalf("open the previous release's %s database: %v", driver, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// checkSameViews compares each message's detail (with its history), view
// and webhook listing with what the previous release answered for it.
func checkSameViews(t *testing.T, s *store.Store, driver string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(upgradeFixture, "views-"+driver+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, id := range upgradeMessages {
		d, err := s.MessageDetail(ctx, msgAccount, id)
		if err != nil {
			t.Fatalf("MessageDetail(%s): %v", id, err)
		}
		v, err := s.MessageView(ctx, msgAccount, id)
		if err != nil {
			t.Fatalf("MessageView(%s): %v", id, err)
		}
		w, err := s.MessageWebhooks(ctx, msgAccount, id)
		if err != nil {
			t.Fatalf("MessageWebhooks(%s): %v", id, err)
		}
		got := asJSON(t, map[string]any{"detail": d, "view": v, "webhooks": w})
		if old := asJSON(t, want[id]); got != old {
			t.Errorf("%s reads differently after the upgrade:\ngot  %s\nwant %s", id, got, old)
		}
	}
}

// asJSON is v as compact JSON with sorted keys, so that a value and its
// decoded copy compare equal.
func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	b, err = json.Marshal(generic)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func messageWebhookTypes(t *testing.T, s *store.Store, id string) []string {
	t.Helper()
	logged, err := s.MessageWebhooks(t.Context(), msgAccount, id)
	if err != nil {
		t.Fatalf("MessageWebhooks(%s): %v", id, err)
	}
	out := make([]string, len(logged))
	for i, l := range logged {
		out[i] = string(l.Type)
	}
	return out
}

// deliverAllWebhooks claims and records delivered every due webhook, as a
// deliverer whose receiver answers 2xx would, until none is left, and
// returns them in the order they were claimed.
func deliverAllWebhooks(t *testing.T, s *store.Store, now time.Time) []outbox.Delivery {
	t.Helper()
	var all []outbox.Delivery
	for range 20 {
		ds, err := s.ClaimWebhooks(t.Context(), now, 100, time.Minute, nil)
		if err != nil {
			t.Fatalf("ClaimWebhooks: %v", err)
		}
		if len(ds) == 0 {
			return all
		}
		results := make([]outbox.Result, len(ds))
		inBatch := map[string]bool{}
		for i, d := range ds {
			if d.MessageID != "" && inBatch[d.MessageID] {
				t.Errorf("message %s: two events handed out at once (delivery %d before the one ahead was recorded)", d.MessageID, d.Seq)
			}
			inBatch[d.MessageID] = true
			results[i] = outbox.Result{Seq: d.Seq, MessageID: d.MessageID, Attempts: d.Attempts, At: now, HTTPStatus: 200, State: outbox.Delivered}
		}
		if err := s.RecordWebhookResults(context.WithoutCancel(t.Context()), results); err != nil {
			t.Fatalf("RecordWebhookResults: %v", err)
		}
		all = append(all, ds...)
	}
	t.Fatalf("webhooks still due after 20 rounds (delivered %d)", len(all))
	return nil
}

// checkWebhookOrder checks that each message's events were handed out in
// the order they were stored (by seq), one at a time.
func checkWebhookOrder(t *testing.T, delivered []outbox.Delivery) {
	t.Helper()
	last := map[string]uint64{}
	for _, d := range delivered {
		if d.MessageID == "" {
			continue
		}
		if prev, ok := last[d.MessageID]; ok && prev > d.Seq {
			t.Errorf("message %s: delivery %d handed out after %d", d.MessageID, d.Seq, prev)
		}
		last[d.MessageID] = d.Seq
	}
}
