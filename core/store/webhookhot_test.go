package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/outbox"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// handedSent stores a message recorded sent by provider "a" with its
// message.sent handed over to h, and returns that delivery.
func handedSent(t *testing.T, s *store.Store, h *takeAll, pid string) outbox.Delivery {
	t.Helper()
	n := len(h.taken())
	s.HandOffWebhooks(h)
	sentMessage(t, s, "a", pid)
	s.HandOffWebhooks(nil)
	got := h.taken()
	if len(got) != n+1 {
		t.Fatalf("handed over %d deliveries, want %d", len(got), n+1)
	}
	return got[n]
}

func holders(t *testing.T, s *store.Store) int64 {
	t.Helper()
	var n int64
	if err := s.DB().Raw("SELECT count(*) FROM webhook_holders").Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// A delivery handed over at its insert is in no queue index, so no claim
// finds it when its lease runs out. When the process holding it dies
// (here: store a stops and is never heard from again), the sweep of
// another process makes it claimable once its lease has run out, not
// before, and it is claimed and counted as a second attempt; the dead
// process's holder row goes once every lease it may hold has run out.
func TestHandedWebhookOfDeadProcessIsSweptAndClaimed(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	storetest.EachPair(t, store.Options{Now: clock.Now}, func(t *testing.T, a, b *store.Store) {
		start := clock.Now()
		ctx := context.Background()
		setWebhook(t, a, msgAccount, "https://app.example/hooks")
		h := &takeAll{} // leases for a minute
		d := handedSent(t, a, h, "p0")
		if holders(t, a) != 1 {
			t.Fatalf("%d holder rows after a hand-over, want 1", holders(t, a))
		}
		late := start.Add(time.Hour)
		if got := claimWebhooks(t, b, late, 10); len(got) != 0 {
			t.Fatalf("claimed %+v while it is handed over, want nothing", got)
		}

		// Within its lease the sweep leaves it to its process.
		sweepAt(t, b, clock, start.Add(50*time.Second))
		if got := claimWebhooks(t, b, late, 10); len(got) != 0 {
			t.Fatalf("claimed %+v after a sweep within its lease, want nothing", got)
		}

		// Its lease (a minute) has run out, and every lease a may have
		// given (half a lease more): swept, claimed, the holder gone.
		sweepAt(t, b, clock, start.Add(2*time.Minute))
		got := claimWebhooks(t, b, late, 10)
		if len(got) != 1 || got[0].Seq != d.Seq || got[0].Attempts != 2 {
			t.Fatalf("claimed %+v after the sweep, want delivery %d at its second attempt", got, d.Seq)
		}
		if n := holders(t, b); n != 0 {
			t.Errorf("%d holder rows after the dead process's leases ran out, want 0", n)
		}
		if n, err := b.CountPendingWebhooks(ctx); err != nil || n != 1 {
			t.Errorf("CountPendingWebhooks = %d, %v; want 1", n, err)
		}
	})
}

// A live process whose record failed keeps the delivery in its floor: the
// sweep makes it claimable once its lease runs out, even after later
// hand-overs of the same process were recorded, and the backlog counts
// handed-over deliveries as pending all along.
func TestHandedWebhookOfLiveProcessIsSweptAfterItsLease(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	storetest.EachWith(t, store.Options{Now: clock.Now}, func(t *testing.T, s *store.Store) {
		start := clock.Now()
		ctx := context.Background()
		setWebhook(t, s, msgAccount, "https://app.example/hooks")
		h := &takeAll{}
		lost := handedSent(t, s, h, "p0") // its record never comes
		clock.Advance(start.Add(10 * time.Second).Sub(clock.Now()))
		kept := handedSent(t, s, h, "p1")
		if n, err := s.CountPendingWebhooks(ctx); err != nil || n != 2 {
			t.Errorf("CountPendingWebhooks = %d, %v; want the 2 handed over", n, err)
		}
		if bl, err := s.WebhookBacklog(ctx, ""); err != nil || bl.Pending != 2 {
			t.Errorf("WebhookBacklog = %+v, %v; want 2 pending", bl, err)
		}
		err := s.RecordWebhookResults(ctx, []outbox.Result{{Seq: kept.Seq, MessageID: kept.MessageID, Attempts: kept.Attempts,
			State: outbox.Delivered, HTTPStatus: 200, At: clock.Now()}})
		if err != nil {
			t.Fatal(err)
		}
		sweepAt(t, s, clock, start.Add(30*time.Second))
		late := start.Add(time.Hour)
		if got := claimWebhooks(t, s, late, 10); len(got) != 0 {
			t.Fatalf("claimed %+v within the lease, want nothing", got)
		}
		sweepAt(t, s, clock, start.Add(61*time.Second))
		got := claimWebhooks(t, s, late, 10)
		if len(got) != 1 || got[0].Seq != lost.Seq {
			t.Fatalf("claimed %+v, want the unrecorded delivery %d", got, lost.Seq)
		}
		if n := holders(t, s); n != 1 {
			t.Errorf("%d holder rows, want this live process's", n)
		}
	})
}

// Regression (issue 20): recording a delivery delivered changed state,
// which the message index and the queue index's condition read, so
// PostgreSQL wrote a new entry into every index of webhook_deliveries and
// copied the row to another page for each webhook. Now a delivery handed
// over at its insert is recorded in place (HOT), a batch of them in one
// statement included: the table's pages (its own fillfactor) have room
// for every row of theirs recorded at once. One written for claims leaves
// the queue index when recorded, which takes new entries, and shows that
// the count would see them.
func TestDeliveredWebhookUpdatedInPlace(t *testing.T) {
	s := storetest.OpenWith(t, store.Options{Driver: store.DriverPostgres, MaxOpenConns: 1})
	ctx := context.Background()
	setWebhook(t, s, msgAccount, "https://app.example/hooks")
	h := &takeAll{}
	// Enough rows to fill more than a page at fillfactor 70.
	const n = 24
	for i := range n {
		handedSent(t, s, h, fmt.Sprintf("p%d", i))
	}
	results := func(cs []outbox.Delivery) []outbox.Result {
		out := make([]outbox.Result, len(cs))
		for i, c := range cs {
			out[i] = outbox.Result{Seq: c.Seq, MessageID: c.MessageID, Attempts: c.Attempts, State: outbox.Delivered,
				HTTPStatus: 200, At: time.Now()}
		}
		return out
	}
	upd0, hot0 := tableUpdates(t, s, "webhook_deliveries")
	if err := s.RecordWebhookResults(ctx, results(h.taken())); err != nil {
		t.Fatal(err)
	}
	upd1, hot1 := tableUpdates(t, s, "webhook_deliveries")
	if upd1-upd0 != n || hot1-hot0 != n {
		t.Errorf("recording %d handed-over webhooks delivered updated %d rows, %d of them in place; want all %d in place",
			n, upd1-upd0, hot1-hot0, n)
	}

	storeEvents(t, s, "a", statusEvent("d0", "p0", message.Delivered, msgStart))
	claimed := claimWebhooks(t, s, time.Now().Add(time.Hour), 10)
	if len(claimed) != 1 {
		t.Fatalf("claimed %d, want message.delivered", len(claimed))
	}
	upd2, hot2 := tableUpdates(t, s, "webhook_deliveries")
	if err := s.RecordWebhookResults(ctx, results(claimed)); err != nil {
		t.Fatal(err)
	}
	upd3, hot3 := tableUpdates(t, s, "webhook_deliveries")
	if upd3-upd2 != 1 || hot3-hot2 != 0 {
		t.Errorf("recording a claimed webhook updated %d rows, %d in place; want 1, not in place (it leaves the queue index)",
			upd3-upd2, hot3-hot2)
	}
}

// TestWebhookQueueReadsUseTheirIndexes: the queue index's condition is the
// generated column claimable and the message index has no state, so each
// read of the webhook queue must state claimable (or the message) for the
// planner to read an index. Each read is explained on both drivers.
func TestWebhookQueueReadsUseTheirIndexes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		setWebhook(t, s, msgAccount, "https://app.example/hooks")
		h := &takeAll{}
		handedSent(t, s, h, "p0")
		sentMessage(t, s, "a", "p1")
		captured := captureStatements(t, s.DB())
		late := time.Now().Add(time.Hour)

		check := func(what, marker string, indexes []string, run func() error) {
			t.Helper()
			checkPlans(t, s, captured, what, marker, indexes, run)
		}
		queue := "idx_webhook_deliveries_claimable"
		byMessage := "idx_webhook_deliveries_by_message"
		pkey := "webhook_deliveries_pkey"
		if s.Driver() != store.DriverPostgres {
			pkey = "INTEGER PRIMARY KEY"
		}
		check("NextWebhookDue", "claimable", []string{queue, byMessage}, func() error {
			_, _, err := s.NextWebhookDue(ctx)
			return err
		})
		check("CountPendingWebhooks", "claimable", []string{queue}, func() error {
			_, err := s.CountPendingWebhooks(ctx)
			return err
		})
		check("CountPendingWebhooks", "handed", []string{pkey}, func() error {
			_, err := s.CountPendingWebhooks(ctx)
			return err
		})
		check("SweepWebhooks", "lease_until <", []string{pkey}, func() error { return s.SweepWebhooks(ctx, time.Minute) })
		check("ClaimWebhooks", "claimable", []string{queue, byMessage}, func() error {
			_, err := s.ClaimWebhooks(ctx, late, 10, time.Minute, nil)
			return err
		})
		if s.Driver() == store.DriverPostgres {
			if p := plan(t, s, store.PendingDeliveriesArrayQuery, []string{"m1"}); !strings.Contains(p, byMessage) {
				t.Errorf("the pending events of messages are not read through %s:\n%s", byMessage, p)
			}
			return
		}
		check("pending events of a message", "WHERE message_id IN", []string{byMessage}, func() error {
			// A report on a message whose message.sent is pending reads
			// its pending events to order message.delivered.
			s.HandOffWebhooks(h)
			defer s.HandOffWebhooks(nil)
			storeEvents(t, s, "a", statusEvent("d1", "p1", message.Delivered, msgStart))
			return nil
		})
	})
}

// sweepAt moves clock on to at and sweeps s's handed-over webhooks with a
// lease of a minute.
func sweepAt(t *testing.T, s *store.Store, clock *fakeClock, at time.Time) {
	t.Helper()
	clock.Advance(at.Sub(clock.Now()))
	if err := s.SweepWebhooks(context.Background(), time.Minute); err != nil {
		t.Fatal(err)
	}
}

// TestWebhookQueueProbesReadOneMessageOnABigTable: the claim and the
// next-due read skip a queued delivery while an older event of its
// message is pending, a probe per delivery they pass. On a big table
// never analyzed (fresh, or autovacuum off) the planner took the probe's
// "older than this one" for an index condition too and ANDed the message
// index with a range of the primary key: half the table's keys read per
// probe. Under load that made next-due take seconds, and the deliverer
// waited on it. The probe must read the message index alone.
func TestWebhookQueueProbesReadOneMessageOnABigTable(t *testing.T) {
	s := storetest.Open(t, store.DriverPostgres)
	ctx := context.Background()
	setWebhook(t, s, msgAccount, "https://app.example/hooks")
	// Two events a message, delivered, then the last messages' second
	// event queued behind its first, still pending: what a busy table
	// holds. Written in one statement, so the table is never analyzed.
	const rows, pending = 100_000, 20
	if err := s.DB().Exec(`INSERT INTO webhook_deliveries
  (event_id, account_id, message_id, type, callback_url, payload, state, next_attempt_at, created_at)
SELECT 'evt_' || i, ?, 'msg_' || (i / 2), 'message.sent', '', repeat('x', 400),
  CASE WHEN i > ? THEN 'pending' ELSE 'delivered' END, now(), now()
FROM generate_series(1, ?) AS i`, msgAccount, rows-2*pending, rows).Error; err != nil {
		t.Fatal(err)
	}
	captured := captureStatements(t, s.DB())
	for what, run := range map[string]func() error{
		"NextWebhookDue": func() error { _, _, err := s.NextWebhookDue(ctx); return err },
		"ClaimWebhooks": func() error {
			_, err := s.ClaimWebhooks(ctx, time.Now().Add(time.Hour), 10, time.Minute, nil)
			return err
		},
	} {
		captured.take("")
		if err := run(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		got := captured.take("NOT EXISTS")
		if len(got) == 0 {
			t.Fatalf("%s ran no statement with its probe", what)
		}
		for _, st := range got {
			p := plan(t, s, st.sql, st.vars...)
			for line := range strings.Lines(p) {
				if strings.Contains(line, "Index Cond") && strings.Contains(line, "seq < d.seq") {
					t.Errorf("%s reads a range of the primary key for the older events of each message:\n%s\n%s", what, st.sql, p)
				}
			}
		}
	}
}
