package store_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// TestInsertColumns checks the arrays of a bulk insert: one per column,
// each holding every row's value in row order, with unset creation and
// update times filled in and set ones kept.
func TestInsertColumns(t *testing.T) {
	s := storetest.Open(t, storetest.Drivers()[0])
	now := time.Date(2026, 12, 7, 11, 0, 0, 0, time.UTC)
	set := now.Add(-time.Hour)
	rows := []*store.Message{testRow("acc_1", "+4915123000000", "a", set), testRow("acc_1", "+4915123000001", "b", set)}
	rows[1].CreatedAt, rows[1].UpdatedAt = time.Time{}, time.Time{}
	cols, err := store.InsertColumns(s, rows, now)
	if err != nil {
		t.Fatal(err)
	}
	var recipients []string
	var created []time.Time
	for _, c := range cols {
		switch v := c.(type) {
		case []string:
			if slices.Equal(v, []string{"+4915123000000", "+4915123000001"}) {
				recipients = v
			}
		case []time.Time:
			if len(v) != len(rows) {
				t.Fatalf("a time column has %d values for %d rows", len(v), len(rows))
			}
			if v[0].Equal(set) && v[1].Equal(now) {
				created = v
			}
		}
	}
	if recipients == nil {
		t.Errorf("no column holds the recipients in row order: %v", cols)
	}
	if created == nil {
		t.Errorf("no time column holds the set time then now: %v", cols)
	}
}

// BenchmarkInsertColumns is building the arrays of a bulk insert of
// messages, as an accept batch does.
func BenchmarkInsertColumns(b *testing.B) {
	s := storetest.Open(b, storetest.Drivers()[0])
	now := time.Now().UTC()
	for _, n := range []int{64, 512} {
		rows := make([]*store.Message, n)
		for i := range rows {
			rows[i] = testRow("acc_1", fmt.Sprintf("+4915123%06d", i), "Load test message", now)
		}
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := store.InsertColumns(s, rows, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
