package store

import (
	"reflect"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/message"
)

// TestHistoryLinesReadBack: a change written as a history line reads back
// the same, its times as the driver keeps a timestamp column.
func TestHistoryLinesReadBack(t *testing.T) {
	at := time.Date(2030, 3, 4, 5, 6, 7, 123456789, time.FixedZone("MMT", 23400))
	pa := at.Add(-time.Hour)
	changes := []StatusChange{
		{MessageID: "msg_1", Status: message.Sent, Provider: "smsc", ErrorCode: "OK", Applied: true, At: at},
		{MessageID: "msg_1", Status: message.Failed, Provider: "smsc", ProviderStatus: "UNDELIV", ProviderAt: &pa,
			ErrorCode: "0x0b", Reason: "line one\nline \"two\"", Applied: true, At: at.Add(time.Second)},
		{MessageID: "msg_1", Status: message.Delivered, Applied: false, At: at.Add(2 * time.Second)},
	}
	for _, driver := range []string{DriverPostgres, DriverSQLite} {
		t.Run(driver, func(t *testing.T) {
			got, err := parseHistory("msg_1", string(historyLines(nil, driver, changes...)))
			if err != nil {
				t.Fatal(err)
			}
			want := make([]StatusChange, len(changes))
			for i, c := range changes {
				c.At = storedTime(driver, c.At)
				if c.ProviderAt != nil {
					p := storedTime(driver, *c.ProviderAt)
					c.ProviderAt = &p
				}
				c.CreatedAt = c.At
				want[i] = c
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("read back\n%+v\nwant\n%+v", got, want)
			}
		})
	}
	if got := storedTime(DriverPostgres, at); got.Nanosecond() != 123456000 {
		t.Errorf("PostgreSQL time %v, want it to the microsecond", got)
	}
}

// TestMergeHistory: rows of status_changes and the column's changes merge
// by time, each in its own order, rows first on a tie.
func TestMergeHistory(t *testing.T) {
	t0 := time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC)
	c := func(st message.Status, sec int) StatusChange {
		return StatusChange{Status: st, At: t0.Add(time.Duration(sec) * time.Second)}
	}
	tests := []struct {
		name         string
		rows, column []StatusChange
		want         []StatusChange
	}{
		{"column only", nil, []StatusChange{c("sent", 1), c("delivered", 2)}, []StatusChange{c("sent", 1), c("delivered", 2)}},
		{"rows only", []StatusChange{c("sent", 1)}, nil, []StatusChange{c("sent", 1)}},
		{"rows before the column", []StatusChange{c("queued", 0), c("sent", 1)}, []StatusChange{c("delivered", 2)},
			[]StatusChange{c("queued", 0), c("sent", 1), c("delivered", 2)}},
		{"a tie: the row first", []StatusChange{c("sent", 1)}, []StatusChange{c("enroute", 1), c("delivered", 2)},
			[]StatusChange{c("sent", 1), c("enroute", 1), c("delivered", 2)}},
		{"interleaved", []StatusChange{c("sent", 1), c("failed", 3)}, []StatusChange{c("enroute", 2), c("delivered", 4)},
			[]StatusChange{c("sent", 1), c("enroute", 2), c("failed", 3), c("delivered", 4)}},
		{"each keeps its order", []StatusChange{c("sent", 5), c("enroute", 1)}, []StatusChange{c("delivered", 2)},
			[]StatusChange{c("delivered", 2), c("sent", 5), c("enroute", 1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mergeHistory(tt.rows, tt.column); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("mergeHistory = %+v, want %+v", got, tt.want)
			}
		})
	}
}
