package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/inbound"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/retention"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// sentTo stores a message to recipient that provider accepted at at under
// providerMessageID.
func sentTo(t *testing.T, s *store.Store, provider, providerMessageID, recipient string, at time.Time) string {
	t.Helper()
	m := newMessages(1, []string{provider}, at)[0]
	m.Recipient = recipient
	id := insert(t, s, m)[0]
	if got := claim(t, s, at, 10, time.Minute); len(got) != 1 {
		t.Fatalf("claimed %d messages, want 1", len(got))
	}
	record(t, s, message.Attempt{MessageID: id, Provider: provider, Status: message.Sent, ProviderMessageID: providerMessageID, At: at})
	return id
}

func receipt(id, providerMessageID, recipient string, st message.Status) message.Event {
	return message.Event{ID: id, Report: &message.Report{ProviderMessageID: providerMessageID, Recipient: recipient, Status: st, At: msgStart}}
}

// TestReceiptsForReusedProviderIDs: an SMSC that restarts its ids at 1
// gives one id to several messages; each receipt reaches its own message,
// told apart by its recipient, else by which message still awaits a report
// and is newest.
func TestReceiptsForReusedProviderIDs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		old := sentTo(t, s, "smsc", "1", "+959111111111", msgStart)
		// The SMSC restarted: the next message gets id 1 again.
		restarted := sentTo(t, s, "smsc", "1", "+959222222222", msgStart.Add(time.Minute))
		storeEvents(t, s, "smsc", receipt("r1", "1", "959222222222", message.Delivered))
		storeEvents(t, s, "smsc", receipt("r2", "1", "+959111111111", message.Undeliverable))
		if m := getMessage(t, s, restarted); m.Status != "delivered" {
			t.Errorf("message after the restart is %s, want delivered", m.Status)
		}
		if m := getMessage(t, s, old); m.Status != "undeliverable" {
			t.Errorf("message before the restart is %s, want undeliverable", m.Status)
		}

		// Without a recipient: the newest message still awaiting a report.
		a := sentTo(t, s, "smsc", "2", "+959333333333", msgStart)
		b := sentTo(t, s, "smsc", "2", "+959333333333", msgStart.Add(time.Minute))
		storeEvents(t, s, "smsc", receipt("r3", "2", "", message.Delivered))
		storeEvents(t, s, "smsc", receipt("r4", "2", "", message.Expired))
		if ma, mb := getMessage(t, s, a), getMessage(t, s, b); mb.Status != "delivered" || ma.Status != "expired" {
			t.Errorf("older %s, newer %s; want the first report on the newer (delivered), the second on the older (expired)", ma.Status, mb.Status)
		}

		// A receipt whose recipient matches no message with its id waits
		// for that message (it beat its submit answer) and does not touch
		// the others.
		storeEvents(t, s, "smsc", receipt("r5", "1", "959444444444", message.Delivered))
		late := sentTo(t, s, "smsc", "1", "+959444444444", msgStart.Add(2*time.Minute))
		if m := getMessage(t, s, late); m.Status != "delivered" {
			t.Errorf("message whose receipt came first is %s, want delivered", m.Status)
		}
		if h := history(t, s, old); len(h) != 3 {
			t.Errorf("the old message with id 1 got more reports: %q", h)
		}
		if n := count(t, s, &store.HeldStatus{}, ""); n != 0 {
			t.Errorf("%d reports still held", n)
		}
	})
}

// TestDuplicateWindow: an event id that came with a duplicate window marks
// repeats only within it: the same "YES" from the same handset later is a
// new message, a redelivery within the window is not.
func TestDuplicateWindow(t *testing.T) {
	c := newClock()
	storetest.EachWith(t, c.opts(), func(t *testing.T, s *store.Store) {
		c.reset()
		yes := message.Event{ID: "mo-abc", DuplicateWindow: 10 * time.Minute,
			Inbound: &inbound.Message{Sender: "+959111111111", Recipient: "+959222222222", Text: "YES"}}
		storeEvents(t, s, "smsc", yes)
		c.add(5 * time.Minute)
		storeEvents(t, s, "smsc", yes) // redelivered: dropped
		if n := count(t, s, &store.InboundMessage{}, ""); n != 1 {
			t.Fatalf("%d inbound messages after a redelivery within the window, want 1", n)
		}
		c.add(6 * time.Minute)
		storeEvents(t, s, "smsc", yes) // sent again by the handset
		if n := count(t, s, &store.InboundMessage{}, ""); n != 2 {
			t.Fatalf("%d inbound messages after the handset sent it again, want 2", n)
		}
		c.add(time.Minute)
		storeEvents(t, s, "smsc", yes) // a redelivery of the second
		if n := count(t, s, &store.InboundMessage{}, ""); n != 2 {
			t.Errorf("%d inbound messages after a redelivery of the second, want 2", n)
		}
		// Without a window an id counts for the retention, as before.
		stop := message.Event{ID: "tw-SM1", Inbound: &inbound.Message{Sender: "+959111111111", Recipient: "+959222222222", Text: "STOP"}}
		storeEvents(t, s, "twilio", stop)
		c.add(24 * time.Hour)
		storeEvents(t, s, "twilio", stop)
		if n := count(t, s, &store.InboundMessage{}, "provider = ?", "twilio"); n != 1 {
			t.Errorf("%d inbound messages for an id without a window, want 1", n)
		}
	})
}

// TestReportTimesAreWhenLearnt: a receipt whose "done date" is days before
// the message was sent (an SMSC's clock, in its zone) does not make the
// message delivered before it was sent; the provider's time is kept beside.
func TestReportTimesAreWhenLearnt(t *testing.T) {
	c := newClock()
	storetest.EachWith(t, c.opts(), func(t *testing.T, s *store.Store) {
		c.reset()
		sentAt := c.now()
		id := sentTo(t, s, "smsc", "9", "+959111111111", sentAt)
		c.add(3 * time.Second)
		providerAt := sentAt.Add(-12 * 24 * time.Hour).Truncate(time.Minute)
		storeEvents(t, s, "smsc", message.Event{ID: "r", Report: &message.Report{ProviderMessageID: "9", Status: message.Delivered, At: providerAt}})
		m := getMessage(t, s, id)
		if !sameTime(m.DeliveredAt, c.now()) || !sameTime(m.ProviderStatusAt, providerAt) {
			t.Errorf("delivered_at %v provider_status_at %v; want %v (when learnt) and %v (the provider's)", m.DeliveredAt, m.ProviderStatusAt, c.now(), providerAt)
		}
		changes, err := storetest.StatusHistory(context.Background(), s, id)
		if err != nil {
			t.Fatal(err)
		}
		last := changes[len(changes)-1]
		if !last.At.Equal(c.now()) || !sameTime(last.ProviderAt, providerAt) {
			t.Errorf("delivered change at %v provider_at %v; want %v and %v", last.At, last.ProviderAt, c.now(), providerAt)
		}
	})
}

// TestHeldReportsArePruned: a report whose message never comes (a later
// part's receipt delivered again after a reconnect) is held for a bounded
// time, not for ever.
func TestHeldReportsArePruned(t *testing.T) {
	c := newClock()
	storetest.EachWith(t, c.opts(), func(t *testing.T, s *store.Store) {
		c.reset()
		storeEvents(t, s, "smsc", receipt("part2-again", "ffff", "959111111111", message.Delivered))
		c.add(50 * time.Minute)
		storeEvents(t, s, "smsc", receipt("recent", "eeee", "", message.Delivered))
		c.add(20 * time.Minute)
		p, err := s.Prune(context.Background(), retention.Policy{})
		if err != nil {
			t.Fatal(err)
		}
		if p.HeldStatuses != 1 {
			t.Errorf("pruned %d held reports, want the one held 70 minutes", p.HeldStatuses)
		}
		if n := count(t, s, &store.HeldStatus{}, "provider_message_id = ?", "eeee"); n != 1 {
			t.Errorf("the report held 20 minutes was pruned")
		}
	})
}
