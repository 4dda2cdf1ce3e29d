package dispatch_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/dispatch"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// A message whose validity runs out while it waits for its provider's TPS
// turn is expired, not handed to the provider; the one sent before carries
// its validity to the provider.
func TestValidityPassedWhileThrottledIsNotSent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		h := newHarness(t, s, dispatch.Options{})
		// The second token's wait moves the shared fake clock; it waits for
		// the first send so the first chunk's look at the clock comes first.
		firstSent := make(chan struct{})
		var once sync.Once
		h.d = dispatch.New(s, h.hub, dispatch.Options{Limits: dispatch.Limits{"a": {TPS: 1}}, ThrottleWait: time.Second,
			Now: h.clock.Now, Logger: storetest.Logger(t),
			SleepUntil: func(ctx context.Context, at time.Time) error {
				select {
				case <-firstSent:
				case <-ctx.Done():
					return ctx.Err()
				}
				return h.clock.advanceTo(ctx, at)
			}})
		until := start.Add(500 * time.Millisecond)
		ids := h.queue([]string{"a"}, 2, func(m *store.Message) { m.ExpiresAt = until })
		var mu sync.Mutex
		var got []message.Outgoing
		h.hub.onAlways("a", func(name string, msgs []message.Outgoing) ([]message.SendResult, error) {
			mu.Lock()
			got = append(got, msgs...)
			mu.Unlock()
			once.Do(func() { close(firstSent) })
			return accept()(name, msgs)
		})
		if n := h.dispatch(); n != 2 {
			t.Fatalf("claimed %d, want 2", n)
		}
		if len(got) != 1 || !got[0].ValidUntil.Equal(until) {
			t.Fatalf("provider got %+v, want one message valid until %v", got, until)
		}
		for _, id := range ids {
			m := h.msg(id)
			if id == got[0].ID {
				if m.Status != "sent" {
					t.Errorf("message sent in time is %s, want sent", m.Status)
				}
				continue
			}
			if m.Status != "expired" || m.ErrorCode != "EXPIRED" || m.SentAt != nil {
				t.Errorf("message held past its validity: status %s, error %q, sent_at %v; want expired, never sent", m.Status, m.ErrorCode, m.SentAt)
			}
			if hist := h.history(id); !slices.Equal(hist, []string{"queued", "expired"}) {
				t.Errorf("history %q, want queued, expired", hist)
			}
		}
	})
}
