package dispatch_test

import (
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/dispatch"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// A Send must not start when it could still be in flight, or unrecorded,
// once the claim's lease ran out: another dispatcher would then claim the
// messages and send them a second time. Such messages go back untried.
func TestNoSendStartsThatCouldOutliveTheLease(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		h := newHarness(t, s, dispatch.Options{Parallel: 1, SendTimeout: time.Second, Lease: 3 * time.Second})
		h.hub.batch["a"] = 1
		ids := h.queue([]string{"a"}, 2)
		// The first Send is slow: when it returns, a second one could run
		// past the lease (claim + 3s) with its timeout and recording.
		h.hub.on("a", func(name string, msgs []message.Outgoing) ([]message.SendResult, error) {
			h.clock.Advance(2 * time.Second)
			return accept()(name, msgs)
		})
		if n := h.dispatch(); n != 2 {
			t.Fatalf("claimed %d, want 2", n)
		}
		calls := h.hub.sends()
		if len(calls) != 1 {
			t.Fatalf("%d Send calls, want 1: the second must not start this late in the claim", len(calls))
		}
		var waiting string
		for _, id := range ids {
			if id != calls[0].ids[0] {
				waiting = id
			}
		}
		m := h.msg(waiting)
		if m.Status != "queued" || m.LeaseUntil != nil || m.Attempts != 0 || m.NextAttemptAt.After(h.clock.Now()) {
			t.Errorf("held-back message: status %s lease %v attempts %d due %v; want queued, unleased, no attempt counted, due now (%v)",
				m.Status, m.LeaseUntil, m.Attempts, m.NextAttemptAt, h.clock.Now())
		}

		h.hub.on("a", accept())
		if n := h.dispatch(); n != 1 {
			t.Fatalf("next round claimed %d, want the held-back message", n)
		}
		if m := h.msg(waiting); m.Status != "sent" {
			t.Errorf("held-back message is %s after the next round, want sent", m.Status)
		}
	})
}
