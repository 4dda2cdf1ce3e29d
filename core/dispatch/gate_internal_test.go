package dispatch

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/inbound"
	"github.com/smsrouter/smsrouter/core/message"
)

// A report waits for the round in flight to its provider, not for rounds
// to other providers, and not past its context.
func TestReportGate(t *testing.T) {
	ctx := context.Background()
	t.Run("no round in flight", func(t *testing.T) {
		g := NewReportGate()
		g.AwaitRounds(ctx, "a")
		var nilGate *ReportGate
		nilGate.AwaitRounds(ctx, "a")
	})
	t.Run("waits until the round recorded", func(t *testing.T) {
		g := NewReportGate()
		leave := g.enter("a")
		other := g.enter("b") // never ends: must not hold "a"'s reports
		defer other()
		var left atomic.Bool
		go func() {
			left.Store(true)
			leave()
		}()
		start := time.Now()
		g.AwaitRounds(ctx, "a")
		if !left.Load() {
			t.Fatal("AwaitRounds returned before the round ended")
		}
		if time.Since(start) >= MaxReportWait {
			t.Fatal("AwaitRounds ran into its limit: it waited for the other provider's round")
		}
	})
	t.Run("stops with its context", func(t *testing.T) {
		g := NewReportGate()
		defer g.enter("a")()
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		g.AwaitRounds(cctx, "a")
	})
}

// eventsSeen is an EventStore that notes what reached it and whether the
// gate's round had ended by then.
type eventsSeen struct {
	roundOver *atomic.Bool
	calls     atomic.Int32
	early     atomic.Bool
}

func (e *eventsSeen) StoreEvents(context.Context, string, []message.Event) error {
	e.calls.Add(1)
	if !e.roundOver.Load() {
		e.early.Store(true)
	}
	return nil
}

// Guard holds status reports until the round to their provider recorded,
// and lets inbound messages through at once.
func TestReportGateGuard(t *testing.T) {
	ctx := context.Background()
	status := message.Event{Report: &message.Report{ProviderMessageID: "p1", Status: message.Delivered}}
	mo := message.Event{Inbound: &inbound.Message{Sender: "+1555", Recipient: "+1556", Text: "hi"}}
	for _, tc := range []struct {
		name      string
		events    []message.Event
		wantEarly bool
	}{
		{name: "a report waits for the round", events: []message.Event{mo, status}},
		{name: "inbound messages alone do not wait", events: []message.Event{mo}, wantEarly: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewReportGate()
			var over atomic.Bool
			next := &eventsSeen{roundOver: &over}
			leave := g.enter("a")
			done := make(chan error, 1)
			go func() { done <- g.Guard(next).StoreEvents(ctx, "a", tc.events) }()
			if tc.wantEarly {
				if err := <-done; err != nil {
					t.Fatal(err)
				}
			}
			over.Store(true)
			leave()
			if !tc.wantEarly {
				if err := <-done; err != nil {
					t.Fatal(err)
				}
			}
			if next.calls.Load() != 1 || next.early.Load() != tc.wantEarly {
				t.Fatalf("stored %d times, before the round ended %v; want once, %v", next.calls.Load(), next.early.Load(), tc.wantEarly)
			}
		})
	}
}
