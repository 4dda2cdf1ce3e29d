package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

func TestHeartbeatCountsLiveSendingNodes(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	storetest.EachPair(t, store.Options{Now: clock}, func(t *testing.T, a, b *store.Store) {
		ctx := context.Background()
		const ttl = 30 * time.Second
		beat := func(s *store.Store, id string, sending bool) int {
			t.Helper()
			n, err := s.Heartbeat(ctx, id, sending, ttl)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		steps := []struct {
			name string
			do   func() int
			want int
		}{
			{"alone", func() int { return beat(a, "node-a", true) }, 1},
			{"a second sending node", func() int { return beat(b, "node-b", true) }, 2},
			{"an api node does not count", func() int { return beat(b, "node-api", false) }, 2},
			{"b silent past the ttl", func() int { now = now.Add(ttl + time.Second); return beat(a, "node-a", true) }, 1},
			{"b back", func() int { return beat(b, "node-b", true) }, 2},
			{"b left", func() int {
				if err := b.LeaveCluster(ctx, "node-b"); err != nil {
					t.Fatal(err)
				}
				return beat(a, "node-a", true)
			}, 1},
			{"an api node alone still gets 1", func() int { return beat(b, "node-api", false) }, 1},
		}
		for _, st := range steps {
			if got := st.do(); got != st.want {
				t.Errorf("%s: %d live sending nodes, want %d", st.name, got, st.want)
			}
		}
	})
}
