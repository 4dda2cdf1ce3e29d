package store_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

func TestCancelMessage(t *testing.T) {
	ctx := context.Background()
	now := msgStart.Add(time.Minute)
	tests := []struct {
		name    string
		account string
		prepare func(t *testing.T, s *store.Store, id string)
		// wantErr: "" cancels; "sending", "final" or "not found" are refused.
		wantErr string
	}{
		{name: "queued", account: msgAccount},
		{name: "pending", account: msgAccount, prepare: func(t *testing.T, s *store.Store, id string) {
			record(t, s, message.Attempt{MessageID: id, Provider: "a", Status: message.Pending, RetryAt: msgStart.Add(time.Hour), At: msgStart})
		}},
		{name: "scheduled", account: msgAccount, prepare: func(t *testing.T, s *store.Store, id string) {
			setNextAttempt(t, s, id, msgStart.Add(24*time.Hour))
		}},
		{name: "leased by a dispatcher", account: msgAccount, wantErr: "sending", prepare: func(t *testing.T, s *store.Store, id string) {
			claimOne(t, s, msgStart, time.Hour, id)
		}},
		{name: "lease ran out", account: msgAccount, prepare: func(t *testing.T, s *store.Store, id string) {
			claimOne(t, s, msgStart, time.Second, id)
		}},
		{name: "sent", account: msgAccount, wantErr: "final", prepare: func(t *testing.T, s *store.Store, id string) {
			claimOne(t, s, msgStart, time.Hour, id)
			record(t, s, message.Attempt{MessageID: id, Provider: "a", Status: message.Sent, ProviderMessageID: "p1", At: msgStart})
		}},
		{name: "cancelled before", account: msgAccount, wantErr: "final", prepare: func(t *testing.T, s *store.Store, id string) {
			if _, err := s.CancelMessage(ctx, msgAccount, id, msgStart); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "another account's", account: "acc_other", wantErr: "not found"},
	}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				id := insert(t, s, newMessages(1, []string{"a"}, msgStart)...)[0]
				if tc.prepare != nil {
					tc.prepare(t, s, id)
				}
				before, _ := s.GetMessage(ctx, msgAccount, id)
				m, err := s.CancelMessage(ctx, tc.account, id, now)
				var nc *message.NotCancellableError
				switch tc.wantErr {
				case "":
					if err != nil {
						t.Fatalf("CancelMessage: %v", err)
					}
					if m.Status != "failed" || m.ErrorCode != store.CancelledCode || m.FailedAt == nil || !m.FailedAt.Equal(now) || m.LeaseUntil != nil {
						t.Errorf("got status %s code %q failed_at %v lease %v, want failed/%s at %v", m.Status, m.ErrorCode, m.FailedAt, m.LeaseUntil, store.CancelledCode, now)
					}
					hist, _ := storetest.StatusHistory(ctx, s, id)
					if last := hist[len(hist)-1]; last.Status != "failed" || last.ErrorCode != store.CancelledCode || !last.At.Equal(now) {
						t.Errorf("last status change %+v, want failed/%s at %v", last, store.CancelledCode, now)
					}
					return
				case "not found":
					if !errors.Is(err, store.ErrNotFound) {
						t.Fatalf("CancelMessage = %v, want ErrNotFound", err)
					}
				default:
					if !errors.As(err, &nc) || nc.Sending != (tc.wantErr == "sending") || nc.Status != before.Status {
						t.Fatalf("CancelMessage = %v, want a message.NotCancellableError (sending %v, status %s)", err, tc.wantErr == "sending", before.Status)
					}
				}
				if after, _ := s.GetMessage(ctx, msgAccount, id); after.Status != before.Status || after.ErrorCode != before.ErrorCode {
					t.Errorf("a refused cancel changed the message: %s/%q, was %s/%q", after.Status, after.ErrorCode, before.Status, before.ErrorCode)
				}
			})
		}
	})
}

// A cancel and a dispatcher's claim racing for the same messages, from two
// processes: every message is either cancelled or claimed, never both and
// never neither.
func TestCancelRacesClaim(t *testing.T) {
	storetest.EachPair(t, store.Options{}, func(t *testing.T, a, b *store.Store) {
		ctx := context.Background()
		const n = 120
		ids := insert(t, a, newMessages(n, []string{"p"}, msgStart)...)
		var claimed, cancelled, busy []string
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				got, err := a.ClaimDue(ctx, msgStart, 7, time.Hour)
				if err != nil {
					t.Errorf("ClaimDue: %v", err)
					return
				}
				if len(got) == 0 {
					return
				}
				for _, m := range got {
					claimed = append(claimed, m.ID)
				}
			}
		})
		wg.Go(func() {
			// From the end, so that the two meet in the middle.
			for _, id := range slices.Backward(ids) {
				_, err := b.CancelMessage(ctx, msgAccount, id, msgStart)
				var nc *message.NotCancellableError
				switch {
				case err == nil:
					cancelled = append(cancelled, id)
				case errors.As(err, &nc) && nc.Sending:
					busy = append(busy, id)
				default:
					t.Errorf("CancelMessage(%s): %v", id, err)
				}
			}
		})
		wg.Wait()
		if len(claimed)+len(cancelled) != n {
			t.Fatalf("%d claimed + %d cancelled, want %d in all", len(claimed), len(cancelled), n)
		}
		for _, id := range cancelled {
			if slices.Contains(claimed, id) {
				t.Errorf("message %s was both cancelled and claimed", id)
			}
			if m, _ := a.GetMessage(ctx, msgAccount, id); m.Status != "failed" || m.ErrorCode != store.CancelledCode {
				t.Errorf("cancelled message %s is %s/%q", id, m.Status, m.ErrorCode)
			}
		}
		slices.Sort(claimed)
		slices.Sort(busy)
		if !slices.Equal(claimed, busy) {
			t.Errorf("cancel was refused as sending for %d messages, want exactly the %d claimed", len(busy), len(claimed))
		}
		t.Logf("%d claimed, %d cancelled", len(claimed), len(cancelled))
	})
}

// claimOne claims the one due message, which must be want.
func claimOne(t *testing.T, s *store.Store, now time.Time, lease time.Duration, want string) {
	t.Helper()
	if got := claim(t, s, now, 10, lease); len(got) != 1 || got[0].ID != want {
		t.Fatalf("ClaimDue = %v; want message %s", ids(got), want)
	}
}

func setNextAttempt(t *testing.T, s *store.Store, id string, at time.Time) {
	t.Helper()
	if err := s.DB().Model(&store.Message{}).Where("id = ?", id).Update("next_attempt_at", at.UTC()).Error; err != nil {
		t.Fatal(err)
	}
}
