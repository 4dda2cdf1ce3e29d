package dispatch

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
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
