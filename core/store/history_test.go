package store_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/retention"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// reportedMessage stores a message sent at c's time, delivered a moment
// later by the provider's receipt, then told "sent" again by a late report
// in a batch of its own; every time has a fraction below the microsecond.
// It returns the message's id.
func reportedMessage(t *testing.T, s *store.Store, c *clock, providerMessageID string) string {
	t.Helper()
	c.add(1234567891 * time.Nanosecond)
	m := newMessages(1, []string{"smsc"}, c.now())[0]
	id := insert(t, s, m)[0]
	if got := claim(t, s, c.now(), 10, time.Minute); len(got) != 1 {
		t.Fatalf("claimed %d messages, want 1", len(got))
	}
	c.add(3456789 * time.Nanosecond)
	record(t, s, message.Attempt{MessageID: id, Provider: "smsc", Status: message.Sent, Code: "OK",
		ProviderMessageID: providerMessageID, At: c.now()})
	c.add(2345678912 * time.Nanosecond)
	providerAt := c.now().Add(-time.Minute).Truncate(time.Minute)
	storeEvents(t, s, "smsc", message.Event{ID: "d-" + providerMessageID, Report: &message.Report{ProviderMessageID: providerMessageID,
		Status: message.Delivered, ProviderStatus: "DELIVRD", At: providerAt}})
	c.add(time.Second + 7*time.Nanosecond)
	storeEvents(t, s, "smsc", message.Event{ID: "s-" + providerMessageID, Report: &message.Report{ProviderMessageID: providerMessageID,
		Status: message.Sent, ProviderStatus: "ENROUTE", ErrorCode: "000"}})
	return id
}

// detailHistory is the history GET /api/v1/sms/{id} shows, its times in
// UTC as the API writes them.
func detailHistory(t *testing.T, s *store.Store, id string) []message.Change {
	t.Helper()
	d, err := s.MessageDetail(context.Background(), "", id)
	if err != nil {
		t.Fatalf("MessageDetail(%s): %v", id, err)
	}
	for i, c := range d.History {
		d.History[i].At = c.At.UTC()
		if c.ProviderAt != nil {
			pa := c.ProviderAt.UTC()
			d.History[i].ProviderAt = &pa
		}
	}
	return d.History
}

// TestHistoryWithoutRows: a message's sent, delivered and late reports are
// its history, as the API showed them when each was a row of
// status_changes, and none is a row any more; their times are the
// message's own (sent_at, delivered_at) to the precision the database
// keeps.
func TestHistoryWithoutRows(t *testing.T) {
	c := newClock()
	storetest.EachWith(t, c.opts(), func(t *testing.T, s *store.Store) {
		c.reset()
		id := reportedMessage(t, s, c, "h1")
		m := getMessage(t, s, id)
		if m.SentAt == nil || m.DeliveredAt == nil || m.ProviderStatusAt == nil {
			t.Fatalf("message %+v lacks its times", m)
		}
		pa := m.ProviderStatusAt.UTC()
		want := []message.Change{
			{Status: message.Sent, Provider: "smsc", ErrorCode: "OK", Applied: true, At: m.SentAt.UTC()},
			{Status: message.Delivered, Provider: "smsc", ProviderStatus: "DELIVRD", Applied: true, At: m.DeliveredAt.UTC(), ProviderAt: &pa},
			// Reports are learnt at the store's clock, which keeps microseconds.
			{Status: message.Sent, Provider: "smsc", ProviderStatus: "ENROUTE", ErrorCode: "000", Applied: false, At: c.now().Truncate(time.Microsecond)},
		}
		got := detailHistory(t, s, id)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("history\n%+v\nwant\n%+v", got, want)
		}
		if n := count(t, s, &store.StatusChange{}, ""); n != 0 {
			t.Errorf("%d status_changes rows written, want none", n)
		}
	})
}

// TestHistoryMergesEarlierRows: a database upgraded while a message was
// under way has the first of its changes as status_changes rows and the
// rest in the message's history column; the API shows them as one
// history, as it showed the same changes all in rows.
func TestHistoryMergesEarlierRows(t *testing.T) {
	c := newClock()
	storetest.EachWith(t, c.opts(), func(t *testing.T, s *store.Store) {
		c.reset()
		id := reportedMessage(t, s, c, "h2")
		want := detailHistory(t, s, id)
		changes, lines := storedHistory(t, s, id)
		for split := range len(changes) + 1 {
			// The first split changes as an earlier version wrote them,
			// the others as lines of the column.
			setHistory(t, s, id, changes[:split], strings.Join(lines[split:], ""))
			if got := detailHistory(t, s, id); !reflect.DeepEqual(got, want) {
				t.Errorf("%d changes in rows: history\n%+v\nwant\n%+v", split, got, want)
			}
		}
	})
}

// storedHistory returns the three changes reportedMessage made and the
// lines of the message's history column that hold them.
func storedHistory(t *testing.T, s *store.Store, id string) ([]store.StatusChange, []string) {
	t.Helper()
	changes, err := s.StatusChanges(context.Background(), id)
	if err != nil || len(changes) != 3 {
		t.Fatalf("StatusChanges = %+v, %v; want 3 changes", changes, err)
	}
	return changes, strings.SplitAfter(getMessage(t, s, id).History, "\n")
}

// setHistory replaces the message's history with rows, as an earlier
// version wrote them, and column, the lines of its history column.
func setHistory(t *testing.T, s *store.Store, id string, rows []store.StatusChange, column string) {
	t.Helper()
	if err := s.DB().Where("message_id = ?", id).Delete(&store.StatusChange{}).Error; err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		row.ID = 0
		if err := s.DB().Create(&row).Error; err != nil {
			t.Fatalf("store an earlier version's row: %v", err)
		}
	}
	if err := s.DB().Model(&store.Message{}).Where("id = ?", id).Update("history", column).Error; err != nil {
		t.Fatal(err)
	}
}

// TestPruneKeepsHistory: retention prunes what only served inspection for
// a while (webhook deliveries, event ids, held reports); a message's
// history stays with its message, in rows of an earlier version and in
// the column alike, however old.
func TestPruneKeepsHistory(t *testing.T) {
	c := newClock()
	storetest.EachWith(t, c.opts(), func(t *testing.T, s *store.Store) {
		c.reset()
		id := reportedMessage(t, s, c, "h3")
		changes, lines := storedHistory(t, s, id)
		setHistory(t, s, id, changes[:1], strings.Join(lines[1:], ""))
		want := detailHistory(t, s, id)
		c.add(2 * retention.DefaultPeriod)
		p, err := s.Prune(context.Background(), retention.Policy{})
		if err != nil {
			t.Fatalf("Prune: %v", err)
		}
		if p.ProcessedEvents == 0 {
			t.Errorf("Prune removed no event ids (%+v): the test's clock did not pass the retention", p)
		}
		if got := detailHistory(t, s, id); !reflect.DeepEqual(got, want) {
			t.Errorf("history after Prune\n%+v\nwant\n%+v", got, want)
		}
	})
}
