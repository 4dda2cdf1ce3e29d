package store_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/dispatch"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

func claimAwaiting(t *testing.T, s *store.Store, sentBefore, now time.Time, limit int) []string {
	t.Helper()
	got, err := s.ClaimAwaitingReport(context.Background(), "a", sentBefore, now, limit, time.Minute)
	if err != nil {
		t.Fatalf("ClaimAwaitingReport: %v", err)
	}
	out := make([]string, len(got))
	for i, m := range got {
		out[i] = m.ID
	}
	return out
}

func TestClaimAwaitingReportAndMarkPolled(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		older := sentMessage(t, s, "a", "p1")
		// Sent a minute later than older.
		newer := insert(t, s, newMessages(1, []string{"a"}, msgStart)...)[0]
		claim(t, s, msgStart, 10, time.Minute)
		record(t, s, message.Attempt{MessageID: newer, Provider: "a", Status: message.Sent, ProviderMessageID: "p2", At: msgStart.Add(time.Minute)})
		unknown := sentMessage(t, s, "a", "p3")
		storeEvents(t, s, "a", statusEvent("e3", "p3", message.Unknown, msgStart))
		sentMessage(t, s, "a", "p4")
		storeEvents(t, s, "a", statusEvent("e4", "p4", message.Delivered, msgStart))
		sentMessage(t, s, "b", "p5")

		late := msgStart.Add(time.Hour)
		if got := claimAwaiting(t, s, msgStart.Add(30*time.Second), late, 1); len(got) != 1 || got[0] == newer {
			t.Errorf("claim(sent before +30s, limit 1) = %v, want one of the two sent at the start", got)
		}
		first := claimAwaiting(t, s, msgStart.Add(30*time.Second), late, 10)
		if len(first) != 1 || first[0] == newer {
			t.Errorf("claim(sent before +30s) = %v, want the other one sent at the start", first)
		}
		if got := claimAwaiting(t, s, late, late, 10); !slices.Equal(got, []string{newer}) {
			t.Errorf("claim = %v, want only the unclaimed %s", got, newer)
		}
		if got := claimAwaiting(t, s, late, late.Add(59*time.Second), 10); len(got) != 0 {
			t.Errorf("claim within the lease = %v, want none", got)
		}
		// A server that claimed and died: its claims run out with the lease.
		if got, want := sorted(claimAwaiting(t, s, late, late.Add(time.Minute), 10)), sorted([]string{older, newer, unknown}); !slices.Equal(got, want) {
			t.Errorf("claim after the lease = %v, want the sent and unknown messages of a %v", got, want)
		}

		polledAt := late.Add(time.Minute)
		next := polledAt.Add(5 * time.Minute)
		if err := s.MarkPolled(ctx, []dispatch.PollMark{{MessageID: older, NextPollAt: &next}, {MessageID: unknown}}, polledAt); err != nil {
			t.Fatalf("MarkPolled: %v", err)
		}
		if m := getMessage(t, s, older); !sameTime(m.PolledAt, polledAt) || !sameTime(m.NextPollAt, next) || m.PollCount != 1 {
			t.Errorf("polled_at %v next %v count %d, want %v, %v, 1", m.PolledAt, m.NextPollAt, m.PollCount, polledAt, next)
		}
		if got := claimAwaiting(t, s, late, next.Add(-time.Second), 10); !slices.Equal(got, []string{newer}) {
			t.Errorf("claim before the next poll = %v, want only %s, whose claim ran out", got, newer)
		}
		// unknown was marked with no next poll: polling gave up on it.
		if got := claimAwaiting(t, s, late, next.Add(time.Hour), 10); !slices.Equal(sorted(got), sorted([]string{older, newer})) {
			t.Errorf("claim once due again = %v, want %s and %s (not the given-up %s)", got, older, newer, unknown)
		}
		if err := s.MarkPolled(ctx, nil, polledAt); err != nil {
			t.Errorf("MarkPolled(nil) = %v", err)
		}
	})
}

// Servers claiming at the same moment take disjoint sets: every message
// awaiting a report is claimed by exactly one of them.
func TestClaimAwaitingReportDisjointAcrossServers(t *testing.T) {
	storetest.EachPair(t, store.Options{}, func(t *testing.T, a, b *store.Store) {
		const n = 60
		for i := range n {
			sentMessage(t, a, "a", fmt.Sprintf("pm-%d", i))
		}
		late := msgStart.Add(time.Hour)
		seen := claimAll(t, []*store.Store{a, b, a, b, a, b}, func(s *store.Store) ([]string, error) {
			got, err := s.ClaimAwaitingReport(context.Background(), "a", late, late, 7, time.Minute)
			ids := make([]string, len(got))
			for i, m := range got {
				ids[i] = m.ID
			}
			return ids, err
		})
		if len(seen) != n {
			t.Errorf("%d of %d messages claimed", len(seen), n)
		}
		for id, c := range seen {
			if c != 1 {
				t.Errorf("message %s claimed %d times, want once", id, c)
			}
		}
	})
}

// claimAll has each store claim, all at once, until a claim comes back
// empty, and counts how often each key was claimed.
func claimAll[K comparable](t *testing.T, stores []*store.Store, claim func(*store.Store) ([]K, error)) map[K]int {
	t.Helper()
	var mu sync.Mutex
	seen := map[K]int{}
	var wg sync.WaitGroup
	for _, s := range stores {
		wg.Go(func() {
			for {
				got, err := claim(s)
				if err != nil {
					t.Errorf("claim: %v", err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, k := range got {
					seen[k]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return seen
}
