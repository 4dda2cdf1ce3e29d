package store_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/intake"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/recordid"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// clock is a test clock both stores of a pair read.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.reset()
	return c
}
func (c *clock) reset()              { c.ns.Store(time.Date(2025, 10, 22, 10, 0, 30, 0, time.UTC).UnixNano()) }
func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }
func (c *clock) opts() store.Options { return store.Options{Now: c.now} }

// pairs runs fn on each driver with the clock reset.
func (c *clock) pairs(t *testing.T, fn func(t *testing.T, a, b *store.Store)) {
	storetest.EachPair(t, c.opts(), func(t *testing.T, a, b *store.Store) { c.reset(); fn(t, a, b) })
}
func ctxT(t *testing.T) context.Context { return t.Context() }

func TestTakeRateHoldsAcrossStores(t *testing.T) {
	c := newClock()
	c.pairs(t, func(t *testing.T, a, b *store.Store) {
		ctx := ctxT(t)
		// Ten concurrent requests through two "servers" against a limit
		// of 4: exactly 4 pass.
		var wg sync.WaitGroup
		var passed atomic.Int32
		for i := range 10 {
			s := a
			if i%2 == 1 {
				s = b
			}
			wg.Go(func() {
				ok, _, err := s.TakeRate(ctx, "sms:key_1", 4, time.Minute)
				if err != nil {
					t.Error(err)
				}
				if ok {
					passed.Add(1)
				}
			})
		}
		wg.Wait()
		if passed.Load() != 4 {
			t.Fatalf("%d requests passed a limit of 4", passed.Load())
		}
		ok, retry, err := b.TakeRate(ctx, "sms:key_1", 4, time.Minute)
		if err != nil || ok || retry != 30*time.Second {
			t.Fatalf("over the limit: ok=%v retry=%v err=%v; want refused, retry in 30s", ok, retry, err)
		}
		if ok, _, _ := a.TakeRate(ctx, "sms:key_2", 4, time.Minute); !ok {
			t.Fatal("another bucket was refused")
		}
		c.add(30 * time.Second)
		if ok, _, _ := a.TakeRate(ctx, "sms:key_1", 4, time.Minute); !ok {
			t.Fatal("refused in the next window")
		}
	})
}

func testMessage(acc, to, text string, now time.Time) *intake.Message {
	return &intake.Message{ID: recordid.New("msg_"), AccountID: acc, Recipient: to, Text: text, Encoding: "gsm7", Segments: 1,
		Kind: "sms", Plan: []message.PlanEntry{{Provider: "sandbox"}}, NextAttemptAt: now, ExpiresAt: now.Add(time.Hour), CreatedAt: now}
}

// testRow is testMessage as a stored row, for tests that insert rows
// directly (statuses a new message does not have).
func testRow(acc, to, text string, now time.Time) *store.Message {
	return &store.Message{ID: recordid.New("msg_"), AccountID: acc, Recipient: to, Text: text, Encoding: "gsm7", Segments: 1,
		Kind: "sms", Status: message.Queued, Plan: `["sandbox"]`, NextAttemptAt: now, ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
}

func TestAcceptDuplicatesAndReplays(t *testing.T) {
	c := newClock()
	c.pairs(t, func(t *testing.T, a, b *store.Store) {
		ctx := ctxT(t)
		acc := mustAccount(t, a, "acme")
		m1 := testMessage(acc.ID, "+959123456789", "hi", c.now())
		claim := func(m *intake.Message) []intake.DuplicateClaim {
			return []intake.DuplicateClaim{{AccountID: acc.ID, Fingerprint: "fp-" + m.Recipient + m.Text, MessageID: m.ID}}
		}
		if err := a.Accept(ctx, intake.Acceptance{Messages: []*intake.Message{m1}, Duplicates: claim(m1), DuplicateUntil: c.now().Add(2 * time.Minute)}); err != nil {
			t.Fatal(err)
		}
		m2 := testMessage(acc.ID, "+959123456789", "hi", c.now())
		var de *message.DuplicateError
		err := b.Accept(ctx, intake.Acceptance{Messages: []*intake.Message{m2}, Duplicates: claim(m2), DuplicateUntil: c.now().Add(2 * time.Minute)})
		if !errors.As(err, &de) || de.MessageID != m1.ID {
			t.Fatalf("repeat within the window: %v, want a message.DuplicateError naming %s", err, m1.ID)
		}
		if _, err := b.GetMessage(ctx, acc.ID, m2.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the refused message was stored: %v", err)
		}
		c.add(2 * time.Minute)
		if err := b.Accept(ctx, intake.Acceptance{Messages: []*intake.Message{m2}, Duplicates: claim(m2), DuplicateUntil: c.now().Add(2 * time.Minute)}); err != nil {
			t.Fatalf("after the window: %v", err)
		}

		rec := func() *intake.Idempotency {
			return &intake.Idempotency{AccountID: acc.ID, Key: "k1", RequestHash: "h1", Code: 202, Body: `{"a":1}`, ExpiresAt: c.now().Add(time.Hour)}
		}
		m3 := testMessage(acc.ID, "+959123456780", "x", c.now())
		if err := a.Accept(ctx, intake.Acceptance{Messages: []*intake.Message{m3}, Idempotency: rec()}); err != nil {
			t.Fatal(err)
		}
		m4 := testMessage(acc.ID, "+959123456780", "x", c.now())
		var re *intake.ReplayError
		if err := b.Accept(ctx, intake.Acceptance{Messages: []*intake.Message{m4}, Idempotency: rec()}); !errors.As(err, &re) || re.Record.Body != `{"a":1}` {
			t.Fatalf("same key again: %v, want a ReplayError with the stored body", err)
		}
		if got, err := b.IdempotencyRecordFor(ctx, acc.ID, "k1"); err != nil || got.Code != 202 {
			t.Fatalf("IdempotencyRecordFor = %+v, %v", got, err)
		}
		c.add(time.Hour)
		if _, err := b.IdempotencyRecordFor(ctx, acc.ID, "k1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("expired record: %v, want ErrNotFound", err)
		}
		if err := b.ForgetExpired(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestOTPCodes(t *testing.T) {
	c := newClock()
	c.pairs(t, func(t *testing.T, a, b *store.Store) {
		ctx := ctxT(t)
		acc := mustAccount(t, a, "acme")
		create := func(s *store.Store, hash string) error {
			code := intake.OTPCode{ID: recordid.New("otp_"), AccountID: acc.ID, Phone: "+959123456789", Salt: "s", Hash: hash,
				ExpiresAt: c.now().Add(5 * time.Minute)}
			m := testMessage(acc.ID, "+959123456789", "code", c.now())
			code.MessageID = m.ID
			return s.CreateOTP(ctx, code, m, 3, time.Hour)
		}
		is := func(h string) func(intake.OTPCode) bool { return func(c intake.OTPCode) bool { return c.Hash == h } }

		for i, h := range []string{"one", "two", "three"} {
			s := a
			if i == 1 {
				s = b
			}
			if err := create(s, h); err != nil {
				t.Fatalf("code %d: %v", i+1, err)
			}
			c.add(10 * time.Minute)
		}
		// The codes are at +0, +10 and +20 minutes; back to +1.
		c.add(-29 * time.Minute)
		var rl *account.RateLimitError
		if err := create(b, "four"); !errors.As(err, &rl) || rl.RetryAfter != 59*time.Minute {
			t.Fatalf("fourth code within the hour: %v, want a RateLimitError retrying in 59m", err)
		}
		if ok, _ := a.VerifyOTP(ctx, acc.ID, "+959123456789", 3, is("two")); ok {
			t.Fatal("a replaced code verified")
		}
		if ok, _ := b.VerifyOTP(ctx, acc.ID, "+959123456789", 3, is("wrong")); ok {
			t.Fatal("a wrong code verified")
		}
		if ok, err := a.VerifyOTP(ctx, acc.ID, "+959123456789", 3, is("three")); !ok || err != nil {
			t.Fatalf("the pending code on the third attempt: %v, %v", ok, err)
		}
		if ok, _ := a.VerifyOTP(ctx, acc.ID, "+959123456789", 3, is("three")); ok {
			t.Fatal("a code verified twice")
		}
		c.add(59 * time.Minute)
		if err := create(a, "five"); err != nil {
			t.Fatalf("after the hour: %v", err)
		}
		for i := range 3 {
			if ok, _ := b.VerifyOTP(ctx, acc.ID, "+959123456789", 3, is("nope")); ok {
				t.Fatalf("wrong attempt %d verified", i+1)
			}
		}
		if ok, _ := b.VerifyOTP(ctx, acc.ID, "+959123456789", 3, is("five")); ok {
			t.Fatal("the right code verified after three failed attempts")
		}
		c.add(30 * time.Minute) // the codes of +10 and +20 leave the hour
		if err := create(a, "six"); err != nil {
			t.Fatal(err)
		}
		c.add(5 * time.Minute)
		if ok, _ := b.VerifyOTP(ctx, acc.ID, "+959123456789", 3, is("six")); ok {
			t.Fatal("an expired code verified")
		}
	})
}

func TestListMessagesPages(t *testing.T) {
	c := newClock()
	storetest.EachWith(t, c.opts(), func(t *testing.T, s *store.Store) {
		c.reset()
		ctx := ctxT(t)
		acc := mustAccount(t, s, "acme")
		other := mustAccount(t, s, "globex")
		var all []*store.Message
		for i := range 7 {
			m := testRow(acc.ID, "+959123456789", "m", c.now())
			if i == 3 {
				m.Status = "failed"
			}
			all = append(all, m)
			if i%2 == 0 {
				c.add(time.Second) // some share a creation time, to page by id within it
			}
		}
		all = append(all, testRow(other.ID, "+959123456789", "m", c.now()))
		if err := storetest.InsertMessages(ctx, s, all); err != nil {
			t.Fatal(err)
		}
		var seen []string
		cursor := ""
		for range 10 {
			page, next, err := s.ListMessages(ctx, acc.ID, store.MessageFilter{Limit: 3, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range page {
				seen = append(seen, m.ID)
			}
			if next == "" {
				break
			}
			cursor = next
		}
		if len(seen) != 7 {
			t.Fatalf("paged through %d messages, want 7: %v", len(seen), seen)
		}
		uniq := map[string]bool{}
		for _, id := range seen {
			uniq[id] = true
		}
		if len(uniq) != 7 {
			t.Fatalf("pages repeated messages: %v", seen)
		}
		failed, _, err := s.ListMessages(ctx, acc.ID, store.MessageFilter{Limit: 10, Status: "failed"})
		if err != nil || len(failed) != 1 || failed[0].ID != all[3].ID {
			t.Fatalf("status filter: %v, %v", failed, err)
		}
		if _, _, err := s.ListMessages(ctx, acc.ID, store.MessageFilter{Limit: 3, Cursor: "garbage!"}); !errors.Is(err, account.ErrBadCursor) {
			t.Fatalf("bad cursor: %v", err)
		}
		got, err := s.GetMessages(ctx, acc.ID, []string{all[0].ID, all[7].ID, "msg_nope"})
		if err != nil || len(got) != 1 || got[0].ID != all[0].ID {
			t.Fatalf("GetMessages = %v, %v; want only the account's own", got, err)
		}
	})
}
