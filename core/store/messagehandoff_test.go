package store_test

import (
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/dispatch"
	"github.com/smsrouter/smsrouter/core/intake"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/recordid"
	"github.com/smsrouter/smsrouter/core/store"
)

// fakeDispatcher is a dispatch.Handoff with a fixed room that records what
// it is given.
type fakeDispatcher struct {
	room  int
	lease time.Duration

	mu       sync.Mutex
	received []dispatch.Message
	calls    int
	left     bool
}

func (f *fakeDispatcher) Room() int            { return f.room }
func (f *fakeDispatcher) Lease() time.Duration { return f.lease }
func (f *fakeDispatcher) Receive(msgs []dispatch.Message, left bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.received = append(f.received, msgs...)
	f.calls++
	f.left = f.left || left
}

func (f *fakeDispatcher) got() (msgs []dispatch.Message, calls int, left bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]dispatch.Message(nil), f.received...), f.calls, f.left
}

// eachHanding runs fn on each driver with an account and a dispatcher of
// the given room, leasing for a minute, taking the store's hand-overs.
func eachHanding(t *testing.T, c *clock, room int, fn func(t *testing.T, s *store.Store, acc string, d *fakeDispatcher)) {
	c.pairs(t, func(t *testing.T, s, _ *store.Store) {
		d := &fakeDispatcher{room: room, lease: time.Minute}
		s.HandOffMessages(d)
		fn(t, s, mustAccount(t, s, "acme").ID, d)
	})
}

// inUTC is m with its times in UTC, so that messages read from either
// driver compare with reflect.DeepEqual.
func inUTC(m dispatch.Message) dispatch.Message {
	utc := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		u := t.UTC()
		return &u
	}
	m.CreatedAt, m.ExpiresAt = m.CreatedAt.UTC(), m.ExpiresAt.UTC()
	m.LeaseUntil, m.SendAt, m.SentAt = utc(m.LeaseUntil), utc(m.SendAt), utc(m.SentAt)
	return m
}

// A message handed to the dispatcher is what ClaimDue would have returned
// for the same row: the differential of the two, for messages the store
// keeps in the clear, sealed, or masked with the full text sealed aside.
func TestHandedMessageIsWhatClaimDueReturns(t *testing.T) {
	const lease = 2 * time.Minute
	for _, tc := range []struct {
		name   string
		policy account.MessageBodies
		edit   func(m *intake.Message)
	}{
		{name: "plain", policy: account.BodiesFull},
		{name: "no sender, two candidates, a route and why", policy: account.BodiesFull, edit: func(m *intake.Message) {
			m.Sender, m.Route, m.Country, m.Why = "", "mm", "MM", `{"route":"mm"}`
			m.Plan = []message.PlanEntry{{Provider: "a"}, {Provider: "b"}}
		}},
		{name: "masked account", policy: account.BodiesMasked, edit: func(m *intake.Message) { m.Text = "Your PIN is 4711" }},
		{name: "no body kept", policy: account.BodiesNone},
		{name: "a one-time code", policy: account.BodiesFull, edit: func(m *intake.Message) {
			m.Kind, m.Text, m.Mask = message.KindOTP, "Code 4711", []string{"4711"}
		}},
		{name: "unicode, a callback, charged", policy: account.BodiesFull, edit: func(m *intake.Message) {
			m.Text, m.Encoding, m.Segments, m.CallbackURL, m.Charged = "Привет", "ucs2", 1, "https://example.com/cb", 1500
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			c.add(123456789 * time.Nanosecond) // a time neither driver keeps to the nanosecond alike
			c.pairs(t, func(t *testing.T, s, _ *store.Store) {
				ctx := ctxT(t)
				acc := mustAccount(t, s, "acme")
				if tc.policy != account.BodiesFull {
					if _, err := s.SetMessageBodies(ctx, acc.ID, tc.policy); err != nil {
						t.Fatal(err)
					}
				}
				if tc.name == "unicode, a callback, charged" {
					if _, err := s.AddCredit(ctx, acc.ID, 1_000_000, "test"); err != nil {
						t.Fatal(err)
					}
				}
				newMsg := func() *intake.Message {
					m := testMessage(acc.ID, "+959123456789", "hello", c.now())
					m.Sender = "Shop"
					if tc.edit != nil {
						tc.edit(m)
					}
					return m
				}
				d := &fakeDispatcher{room: 10, lease: lease}
				s.HandOffMessages(d)
				handedMsg := newMsg()
				if err := s.Accept(ctx, intake.Acceptance{Messages: []*intake.Message{handedMsg}}); err != nil {
					t.Fatal(err)
				}
				s.HandOffMessages(nil)
				claimedMsg := newMsg()
				if err := s.Accept(ctx, intake.Acceptance{Messages: []*intake.Message{claimedMsg}}); err != nil {
					t.Fatal(err)
				}
				handed, calls, left := d.got()
				if len(handed) != 1 || calls != 1 || left {
					t.Fatalf("handed %d messages in %d calls, left for claims %v; want 1 in 1, none left", len(handed), calls, left)
				}
				claimed, err := s.ClaimDue(ctx, c.now(), 10, lease)
				if err != nil {
					t.Fatal(err)
				}
				if len(claimed) != 1 || claimed[0].ID != claimedMsg.ID {
					t.Fatalf("ClaimDue = %v; want only the message accepted without a hand-over (the handed one is leased)", ids(claimed))
				}
				want := inUTC(claimed[0])
				want.ID = handedMsg.ID
				if got := inUTC(handed[0]); !reflect.DeepEqual(got, want) {
					t.Errorf("handed message\n %+v\nClaimDue's\n %+v", got, want)
				}
				if handed[0].Text != handedMsg.Text {
					t.Errorf("handed text %q, want the full text %q", handed[0].Text, handedMsg.Text)
				}
				row := getMessage2(t, s, acc.ID, handedMsg.ID)
				if row.Attempts != 1 || row.LeaseUntil == nil || !row.LeaseUntil.Equal(*handed[0].LeaseUntil) || !row.Queued {
					t.Errorf("stored handed row: attempts %d lease %v queued %v; want 1 attempt, leased until %v, in the queue",
						row.Attempts, row.LeaseUntil, row.Queued, handed[0].LeaseUntil)
				}
				if stored, sealed := rawText(t, s, handedMsg.ID); stored == handedMsg.Text || (sealed != nil && *sealed == handedMsg.Text) {
					t.Errorf("handed message stored in the clear: text %q sealed %v", stored, sealed)
				}
			})
		})
	}
}

// Only due messages are handed over, no more than the dispatcher has room
// for; the rest are written unleased for claims, and the dispatcher is
// told so. A refused acceptance hands nothing over, and neither does a
// transaction that rolls back.
func TestAcceptHandsOverDueMessagesWithinRoom(t *testing.T) {
	c := newClock()
	eachHanding(t, c, 2, func(t *testing.T, s *store.Store, acc string, d *fakeDispatcher) {
		ctx := ctxT(t)
		due := func(text string) *intake.Message { return testMessage(acc, "+959123456789", text, c.now()) }
		later := due("later")
		at := c.now().Add(time.Hour)
		later.NextAttemptAt, later.SendAt = at, &at
		held := due("held")
		held.NextAttemptAt, held.HoldReason = c.now().Add(time.Hour), "quiet hours"
		first, second, third := due("one"), due("two"), due("three")
		until := c.now().Add(time.Hour)
		refused, err := s.AcceptMany(ctx, []intake.Acceptance{
			{Messages: []*intake.Message{later, held}},
			{Messages: []*intake.Message{first}},
			dupAcceptance(acc, due("dup"), "fp", until),
			dupAcceptance(acc, due("dup again"), "fp", until), // refused: a repeat within the batch
			{Messages: []*intake.Message{second, third}},
		})
		if err != nil || refused[3] == nil {
			t.Fatalf("AcceptMany = %v, %v; want the repeat refused", refused, err)
		}
		handed, calls, left := d.got()
		if calls != 1 || !left || len(handed) != 2 || handed[0].ID != first.ID {
			t.Fatalf("handed %v in %d calls, left for claims %v; want the first two due messages in one call, the rest left", ids(handed), calls, left)
		}
		for _, m := range handed {
			row := getMessage2(t, s, acc, m.ID)
			if row.Attempts != 1 || row.LeaseUntil == nil || !row.LeaseUntil.Equal(c.now().Add(time.Minute)) {
				t.Errorf("handed %s: attempts %d lease %v; want 1, leased a minute", m.ID, row.Attempts, row.LeaseUntil)
			}
		}
		claimed, err := s.ClaimDue(ctx, c.now(), 10, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(claimed) != 2 {
			t.Errorf("ClaimDue took %v; want the two due messages past the room", ids(claimed))
		}
		for _, m := range []*intake.Message{later, held} {
			if row := getMessage2(t, s, acc, m.ID); row.Attempts != 0 || row.LeaseUntil != nil {
				t.Errorf("%s: attempts %d lease %v; a message not due is not handed over", m.Text, row.Attempts, row.LeaseUntil)
			}
		}

		// A transaction that fails (an id already stored) hands nothing.
		d2 := &fakeDispatcher{room: 10, lease: time.Minute}
		s.HandOffMessages(d2)
		again := due("again")
		again.ID = first.ID
		if _, err := s.AcceptMany(ctx, []intake.Acceptance{{Messages: []*intake.Message{due("fresh")}}, {Messages: []*intake.Message{again}}}); err == nil {
			t.Fatal("AcceptMany with an id already stored succeeded")
		}
		if handed, calls, _ := d2.got(); calls != 0 {
			t.Errorf("a rolled back transaction handed %v over", ids(handed))
		}
		// Nor does one refused as a whole.
		if err := s.Accept(ctx, dupAcceptance(acc, due("dup"), "fp", until)); !errors.As(err, new(*message.DuplicateError)) {
			t.Fatalf("Accept of a repeat = %v, want a DuplicateError", err)
		}
		if handed, calls, _ := d2.got(); len(handed) != 0 {
			t.Errorf("a refused acceptance handed %v over (%d calls)", ids(handed), calls)
		}
	})
}

// An OTP's message is handed over like any other.
func TestOTPMessageHandedOver(t *testing.T) {
	c := newClock()
	eachHanding(t, c, 10, func(t *testing.T, s *store.Store, acc string, d *fakeDispatcher) {
		ctx := ctxT(t)
		m := testMessage(acc, "+959123456789", "Code 4711", c.now())
		m.Kind, m.Mask = message.KindOTP, []string{"4711"}
		otp := intake.OTPCode{ID: recordid.New("otp_"), AccountID: acc, Phone: m.Recipient, MessageID: m.ID, Salt: "s", Hash: "h",
			ExpiresAt: c.now().Add(5 * time.Minute)}
		if err := s.CreateOTP(ctx, otp, m, 0, time.Hour); err != nil {
			t.Fatal(err)
		}
		handed, _, left := d.got()
		if len(handed) != 1 || handed[0].ID != m.ID || handed[0].Text != "Code 4711" || handed[0].Attempts != 1 || left {
			t.Fatalf("handed %+v (left %v); want the code's message with its full text, its first attempt", handed, left)
		}
	})
}
