package dispatch_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/dispatch"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/pluginhost"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// sendVia queues n messages for provider and has the dispatcher send them,
// so they wait for a report from the clock's now on.
func (h *harness) sendVia(provider string, n int) []string {
	h.t.Helper()
	ids := h.queue([]string{provider}, n)
	for range n {
		h.hub.on(provider, accept())
	}
	if got := h.dispatch(); got != n {
		h.t.Fatalf("dispatched %d messages, want %d", got, n)
	}
	h.hub.sends()
	return ids
}

func (h *harness) queries() [][]string {
	h.hub.mu.Lock()
	defer h.hub.mu.Unlock()
	out := h.hub.queried
	h.hub.queried = nil
	return out
}

func TestPollerAsksAboutOverdueReports(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		h := newHarness(t, s, dispatch.Options{})
		ids := h.sendVia("a", 3)
		silent := ids[2] // the upstream does not know this one
		otherIDs := h.sendVia("b", 1)
		deliveredAt := start.Add(90 * time.Second)
		h.hub.queriers["a"] = func(asked []string) ([]message.Report, error) {
			var out []message.Report
			for _, pid := range asked {
				switch pid {
				case providerID("a", ids[0]):
					out = append(out, message.Report{ProviderMessageID: pid, Status: message.Delivered, ProviderStatus: "DELIVRD", At: deliveredAt})
				case providerID("a", ids[1]):
					out = append(out, message.Report{ProviderMessageID: pid, Status: message.Sent, ProviderStatus: "ENROUTE"})
				}
			}
			return out, nil
		}
		h.hub.queriers["b"] = func([]string) ([]message.Report, error) {
			t.Error("provider b is not configured for polling but was asked")
			return nil, nil
		}
		p := dispatch.NewPoller(s, h.hub, dispatch.PollOptions{Logger: storetest.Logger(t), Now: h.clock.Now,
			After: map[string]time.Duration{"a": 10 * time.Minute}})
		poll := func() {
			t.Helper()
			if err := p.PollOnce(context.Background()); err != nil {
				t.Fatalf("PollOnce: %v", err)
			}
		}

		h.clock.Advance(5 * time.Minute)
		poll()
		if q := h.queries(); len(q) != 0 {
			t.Fatalf("asked %v before the reports were overdue", q)
		}

		h.clock.Advance(6 * time.Minute)
		polledAt := h.clock.Now()
		poll()
		q := h.queries()
		wantAsked := []string{providerID("a", ids[0]), providerID("a", ids[1]), providerID("a", silent)}
		slices.Sort(wantAsked)
		if len(q) != 1 || !slices.Equal(sorted(q[0]), wantAsked) {
			t.Fatalf("asked %v, want one query for %v", q, wantAsked)
		}
		m := h.msg(ids[0])
		// The provider's time is kept beside; delivered_at is when the host
		// learnt of it, never before sent_at.
		if m.Status != "delivered" || !sameTime(m.ProviderStatusAt, deliveredAt) || m.DeliveredAt == nil || m.DeliveredAt.Before(*m.SentAt) {
			t.Errorf("status %s delivered_at %v provider_status_at %v, want delivered, the provider's time %v", m.Status, m.DeliveredAt, m.ProviderStatusAt, deliveredAt)
		}
		for _, id := range ids[1:] {
			if m := h.msg(id); m.Status != "sent" || !sameTime(m.PolledAt, polledAt) {
				t.Errorf("message %s: status %s polled_at %v, want still sent, polled at %v", id, m.Status, m.PolledAt, polledAt)
			}
		}
		if m := h.msg(otherIDs[0]); m.PolledAt != nil {
			t.Errorf("b's message polled at %v", m.PolledAt)
		}

		// Not asked again before another interval has passed.
		h.clock.Advance(9 * time.Minute)
		poll()
		if q := h.queries(); len(q) != 0 {
			t.Fatalf("asked %v again within the interval", q)
		}
		h.clock.Advance(2 * time.Minute)
		poll()
		q = h.queries()
		wantAsked = []string{providerID("a", ids[1]), providerID("a", silent)}
		slices.Sort(wantAsked)
		if len(q) != 1 || !slices.Equal(sorted(q[0]), wantAsked) {
			t.Fatalf("asked %v after the interval, want the two still waiting %v", q, wantAsked)
		}
		if got, want := h.history(ids[0]), []string{"queued", "sent", "delivered"}; !slices.Equal(got, want) {
			t.Errorf("history %q, want %q", got, want)
		}
	})
}

func TestPollerLeavesMessagesAloneWhenItCannotAsk(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(h *fakeHub)
		wantErr  bool
		wantPoll bool
	}{
		{
			name: "plugin not running",
			setup: func(h *fakeHub) {
				h.providerErr["a"] = fmt.Errorf("provider a is restarting: %w", pluginhost.ErrUnavailable)
			},
		},
		{
			name:  "provider cannot answer status queries",
			setup: func(h *fakeHub) {},
		},
		{
			name: "query failed",
			setup: func(h *fakeHub) {
				h.queriers["a"] = func([]string) ([]message.Report, error) { return nil, errors.New("upstream answered HTTP 500") }
			},
			wantErr: true,
		},
	}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				h := newHarness(t, s, dispatch.Options{})
				h.clock.Set(start.Add(time.Duration(i) * 24 * time.Hour))
				ids := h.sendVia("a", 1)
				tt.setup(h.hub)
				p := dispatch.NewPoller(s, h.hub, dispatch.PollOptions{Logger: storetest.Logger(t), Now: h.clock.Now,
					After: map[string]time.Duration{"a": time.Minute}})
				h.clock.Advance(time.Hour)
				err := p.PollOnce(context.Background())
				if (err != nil) != tt.wantErr {
					t.Fatalf("PollOnce = %v, want error: %v", err, tt.wantErr)
				}
				m := h.msg(ids[0])
				if m.Status != "sent" || m.PolledAt != nil {
					t.Errorf("status %s polled_at %v, want the message untouched", m.Status, m.PolledAt)
				}
				// Mark it delivered so later cases do not see it waiting.
				if err := s.DB().Model(&store.Message{}).Where("id = ?", ids[0]).Update("status", "delivered").Error; err != nil {
					t.Fatal(err)
				}
			})
		}
	})
}

func TestPollerWithoutProvidersReturnsAtOnce(t *testing.T) {
	p := dispatch.NewPoller(nil, nil, dispatch.PollOptions{})
	if err := p.Run(context.Background()); err != nil {
		t.Fatalf("Run with nothing to poll = %v", err)
	}
}

func TestPollerRunStopsWithContext(t *testing.T) {
	p := dispatch.NewPoller(nil, nil, dispatch.PollOptions{After: map[string]time.Duration{"a": time.Hour}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Run(ctx); err != nil {
		t.Fatalf("Run on a cancelled context = %v", err)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// A message the provider keeps saying nothing new about is asked about less
// and less often, then given up on as unknown; a backlog larger than one
// query drains in one round.
func TestPollerBacksOffThenGivesUp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		h := newHarness(t, s, dispatch.Options{})
		ids := h.sendVia("a", 5)
		h.hub.queriers["a"] = func(asked []string) ([]message.Report, error) { return nil, nil }
		p := dispatch.NewPoller(s, h.hub, dispatch.PollOptions{Logger: storetest.Logger(t), Now: h.clock.Now,
			After: map[string]time.Duration{"a": time.Minute}, Batch: 2, MaxInterval: 4 * time.Minute,
			GiveUpAfter: map[string]time.Duration{"a": 30 * time.Minute}})
		poll := func() []int {
			t.Helper()
			if err := p.PollOnce(context.Background()); err != nil {
				t.Fatalf("PollOnce: %v", err)
			}
			var sizes []int
			for _, q := range h.queries() {
				sizes = append(sizes, len(q))
			}
			return sizes
		}

		h.clock.Advance(time.Minute + time.Second)
		if got := poll(); !slices.Equal(got, []int{2, 2, 1}) {
			t.Fatalf("first round asked in batches %v, want 2, 2, 1 (all five in one round)", got)
		}
		// Waits: 1m, then 2m, then 4m, capped at 4m.
		var askedAt []time.Duration
		for elapsed := time.Duration(0); elapsed < 20*time.Minute; elapsed += 30 * time.Second {
			h.clock.Advance(30 * time.Second)
			if got := poll(); len(got) > 0 {
				askedAt = append(askedAt, elapsed+30*time.Second)
			}
		}
		want := []time.Duration{time.Minute, 3 * time.Minute, 7 * time.Minute, 11 * time.Minute, 15 * time.Minute, 19 * time.Minute}
		if !slices.Equal(askedAt, want) {
			t.Fatalf("asked again after %v, want %v (doubling, capped at 4m)", askedAt, want)
		}

		h.clock.Advance(15 * time.Minute)
		poll()
		for _, id := range ids {
			if m := h.msg(id); m.Status != "unknown" {
				t.Errorf("message %s is %s after polling gave up, want unknown", id, m.Status)
			}
		}
		h.clock.Advance(time.Hour)
		if got := poll(); len(got) != 0 {
			t.Errorf("asked %v after giving up", got)
		}
	})
}

// Pollers on two servers sharing a database ask the provider about each
// overdue message once between them, not once each.
func TestPollersOnTwoServersAskOnce(t *testing.T) {
	storetest.EachPair(t, store.Options{}, func(t *testing.T, a, b *store.Store) {
		h := newHarness(t, a, dispatch.Options{})
		ids := h.sendVia("a", 25)
		// The first query waits for the other poller's, so that both have
		// chosen their messages before either records its poll.
		var calls sync.Mutex
		n, both := 0, make(chan struct{})
		h.hub.queriers["a"] = func([]string) ([]message.Report, error) {
			calls.Lock()
			n++
			if n == 2 {
				close(both)
			}
			first := n == 1
			calls.Unlock()
			if first {
				select {
				case <-both:
				case <-time.After(10 * time.Second):
					t.Error("the second poller never queried while the first one's query was open")
				}
			}
			return nil, nil
		}
		h.clock.Advance(time.Hour)
		var wg sync.WaitGroup
		for _, s := range []*store.Store{a, b} {
			p := dispatch.NewPoller(s, h.hub, dispatch.PollOptions{Logger: storetest.Logger(t), Now: h.clock.Now,
				After: map[string]time.Duration{"a": time.Minute}, Batch: 5})
			wg.Go(func() {
				if err := p.PollOnce(context.Background()); err != nil {
					t.Errorf("PollOnce: %v", err)
				}
			})
		}
		wg.Wait()
		asked := map[string]int{}
		for _, q := range h.queries() {
			for _, pid := range q {
				asked[pid]++
			}
		}
		for _, id := range ids {
			if n := asked[providerID("a", id)]; n != 1 {
				t.Errorf("message %s asked about %d times by two pollers, want once", id, n)
			}
		}
	})
}
