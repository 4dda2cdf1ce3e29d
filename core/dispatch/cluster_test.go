package dispatch_test

import (
	"context"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/dispatch"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

func TestLimitsSharedAmongSendingNodes(t *testing.T) {
	configured := dispatch.Limits{
		"smpp":  {TPS: 100, Concurrency: 8},
		"phone": {TPS: 0.5, Concurrency: 1},
		"open":  {TPS: 0, Concurrency: 3},
	}
	tests := []struct {
		nodes int
		want  dispatch.Limits
	}{
		{1, configured},
		{0, configured}, // a failed count never means "no nodes"
		{2, dispatch.Limits{"smpp": {TPS: 50, Concurrency: 4}, "phone": {TPS: 0.25, Concurrency: 1}, "open": {Concurrency: 1}}},
		{4, dispatch.Limits{"smpp": {TPS: 25, Concurrency: 2}, "phone": {TPS: 0.125, Concurrency: 1}, "open": {Concurrency: 1}}},
	}
	for _, tt := range tests {
		d := dispatch.New(nil, nil, dispatch.Options{Limits: configured})
		d.SetLiveNodes(tt.nodes)
		assertLimits(t, "SetLiveNodes", tt.nodes, d.Limits(), tt.want)
		// A reload after the count keeps the share.
		d.SetLimits(configured)
		assertLimits(t, "SetLimits after SetLiveNodes", tt.nodes, d.Limits(), tt.want)
	}
}

func assertLimits(t *testing.T, step string, nodes int, got, want dispatch.Limits) {
	t.Helper()
	for name, w := range want {
		if w == (config.Limits{}) {
			continue
		}
		if got[name] != w {
			t.Errorf("%s(%d): %s limits %+v, want %+v", step, nodes, name, got[name], w)
		}
	}
}

func TestMembershipSharesLimitsAcrossServers(t *testing.T) {
	storetest.EachPair(t, store.Options{}, func(t *testing.T, a, b *store.Store) {
		configured := dispatch.Limits{"smpp": {TPS: 100, Concurrency: 8}}
		da := dispatch.New(a, nil, dispatch.Options{Limits: configured})
		// Node b is alive.
		if _, err := b.Heartbeat(context.Background(), "b", true, time.Hour); err != nil {
			t.Fatal(err)
		}
		// Node a's first beat counts b and itself.
		actx, astop := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			dispatch.Membership(actx, a, da, dispatch.MembershipOptions{NodeID: "a", Sending: true, Interval: time.Hour})
		}()
		waitFor(t, func() bool { return da.Limits()["smpp"].TPS == 50 })
		if got := da.Limits()["smpp"]; got.Concurrency != 4 {
			t.Errorf("a's smpp limits %+v, want TPS 50, Concurrency 4", got)
		}
		// Leaving removes a's row: b's next count is 1.
		astop()
		<-done
		n, err := b.Heartbeat(context.Background(), "b", true, time.Hour)
		if err != nil || n != 1 {
			t.Errorf("after a left: %d live sending nodes (err %v), want 1", n, err)
		}
	})
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
