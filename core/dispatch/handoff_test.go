package dispatch_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/dispatch"
	"github.com/smsrouter/smsrouter/core/intake"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/recordid"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// countingQueue is the store as the dispatcher's queue, counting claims
// and the messages they returned.
type countingQueue struct {
	*store.Store
	claims, claimed atomic.Int64
}

func (q *countingQueue) ClaimDue(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]dispatch.Message, error) {
	q.claims.Add(1)
	got, err := q.Store.ClaimDue(ctx, now, limit, lease)
	q.claimed.Add(int64(len(got)))
	return got, err
}

// roomy hands messages over to a dispatcher that does not run (Room is
// then 0), so that a test decides when its rounds take them.
type roomy struct {
	*dispatch.Dispatcher
	room int
}

func (r roomy) Room() int { return r.room }

// handHarness is a harness whose store and dispatcher share one clock,
// the dispatcher over a countingQueue.
func handHarness(t *testing.T, s *store.Store, clock *fakeClock, o dispatch.Options) (*harness, *countingQueue) {
	q := &countingQueue{Store: s}
	h := &harness{t: t, s: s, clock: clock, hub: newHub(t)}
	o.Now, o.Logger = clock.Now, storetest.Logger(t)
	h.d = dispatch.New(q, h.hub, o)
	t.Cleanup(func() {
		if left := h.hub.unused(); len(left) > 0 && !t.Failed() {
			t.Errorf("scripted answers never asked for: %v", left)
		}
	})
	return h, q
}

// eachWithClock runs fn on each driver with a store on clock, reset to
// start for each.
func eachWithClock(t *testing.T, fn func(t *testing.T, s *store.Store, clock *fakeClock)) {
	clock := newClock()
	storetest.EachWith(t, store.Options{Now: clock.Now}, func(t *testing.T, s *store.Store) {
		clock.Set(start)
		fn(t, s, clock)
	})
}

// acceptDue accepts n messages due now to provider a, as the API does.
func (h *harness) acceptDue(n int) []string {
	h.t.Helper()
	now := h.clock.Now()
	as := make([]intake.Acceptance, n)
	ids := make([]string, n)
	for i := range as {
		m := &intake.Message{ID: recordid.New("msg_"), AccountID: account, Recipient: "+959123456789", Sender: "Shop", Text: "hello",
			Encoding: "gsm7", Segments: 1, Kind: "sms", Route: "test", Plan: []message.PlanEntry{{Provider: "a"}},
			NextAttemptAt: now, ExpiresAt: now.Add(24 * time.Hour), CreatedAt: now}
		as[i], ids[i] = intake.Acceptance{Messages: []*intake.Message{m}}, m.ID
	}
	refused, err := h.s.AcceptMany(context.Background(), as)
	if err != nil {
		h.t.Fatalf("AcceptMany: %v", err)
	}
	for _, err := range refused {
		if err != nil {
			h.t.Fatalf("AcceptMany refused: %v", err)
		}
	}
	return ids
}

// run runs the dispatcher, once it takes hand-overs, until cancel is
// called; wait waits for Run to return.
func (h *harness) run() (cancel, wait func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		_ = h.d.Run(ctx)
		close(done)
	}()
	waitFor(h.t, func() bool { return h.d.Room() > 0 })
	return cancel, func() { <-done }
}

// notify is a step that accepts every message and sends its id to sent.
func notify(sent chan<- string) sendStep {
	return func(name string, msgs []message.Outgoing) ([]message.SendResult, error) {
		for _, m := range msgs {
			sent <- m.ID
		}
		return accept()(name, msgs)
	}
}

func sortedIDs(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

func receive(t *testing.T, sent <-chan string, n int) []string {
	t.Helper()
	var got []string
	timeout := time.After(10 * time.Second)
	for len(got) < n {
		select {
		case id := <-sent:
			got = append(got, id)
		case <-timeout:
			t.Fatalf("%d of %d messages sent within 10s", len(got), n)
		}
	}
	return got
}

// Messages accepted in this process go to the running dispatcher without a
// claim: one claim when it starts, none for each batch accepted after
// (the accept wakes it with the messages in hand), each message leased
// once and sent once.
func TestHandedMessagesSentWithoutClaims(t *testing.T) {
	eachWithClock(t, func(t *testing.T, s *store.Store, clock *fakeClock) {
		h, q := handHarness(t, s, clock, dispatch.Options{PollInterval: time.Hour})
		s.HandOffMessages(h.d)
		sent := make(chan string, 100)
		h.hub.onAlways("a", notify(sent))
		cancel, wait := h.run()
		waitFor(t, func() bool { return q.claims.Load() == 1 }) // the start's
		var ids []string
		for range 5 {
			batch := h.acceptDue(2)
			if got := receive(t, sent, 2); !slices.Equal(sortedIDs(got), sortedIDs(batch)) {
				t.Fatalf("sent %v, want the batch just accepted %v", got, batch)
			}
			ids = append(ids, batch...)
		}
		cancel()
		wait()
		if n, rows := q.claims.Load(), q.claimed.Load(); n != 1 || rows != 0 {
			t.Errorf("%d claims took %d messages; want only the start's claim, taking none", n, rows)
		}
		for _, id := range ids {
			if m := h.msg(id); m.Status != message.Sent || m.Attempts != 1 || m.LeaseUntil != nil {
				t.Errorf("%s: %s, attempts %d, lease %v; want sent at its first attempt, lease released", id, m.Status, m.Attempts, m.LeaseUntil)
			}
		}
	})
}

// A handed message the dispatcher could not start before its lease nears
// its end is not sent by it: left to claims once the lease runs out, and
// sent once.
func TestHandedMessageWithTooShortALeaseLeftToClaims(t *testing.T) {
	eachWithClock(t, func(t *testing.T, s *store.Store, clock *fakeClock) {
		h, q := handHarness(t, s, clock, dispatch.Options{SendTimeout: 10 * time.Second, Lease: 30 * time.Second})
		s.HandOffMessages(roomy{Dispatcher: h.d, room: 10})
		id := h.acceptDue(1)[0]
		if m := h.msg(id); m.Attempts != 1 || m.LeaseUntil == nil {
			t.Fatalf("accepted message: attempts %d lease %v; want it leased to the dispatcher", m.Attempts, m.LeaseUntil)
		}
		// 15s after the hand-over a send started now could end, with its
		// timeout and half the margin for recording, after the lease.
		clock.Advance(15 * time.Second)
		if n := h.dispatch(); n != 0 {
			t.Fatalf("round sent %d messages; the handed one is too old to send, and leased", n)
		}
		clock.Advance(16 * time.Second) // the lease ran out
		h.hub.on("a", accept())
		if n := h.dispatch(); n != 1 {
			t.Fatalf("round after the lease sent %d, want the message claimed", n)
		}
		if calls := h.hub.sends(); len(calls) != 1 || len(calls[0].ids) != 1 || calls[0].ids[0] != id {
			t.Errorf("Send calls %v; want the message sent once", calls)
		}
		if m := h.msg(id); m.Status != message.Sent || m.Attempts != 2 || q.claimed.Load() != 1 {
			t.Errorf("message %s with %d attempts, %d claimed; want sent by the claim, its second attempt", m.Status, m.Attempts, q.claimed.Load())
		}
	})
}

// The dispatcher takes no more than MaxHanded messages it has not started:
// the rest are written for claims. What it holds when it stops goes back to
// the queue, due at once.
func TestHandOverRoomAndStop(t *testing.T) {
	eachWithClock(t, func(t *testing.T, s *store.Store, clock *fakeClock) {
		h, q := handHarness(t, s, clock, dispatch.Options{MaxHanded: 3, PollInterval: time.Hour})
		if room := h.d.Room(); room != 0 {
			t.Fatalf("Room = %d before Run; want 0", room)
		}
		s.HandOffMessages(h.d)
		entered, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		h.hub.onAlways("a", func(name string, msgs []message.Outgoing) ([]message.SendResult, error) {
			once.Do(func() {
				close(entered)
				<-release
			})
			return accept()(name, msgs)
		})
		cancel, wait := h.run()
		first := h.acceptDue(1)[0]
		<-entered // the round holds the first message in its Send
		if room := h.d.Room(); room != 3 {
			t.Fatalf("Room = %d with the only handed message being sent; want 3", room)
		}
		rest := h.acceptDue(5)
		if room := h.d.Room(); room != 0 {
			t.Errorf("Room = %d holding 3 unsent; want 0", room)
		}
		leased := 0
		for _, id := range rest {
			if m := h.msg(id); m.LeaseUntil != nil {
				leased++
			}
		}
		if leased != 3 {
			t.Errorf("%d of 5 messages accepted leased to the dispatcher; want its room, 3", leased)
		}
		// Stopping while the first Send runs: that round finishes, the
		// three held go back.
		cancel()
		close(release)
		wait()
		if m := h.msg(first); m.Status != message.Sent {
			t.Errorf("first message %s, want sent", m.Status)
		}
		for _, id := range rest {
			m := h.msg(id)
			if m.Status != message.Queued || m.LeaseUntil != nil || m.Attempts != 0 || m.NextAttemptAt.After(clock.Now()) {
				t.Errorf("%s after stop: %s lease %v attempts %d due %v; want queued, unleased, due now", id, m.Status, m.LeaseUntil, m.Attempts, m.NextAttemptAt)
			}
		}
		if rows := q.claimed.Load(); rows != 0 {
			t.Errorf("claims took %d messages", rows)
		}
	})
}

// A round that claims takes at most half a batch of handed messages: a
// steady stream of them does not starve the messages only claims find.
func TestClaimingRoundLeavesHalfTheBatchToClaims(t *testing.T) {
	eachWithClock(t, func(t *testing.T, s *store.Store, clock *fakeClock) {
		h, q := handHarness(t, s, clock, dispatch.Options{BatchSize: 4})
		waiting := h.queue([]string{"a"}, 3) // written by another server, say
		s.HandOffMessages(roomy{Dispatcher: h.d, room: 10})
		handed := h.acceptDue(6)
		h.hub.onAlways("a", accept())
		if n := h.dispatch(); n != 4 || q.claimed.Load() != 2 {
			t.Fatalf("round sent %d, %d of them claimed; want 2 handed and 2 claimed", n, q.claimed.Load())
		}
		sent := map[string]bool{}
		for _, c := range h.hub.sends() {
			for _, id := range c.ids {
				sent[id] = true
			}
		}
		if !sent[handed[0]] || !sent[handed[1]] || sent[handed[2]] {
			t.Errorf("sent %v; want the two oldest handed messages", sent)
		}
		if !sent[waiting[0]] && !sent[waiting[1]] && !sent[waiting[2]] {
			t.Errorf("sent %v; want queued messages claimed besides the handed ones", sent)
		}
	})
}
