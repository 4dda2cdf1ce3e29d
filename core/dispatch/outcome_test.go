package dispatch_test

import (
	"strings"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/dispatch"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// TestTypedOutcomes checks what the dispatcher makes of each typed outcome
// a provider answers with (the plugin host translates the protocol's
// sdk.Expired, sdk.RetryAfter, sdk.Unavailable and sdk.AccountError to
// them; see core/pluginhost's TestResultTranslatesEveryOutcome).
func TestTypedOutcomes(t *testing.T) {
	answer := func(outcome message.Outcome, after time.Duration, reason string) sendStep {
		return each(func(_ string, m message.Outgoing) message.SendResult {
			return message.SendResult{MessageID: m.ID, Outcome: outcome, RetryAfter: after, Reason: reason}
		})
	}
	tests := []struct {
		name   string
		plan   []string
		a      sendStep
		b      sendStep       // nil: b is not asked
		status message.Status // after the rounds
		reason string         // in the message's error
		dueLo  time.Duration
		dueHi  time.Duration
	}{
		{name: "expired is recorded expired, not failed over", plan: []string{"a", "b"},
			a:      answer(message.OutcomeExpired, 0, "validity passed in the window"),
			status: "expired", reason: "validity passed in the window"},
		{name: "unavailable fails over at once", plan: []string{"a", "b"},
			a:      answer(message.OutcomeUnavailable, 0, "upstream answered 503"),
			b:      accept(),
			status: "sent"},
		{name: "account error fails over at once", plan: []string{"a", "b"},
			a:      answer(message.OutcomeAccountError, 0, "API key rejected"),
			b:      accept(),
			status: "sent"},
		{name: "unavailable with nobody left is pending", plan: []string{"a"},
			a:      answer(message.OutcomeUnavailable, 0, "upstream answered 503"),
			status: "pending", reason: "upstream answered 503", dueLo: 500 * time.Millisecond, dueHi: time.Second},
		{name: "retry after is waited out", plan: []string{"a"},
			a:      answer(message.OutcomeTemporary, 5*time.Minute, "throttled"),
			status: "queued", reason: "throttled", dueLo: 5 * time.Minute, dueHi: 5 * time.Minute},
		{name: "retry after holds for its provider through a failover", plan: []string{"a", "b"},
			a:      answer(message.OutcomeTemporary, 5*time.Minute, "throttled"),
			b:      temporary("BUSY", "b is busy", 0),
			status: "queued", reason: "b is busy", dueLo: 5 * time.Minute, dueHi: 5 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, s *store.Store) {
				h := newHarness(t, s, dispatch.Options{MinRetry: time.Second, MaxRetry: time.Minute})
				id := h.queue(tt.plan, 1)[0]
				h.hub.on("a", tt.a)
				h.dispatch()
				if tt.b != nil {
					h.hub.on("b", tt.b)
					if n := h.dispatch(); n != 1 {
						t.Fatalf("the failover round claimed %d messages, want 1 at once", n)
					}
				}
				m := h.msg(id)
				if m.Status != tt.status || !strings.Contains(m.ErrorMessage, tt.reason) {
					t.Errorf("status %s, error %q; want %s with %q", m.Status, m.ErrorMessage, tt.status, tt.reason)
				}
				if tt.dueHi > 0 {
					h.wantDueIn(m, tt.dueLo, tt.dueHi)
				}
			})
		})
	}
}
