package dispatch_test

import (
	"context"
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

// upstream is a provider's side of the wire: the messages it took, by our
// message id, whatever became of the plugin's answer.
type upstream struct {
	mu     sync.Mutex
	took   map[string]string
	asked  [][]string
	active bool // the plugin answers QuerySent
}

// crashAfterTaking takes the first n messages upstream, then loses the
// answer as a plugin killed during Send does.
func (u *upstream) crashAfterTaking(n int) sendStep {
	return func(name string, msgs []message.Outgoing) ([]message.SendResult, error) {
		u.mu.Lock()
		defer u.mu.Unlock()
		for _, m := range msgs[:n] {
			u.took[m.ID] = providerID(name, m.ID)
		}
		return nil, fmt.Errorf("provider %s: send: %w (%w: the plugin process exited)", name, pluginhost.ErrUnavailable, pluginhost.ErrOutcomeUnknown)
	}
}

// sentHub is the fake hub whose provider "a" can be asked about sent
// messages when its upstream is active.
type sentHub struct {
	*fakeHub
	up *upstream
}

func (h sentHub) QuerySent(ctx context.Context, name string, ids []string) ([]pluginhost.Sent, error) {
	if name != "a" || !h.up.active {
		return h.fakeHub.QuerySent(ctx, name, ids)
	}
	h.up.mu.Lock()
	defer h.up.mu.Unlock()
	h.up.asked = append(h.up.asked, slices.Clone(ids))
	var out []pluginhost.Sent
	for _, id := range ids {
		if pid, ok := h.up.took[id]; ok {
			out = append(out, pluginhost.Sent{MessageID: id, ProviderMessageID: pid})
		}
	}
	return out, nil
}

func (h sentHub) Capabilities(name string) (pluginhost.Capabilities, error) {
	caps, err := h.fakeHub.Capabilities(name)
	if err != nil || name != "a" || !h.up.active {
		return caps, err
	}
	caps.SentQuery = true
	return caps, nil
}

// A plugin killed after its provider took messages but before the host
// recorded the answer: with a provider that can be asked (Capabilities.SentQuery)
// the messages it took are recorded sent with its id and not sent again,
// and none goes to another provider; without, they are sent again, the
// duplicate window docs/architecture.md names.
func TestLostSendAnswerAsksProviderBeforeResending(t *testing.T) {
	tests := []struct {
		name      string
		queryable bool
		// wantSends is, per provider, the messages sent after the crash.
		wantResentA, wantSentB int
		wantAsked              bool
	}{
		{name: "provider answers QuerySent", queryable: true, wantResentA: 1, wantAsked: true},
		{name: "provider cannot be asked", queryable: false, wantSentB: 3},
	}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				h := newHarness(t, s, dispatch.Options{})
				h.clock.Set(start.Add(time.Duration(i) * 24 * time.Hour))
				up := &upstream{took: map[string]string{}, active: tt.queryable}
				h.d = dispatch.New(s, sentHub{h.hub, up}, dispatch.Options{Now: h.clock.Now, Logger: storetest.Logger(t)})
				h.hub.batch["a"], h.hub.batch["b"] = 3, 3
				ids := h.queue([]string{"a", "b"}, 3)
				h.hub.on("a", up.crashAfterTaking(2))
				if got := h.dispatch(); got != 3 {
					t.Fatalf("dispatched %d, want 3", got)
				}
				h.hub.sends()
				if tt.queryable {
					for _, id := range ids {
						if m := h.msg(id); m.Status != "pending" || m.ErrorCode != dispatch.CodeOutcomeUnknown || m.Candidate != 0 {
							t.Errorf("after the crash %s is %s/%s at candidate %d, want pending/%s at a", id, m.Status, m.ErrorCode, m.Candidate, dispatch.CodeOutcomeUnknown)
						}
					}
					h.hub.on("a", accept())
				} else {
					h.hub.on("b", accept())
				}
				h.clock.Advance(10 * time.Second)
				h.dispatch()

				perProvider := map[string]int{}
				for _, c := range h.hub.sends() {
					perProvider[c.provider] += len(c.ids)
				}
				if perProvider["a"] != tt.wantResentA || perProvider["b"] != tt.wantSentB {
					t.Errorf("after the crash sent %v, want a: %d, b: %d", perProvider, tt.wantResentA, tt.wantSentB)
				}
				if asked := len(up.asked) > 0; asked != tt.wantAsked {
					t.Errorf("provider asked %v, want asked: %v", up.asked, tt.wantAsked)
				}
				for k, id := range ids {
					m := h.msg(id)
					if m.Status != "sent" {
						t.Errorf("message %d is %s, want sent", k, m.Status)
					}
					if tt.queryable && (m.Provider != "a" || m.ProviderMessageID != providerID("a", id)) {
						t.Errorf("message %d recorded at %s as %q, want at a as %q", k, m.Provider, m.ProviderMessageID, providerID("a", id))
					}
				}
			})
		}
	})
}
