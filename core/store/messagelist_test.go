package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// listed runs f over every page and returns the ids listed, in order.
func listed(t *testing.T, s *store.Store, accountID string, f store.MessageFilter) []string {
	t.Helper()
	var ids []string
	for range 100 {
		page, next, err := s.ListMessages(context.Background(), accountID, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page {
			ids = append(ids, m.ID)
		}
		if next == "" {
			return ids
		}
		f.Cursor = next
	}
	t.Fatal("more than 100 pages")
	return nil
}

func TestListMessagesFilters(t *testing.T) {
	start := time.Date(2025, 10, 22, 10, 0, 0, 0, time.UTC)
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		acc := mustAccount(t, s, "acme")
		other := mustAccount(t, s, "globex")
		// Newest first: row i was created i minutes before the last.
		var rows []*store.Message
		for i := range 6 {
			m := testRow(acc.ID, "+959123456789", "m", start.Add(time.Duration(5-i)*time.Minute))
			rows = append(rows, m)
		}
		rows[0].Recipient, rows[0].Kind = "+66812345678", message.KindOTP
		rows[1].Provider, rows[1].Route, rows[1].Status, rows[1].ProviderMessageID = "fast", "myanmar", message.Sent, "p-1"
		rows[2].Provider, rows[2].Route, rows[2].Status, rows[2].ProviderMessageID = "cheap", "myanmar", message.Sent, "p-2"
		rows[3].Kind = message.KindMarketing
		foreign := testRow(other.ID, "+959123456789", "m", start)
		foreign.Provider, foreign.Route = "fast", "myanmar"
		if err := storetest.InsertMessages(ctx, s, append(rows, foreign)); err != nil {
			t.Fatal(err)
		}
		ids := func(idx ...int) []string {
			var out []string
			for _, i := range idx {
				out = append(out, rows[i].ID)
			}
			return out
		}
		for _, tc := range []struct {
			name string
			f    store.MessageFilter
			want []string
		}{
			{"all, paged", store.MessageFilter{Limit: 2}, ids(0, 1, 2, 3, 4, 5)},
			{"provider", store.MessageFilter{Provider: "fast"}, ids(1)},
			{"route", store.MessageFilter{Route: "myanmar", Limit: 1}, ids(1, 2)},
			{"recipient", store.MessageFilter{Recipient: "+66812345678"}, ids(0)},
			{"kind", store.MessageFilter{Kind: message.KindMarketing}, ids(3)},
			{"status and route", store.MessageFilter{Status: "sent", Route: "myanmar", Provider: "cheap"}, ids(2)},
			{"since (included)", store.MessageFilter{Since: start.Add(3 * time.Minute)}, ids(0, 1, 2)},
			{"until (left out)", store.MessageFilter{Until: start.Add(2 * time.Minute), Limit: 1}, ids(4, 5)},
			{"a time range", store.MessageFilter{Since: start.Add(time.Minute), Until: start.Add(4 * time.Minute)}, ids(2, 3, 4)},
			{"through a message", store.MessageFilter{Through: mustEnd(t, s, acc.ID, 3)}, ids(0, 1, 2)},
			{"nothing", store.MessageFilter{Provider: "nope"}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if tc.f.Limit == 0 {
					tc.f.Limit = 10
				}
				if got := listed(t, s, acc.ID, tc.f); !slices.Equal(got, tc.want) {
					t.Errorf("listed %v, want %v", got, tc.want)
				}
			})
		}
		if _, _, err := s.ListMessages(ctx, acc.ID, store.MessageFilter{Limit: 3, Through: "garbage!"}); !errors.Is(err, store.ErrBadCursor) {
			t.Errorf("a bad through cursor: %v, want ErrBadCursor", err)
		}
	})
}

func mustEnd(t *testing.T, s *store.Store, accountID string, max int) string {
	t.Helper()
	end, err := s.ListEnd(context.Background(), accountID, store.MessageFilter{}, max)
	if err != nil || end == "" {
		t.Fatalf("ListEnd(%d) = %q, %v", max, end, err)
	}
	return end
}

// TestExportMessages: an export hands over at most max messages, a page
// at a time, and says where the rest begin before the first; following
// the cursors exports every message once.
func TestExportMessages(t *testing.T) {
	start := time.Date(2025, 10, 22, 10, 0, 0, 0, time.UTC)
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		acc := mustAccount(t, s, "acme")
		var rows []*store.Message
		for i := range 1203 {
			// Pairs share a creation time: the cursor must split them by id.
			rows = append(rows, testRow(acc.ID, "+959123456789", "m", start.Add(time.Duration(i/2)*time.Second)))
		}
		if err := storetest.InsertMessages(ctx, s, rows); err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		var exports []int
		cursor := ""
		for range 10 {
			n, next := 0, ""
			err := s.ExportMessages(ctx, acc.ID, message.Filter{Cursor: cursor}, 501,
				func(c string) error {
					if n != 0 {
						t.Error("start came after a message")
					}
					next = c
					return nil
				},
				func(m message.Summary) error {
					if seen[m.ID] {
						t.Errorf("%s exported twice", m.ID)
					}
					seen[m.ID] = true
					n++
					return nil
				})
			if err != nil {
				t.Fatal(err)
			}
			exports = append(exports, n)
			if next == "" {
				break
			}
			cursor = next
		}
		if len(seen) != len(rows) || !slices.Equal(exports, []int{501, 501, 201}) {
			t.Errorf("exported %d of %d messages in exports of %v, want 501, 501, 201", len(seen), len(rows), exports)
		}
		stop := errors.New("client gone")
		err := s.ExportMessages(ctx, acc.ID, message.Filter{}, 10, func(string) error { return nil },
			func(message.Summary) error { return stop })
		if !errors.Is(err, stop) {
			t.Errorf("an export whose writer fails: %v, want the writer's error", err)
		}
	})
}
