package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// reportEvent is a receipt event of provider message id pid.
func reportEvent(id, pid string, st message.Status) message.Event {
	return message.Event{ID: id, Report: &message.Report{ProviderMessageID: pid, Status: st, ProviderStatus: string(st), At: msgStart}}
}

// replayCase is a run of reports a message receives: what the
// application and the history see, and how many event ids it leaves in
// processed_events.
type replayCase struct {
	name string
	// run stores the case's events on s (its provider is provider) and
	// returns its message and every event it stored, in order.
	run      func(t *testing.T, s *store.Store, c *clock, provider string) (id string, evs []message.Event)
	history  []string // after queued and sent
	webhooks []string // after message.sent
	rows     int64    // processed_events rows left
}

func replayCases() []replayCase {
	sent := func(t *testing.T, s *store.Store, provider string) string { return sentMessage(t, s, provider, "p1") }
	each := func(t *testing.T, s *store.Store, provider string, evs ...message.Event) []message.Event {
		for _, ev := range evs {
			storeEvents(t, s, provider, ev)
		}
		return evs
	}
	return []replayCase{
		{
			name: "final report",
			run: func(t *testing.T, s *store.Store, _ *clock, p string) (string, []message.Event) {
				return sent(t, s, p), each(t, s, p, reportEvent("e1", "p1", message.Delivered))
			},
			history: []string{"delivered"}, webhooks: []string{"message.delivered delivered"}, rows: 0,
		},
		{
			name: "final failure",
			run: func(t *testing.T, s *store.Store, _ *clock, p string) (string, []message.Event) {
				ev := reportEvent("e1", "p1", message.Undeliverable)
				ev.Report.ErrorCode = "011"
				return sent(t, s, p), each(t, s, p, ev)
			},
			history: []string{"undeliverable"}, webhooks: []string{"message.failed undeliverable"}, rows: 0,
		},
		{
			name: "enroute then delivered",
			run: func(t *testing.T, s *store.Store, _ *clock, p string) (string, []message.Event) {
				return sent(t, s, p), each(t, s, p, reportEvent("e1", "p1", message.Sent), reportEvent("e2", "p1", message.Delivered))
			},
			history: []string{"sent (not applied)", "delivered"}, webhooks: []string{"message.delivered delivered"}, rows: 1,
		},
		{
			name: "unknown then delivered",
			run: func(t *testing.T, s *store.Store, _ *clock, p string) (string, []message.Event) {
				return sent(t, s, p), each(t, s, p, reportEvent("e1", "p1", message.Unknown), reportEvent("e2", "p1", message.Delivered))
			},
			history:  []string{"unknown", "delivered"},
			webhooks: []string{"message.failed unknown", "message.delivered delivered"}, rows: 1,
		},
		{
			name: "intermediate and final in one call",
			run: func(t *testing.T, s *store.Store, _ *clock, p string) (string, []message.Event) {
				id := sent(t, s, p)
				evs := []message.Event{reportEvent("e1", "p1", message.Unknown), reportEvent("e2", "p1", message.Delivered)}
				storeEvents(t, s, p, evs...)
				return id, evs
			},
			history:  []string{"unknown", "delivered"},
			webhooks: []string{"message.failed unknown", "message.delivered delivered"}, rows: 2,
		},
		{
			name: "delivered twice under two ids",
			run: func(t *testing.T, s *store.Store, _ *clock, p string) (string, []message.Event) {
				return sent(t, s, p), each(t, s, p, reportEvent("e1", "p1", message.Delivered), reportEvent("e2", "p1", message.Delivered))
			},
			history: []string{"delivered", "delivered (not applied)"}, webhooks: []string{"message.delivered delivered"}, rows: 1,
		},
		{
			name: "a late enroute after delivered",
			run: func(t *testing.T, s *store.Store, _ *clock, p string) (string, []message.Event) {
				return sent(t, s, p), each(t, s, p, reportEvent("e1", "p1", message.Delivered), reportEvent("e2", "p1", message.Sent))
			},
			history: []string{"delivered", "sent (not applied)"}, webhooks: []string{"message.delivered delivered"}, rows: 1,
		},
		{
			name: "held before its submit answer, sent again while held",
			run: func(t *testing.T, s *store.Store, _ *clock, p string) (string, []message.Event) {
				id := insert(t, s, newMessages(1, []string{p}, msgStart)...)[0]
				claim(t, s, msgStart, 10, time.Minute)
				evs := each(t, s, p, reportEvent("e1", "p1", message.Delivered), reportEvent("e1", "p1", message.Delivered))
				record(t, s, message.Attempt{MessageID: id, Provider: p, Status: message.Sent, ProviderMessageID: "p1", At: msgStart})
				return id, evs
			},
			history: []string{"delivered"}, webhooks: []string{"message.delivered delivered"}, rows: 1,
		},
		{
			name: "within a duplicate window",
			run: func(t *testing.T, s *store.Store, c *clock, p string) (string, []message.Event) {
				ev := reportEvent("dlr-1", "p1", message.Delivered)
				ev.DuplicateWindow = 10 * time.Minute
				id := sent(t, s, p)
				c.add(time.Minute)
				return id, each(t, s, p, ev)
			},
			history: []string{"delivered"}, webhooks: []string{"message.delivered delivered"}, rows: 0,
		},
		{
			name: "a message of two parts",
			run: func(t *testing.T, s *store.Store, _ *clock, p string) (string, []message.Event) {
				m := newMessages(1, []string{p}, msgStart)[0]
				m.Segments = 2
				id := insert(t, s, m)[0]
				claim(t, s, msgStart, 10, time.Minute)
				record(t, s, message.Attempt{MessageID: id, Provider: p, Status: message.Sent, ProviderMessageID: "p1", At: msgStart})
				return id, each(t, s, p, reportEvent("e1", "p1", message.Delivered))
			},
			history: []string{"delivered"}, webhooks: []string{"message.delivered delivered"}, rows: 1,
		},
	}
}

// TestReplayedReportsChangeNothing: every kind of report, delivered again
// to another server (or this one restarted) one by one, all at once and
// with another provider's events in one batch, leaves the history, the
// webhooks and the held reports as they were; the application gets each
// webhook once. A report that makes its message final leaves no row in
// processed_events (its id is kept on the message); the others keep one.
func TestReplayedReportsChangeNothing(t *testing.T) {
	c := newClock()
	c.pairs(t, func(t *testing.T, a, b *store.Store) {
		setWebhook(t, a, msgAccount, "https://app.example/hooks")
		for i, tt := range replayCases() {
			t.Run(tt.name, func(t *testing.T) {
				provider := fmt.Sprintf("r%d", i)
				id, evs := tt.run(t, a, c, provider)
				want := append([]string{"queued", "sent"}, tt.history...)
				if h := history(t, a, id); !slices.Equal(h, want) {
					t.Errorf("history %q, want %q", h, want)
				}
				wantHooks := append([]string{"message.sent sent"}, tt.webhooks...)
				if got := webhooksOf(t, a, id); !slices.Equal(got, wantHooks) {
					t.Errorf("webhooks %q, want %q", got, wantHooks)
				}
				if n := count(t, a, &store.ProcessedEvent{}, "provider = ?", provider); n != tt.rows {
					t.Errorf("%d processed_events rows, want %d", n, tt.rows)
				}
				before := snapshot(t, a, id, provider)
				for _, ev := range evs {
					storeEvents(t, b, provider, ev)
				}
				storeEvents(t, b, provider, evs...)
				slices.Reverse(evs)
				storeEvents(t, b, provider, evs...)
				other := sentMessage(t, b, provider+"-other", "p1")
				if _, err := b.StoreEventsMany(context.Background(), []store.ProviderEvents{
					{Provider: provider, Events: evs}, {Provider: provider + "-other", Events: []message.Event{reportEvent("e1", "p1", message.Delivered)}},
				}); err != nil {
					t.Fatal(err)
				}
				if after := snapshot(t, a, id, provider); !slices.Equal(after, before) {
					t.Errorf("after the replays\n%q\nwant\n%q", after, before)
				}
				if m := getMessage(t, a, other); m.Status != message.Delivered {
					t.Errorf("the other provider's message in the batch is %s, want delivered", m.Status)
				}
			})
		}
	})
}

// webhooksOf lists "type status" of the message's webhooks, in order.
func webhooksOf(t *testing.T, s *store.Store, id string) []string {
	t.Helper()
	var out []string
	for _, d := range outboxTypes(t, s) {
		if rest, ok := strings.CutPrefix(d, id+" "); ok {
			out = append(out, rest)
		}
	}
	return out
}

// snapshot is what a replay must not change: the message, its history and
// webhooks, and the provider's held reports and event ids.
func snapshot(t *testing.T, s *store.Store, id, provider string) []string {
	t.Helper()
	m := getMessage(t, s, id)
	out := []string{fmt.Sprintf("status %s delivered %v failed %v error %q", m.Status, m.DeliveredAt, m.FailedAt, m.ErrorMessage)}
	out = append(out, history(t, s, id)...)
	out = append(out, webhooksOf(t, s, id)...)
	out = append(out, fmt.Sprintf("held %d, event ids %d", count(t, s, &store.HeldStatus{}, "provider = ?", provider),
		count(t, s, &store.ProcessedEvent{}, "provider = ?", provider)))
	return out
}

// TestReplayAfterTheDuplicateWindow: a receipt whose id was kept on its
// message marks repeats only within its duplicate window, as its row
// would have: later the same content is a new report, which a final
// message refuses (a history row, no webhook), and a repeat of that one
// is dropped.
func TestReplayAfterTheDuplicateWindow(t *testing.T) {
	c := newClock()
	storetest.EachWith(t, c.opts(), func(t *testing.T, s *store.Store) {
		c.reset()
		setWebhook(t, s, msgAccount, "https://app.example/hooks")
		id := sentTo(t, s, "smsc", "p1", "+959111111111", c.now())
		ev := reportEvent("dlr-1", "p1", message.Delivered)
		ev.DuplicateWindow = 10 * time.Minute
		storeEvents(t, s, "smsc", ev)
		c.add(9 * time.Minute)
		storeEvents(t, s, "smsc", ev)
		if h, want := history(t, s, id), []string{"queued", "sent", "delivered"}; !slices.Equal(h, want) {
			t.Errorf("history within the window %q, want %q", h, want)
		}
		c.add(2 * time.Minute)
		storeEvents(t, s, "smsc", ev)
		storeEvents(t, s, "smsc", ev)
		if h, want := history(t, s, id), []string{"queued", "sent", "delivered", "delivered (not applied)"}; !slices.Equal(h, want) {
			t.Errorf("history after the window %q, want %q", h, want)
		}
		if got, want := webhooksOf(t, s, id), []string{"message.sent sent", "message.delivered delivered"}; !slices.Equal(got, want) {
			t.Errorf("webhooks %q, want %q", got, want)
		}
	})
}

// TestReplayAfterTheProviderReusedItsID: a provider that gives a later
// message the id of an earlier one (an SMSC restarting at 1) and then
// repeats the earlier message's receipt does not move the later message:
// the repeat is dropped, as its row dropped it; the later message's own
// receipt moves it.
func TestReplayAfterTheProviderReusedItsID(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		setWebhook(t, s, msgAccount, "https://app.example/hooks")
		first := sentTo(t, s, "smsc", "1", "+959111111111", msgStart)
		ev := reportEvent("1:delivered", "1", message.Delivered)
		ev.Report.Recipient = "959111111111"
		storeEvents(t, s, "smsc", ev)
		later := sentTo(t, s, "smsc", "1", "+959111111111", msgStart.Add(time.Minute))
		storeEvents(t, s, "smsc", ev)
		if m := getMessage(t, s, later); m.Status != message.Sent {
			t.Fatalf("the later message took the earlier one's repeated receipt: %s", m.Status)
		}
		own := reportEvent("1:delivered/2", "1", message.Delivered)
		storeEvents(t, s, "smsc", own)
		if m := getMessage(t, s, later); m.Status != message.Delivered {
			t.Errorf("the later message is %s after its own receipt, want delivered", m.Status)
		}
		for _, id := range []string{first, later} {
			if got, want := webhooksOf(t, s, id), []string{"message.sent sent", "message.delivered delivered"}; !slices.Equal(got, want) {
				t.Errorf("webhooks of %s %q, want %q", id, got, want)
			}
			if h, want := history(t, s, id), []string{"queued", "sent", "delivered"}; !slices.Equal(h, want) {
				t.Errorf("history of %s %q, want %q", id, h, want)
			}
		}
	})
}

// TestOneReceiptOnTwoServersAtOnce: the same receipt stored by two
// servers at the same moment (an SMSC resending it on its other bind)
// applies once: the message's lock, not an event id row, orders them.
func TestOneReceiptOnTwoServersAtOnce(t *testing.T) {
	c := newClock()
	c.pairs(t, func(t *testing.T, a, b *store.Store) {
		setWebhook(t, a, msgAccount, "https://app.example/hooks")
		const n = 20
		ids := make([]string, n)
		for i := range ids {
			ids[i] = sentMessage(t, a, "smsc", fmt.Sprintf("p%d", i))
		}
		var wg sync.WaitGroup
		errs := make(chan error, 2*n)
		for i := range n {
			ev := reportEvent(fmt.Sprintf("dlr-%d", i), fmt.Sprintf("p%d", i), message.Delivered)
			for _, s := range []*store.Store{a, b} {
				wg.Go(func() { errs <- s.StoreEvents(context.Background(), "smsc", []message.Event{ev}) })
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, id := range ids {
			if got, want := webhooksOf(t, a, id), []string{"message.sent sent", "message.delivered delivered"}; !slices.Equal(got, want) {
				t.Errorf("webhooks of %s %q, want %q", id, got, want)
			}
			if h, want := history(t, a, id), []string{"queued", "sent", "delivered"}; !slices.Equal(h, want) {
				t.Errorf("history of %s %q, want %q", id, h, want)
			}
		}
	})
}

// TestHeldCopyOfAnAppliedReport: the same receipt stored twice at once,
// held by a transaction that did not yet see its message sent and applied
// by one that did, counts once: the held copy, when swept, finds the
// message made final by its event and leaves no trace in the history.
func TestHeldCopyOfAnAppliedReport(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		setWebhook(t, s, msgAccount, "https://app.example/hooks")
		id := sentMessage(t, s, "smsc", "p1")
		ev := reportEvent("dlr-1", "p1", message.Delivered)
		storeEvents(t, s, "smsc", ev)
		// What the holding transaction left, committed after the sent
		// message's round had looked for held reports.
		held := store.HeldStatus{Provider: "smsc", ProviderMessageID: "p1", Status: message.Delivered, ProviderStatus: "delivered",
			At: msgStart, EventID: ev.ID}
		if err := s.DB().Create(&held).Error; err != nil {
			t.Fatal(err)
		}
		if n, err := s.ApplyHeldStatuses(context.Background(), 10); err != nil || n != 1 {
			t.Fatalf("ApplyHeldStatuses = %d, %v; want the held copy used up", n, err)
		}
		if h, want := history(t, s, id), []string{"queued", "sent", "delivered"}; !slices.Equal(h, want) {
			t.Errorf("history %q, want %q", h, want)
		}
		if got, want := webhooksOf(t, s, id), []string{"message.sent sent", "message.delivered delivered"}; !slices.Equal(got, want) {
			t.Errorf("webhooks %q, want %q", got, want)
		}
		if n := count(t, s, &store.HeldStatus{}, ""); n != 0 {
			t.Errorf("%d reports still held", n)
		}
	})
}

// TestGuardedReportAfterAnExpiredRow: an id whose row's duplicate window
// has passed counts as new for a report that makes its message final, as
// it did when every report took the row over.
func TestGuardedReportAfterAnExpiredRow(t *testing.T) {
	c := newClock()
	storetest.EachWith(t, c.opts(), func(t *testing.T, s *store.Store) {
		c.reset()
		id := sentTo(t, s, "smsc", "p1", "+959111111111", c.now())
		unknown := reportEvent("dlr-1", "p1", message.Unknown)
		unknown.DuplicateWindow = 10 * time.Minute
		storeEvents(t, s, "smsc", unknown)
		delivered := reportEvent("dlr-1", "p1", message.Delivered)
		delivered.DuplicateWindow = 10 * time.Minute
		c.add(9 * time.Minute)
		storeEvents(t, s, "smsc", delivered) // within the window: a repeat
		if m := getMessage(t, s, id); m.Status != message.Unknown {
			t.Fatalf("status %s after a repeat within the window, want unknown", m.Status)
		}
		c.add(2 * time.Minute)
		storeEvents(t, s, "smsc", delivered)
		if h, want := history(t, s, id), []string{"queued", "sent", "unknown", "delivered"}; !slices.Equal(h, want) {
			t.Errorf("history %q, want %q", h, want)
		}
	})
}
