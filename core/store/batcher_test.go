package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/intake"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

func dupAcceptance(acc string, m *intake.Message, fp string, until time.Time) intake.Acceptance {
	return intake.Acceptance{Messages: []*intake.Message{m}, Duplicates: []intake.DuplicateClaim{{AccountID: acc, Fingerprint: fp, MessageID: m.ID}},
		DuplicateUntil: until}
}

func TestAcceptManyIsolatesRefusals(t *testing.T) {
	c := newClock()
	c.pairs(t, func(t *testing.T, a, _ *store.Store) {
		ctx := ctxT(t)
		acc := mustAccount(t, a, "acme").ID
		until := c.now().Add(2 * time.Minute)
		held := testMessage(acc, "+959123456789", "held", c.now())
		if err := a.Accept(ctx, dupAcceptance(acc, held, "fp-held", until)); err != nil {
			t.Fatal(err)
		}
		if err := a.Accept(ctx, intake.Acceptance{Messages: []*intake.Message{testMessage(acc, "+959123456780", "x", c.now())},
			Idempotency: &intake.Idempotency{AccountID: acc, Key: "used", RequestHash: "h", Code: 202, Body: "{}", ExpiresAt: until}}); err != nil {
			t.Fatal(err)
		}

		msgs := make([]*intake.Message, 7)
		for i := range msgs {
			msgs[i] = testMessage(acc, "+959123456789", fmt.Sprint("text ", i), c.now())
		}
		idem := func(key string) *intake.Idempotency {
			return &intake.Idempotency{AccountID: acc, Key: key, RequestHash: "h", Code: 202, Body: "{}", ExpiresAt: until}
		}
		withBoth := dupAcceptance(acc, msgs[5], "fp-held", until) // new key, held fingerprint
		withBoth.Idempotency = idem("fresh-but-refused")
		batch := []intake.Acceptance{
			dupAcceptance(acc, msgs[0], "fp-0", until),                        // accepted
			dupAcceptance(acc, msgs[1], "fp-held", until),                     // refused: claimed before
			dupAcceptance(acc, msgs[2], "fp-0", until),                        // refused: claimed earlier in the batch
			{Messages: []*intake.Message{msgs[3]}, Idempotency: idem("used")}, // refused: replay
			{Messages: []*intake.Message{msgs[4]}, Idempotency: idem("new")},  // accepted
			withBoth,                               // refused after its key was written: the key must not stay
			{Messages: []*intake.Message{msgs[6]}}, // accepted
		}
		refused, err := a.AcceptMany(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		var de *message.DuplicateError
		var re *intake.ReplayError
		checks := []struct {
			name string
			ok   bool
		}{
			{"0 accepted", refused[0] == nil},
			{"1 duplicate of the held message", errors.As(refused[1], &de) && de.MessageID == held.ID},
			{"2 duplicate of message 0", errors.As(refused[2], &de) && de.MessageID == msgs[0].ID},
			{"3 replay", errors.As(refused[3], &re) && re.Record.Key == "used"},
			{"4 accepted", refused[4] == nil},
			{"5 duplicate of the held message", errors.As(refused[5], &de) && de.MessageID == held.ID},
			{"6 accepted", refused[6] == nil},
		}
		for _, ch := range checks {
			if !ch.ok {
				t.Errorf("%s: got %v", ch.name, refused)
			}
		}
		for i, m := range msgs {
			_, err := a.GetMessage(ctx, acc, m.ID)
			stored := err == nil
			if want := refused[i] == nil; stored != want {
				t.Errorf("message %d stored = %v (%v), want %v", i, stored, err, want)
			}
		}
		if _, err := a.IdempotencyRecordFor(ctx, acc, "fresh-but-refused"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a refused acceptance left its idempotency key: %v", err)
		}
		if _, err := a.IdempotencyRecordFor(ctx, acc, "new"); err != nil {
			t.Errorf("an accepted acceptance's idempotency key: %v", err)
		}
	})
}

func TestBatcherGivesEachCallerItsOwnResult(t *testing.T) {
	c := newClock()
	c.pairs(t, func(t *testing.T, a, b *store.Store) {
		ctx := ctxT(t)
		acc := mustAccount(t, a, "acme").ID
		until := c.now().Add(2 * time.Minute)
		held := testMessage(acc, "+959123456789", "held", c.now())
		if err := a.Accept(ctx, dupAcceptance(acc, held, "fp-held", until)); err != nil {
			t.Fatal(err)
		}
		// Two servers, each with its own batcher, sharing the database.
		ba, bb := store.NewBatcher(a, store.BatcherOptions{MaxBatch: 8}), store.NewBatcher(b, store.BatcherOptions{MaxBatch: 8, Linger: time.Millisecond})
		defer ba.Close()
		defer bb.Close()
		const n = 60
		msgs := make([]*intake.Message, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			msgs[i] = testMessage(acc, "+959123456789", fmt.Sprint("text ", i), c.now())
			fp := fmt.Sprint("fp-", i)
			if i%10 == 3 {
				fp = "fp-held"
			}
			batcher := ba
			if i%2 == 1 {
				batcher = bb
			}
			wg.Go(func() { errs[i] = batcher.Accept(ctx, dupAcceptance(acc, msgs[i], fp, until)) })
		}
		wg.Wait()
		for i, err := range errs {
			var de *message.DuplicateError
			if i%10 == 3 {
				if !errors.As(err, &de) || de.MessageID != held.ID {
					t.Errorf("caller %d (a repeat): %v, want a message.DuplicateError naming %s", i, err, held.ID)
				}
			} else if err != nil {
				t.Errorf("caller %d: %v", i, err)
			}
			_, gerr := a.GetMessage(ctx, acc, msgs[i].ID)
			if stored := gerr == nil; stored != (err == nil) {
				t.Errorf("caller %d got %v but its message stored = %v", i, err, stored)
			}
		}
	})
}

// TestBatcherCommitFailureReachesOnlyItsCaller: a batch whose insert
// fails for one member (a message id already stored) is stored again
// without it; only that caller hears of the failure.
func TestBatcherCommitFailureReachesOnlyItsCaller(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		acc := mustAccount(t, s, "acme").ID
		now := time.Now().UTC()
		taken := testMessage(acc, "+959123456789", "first", now)
		if err := s.Accept(ctx, intake.Acceptance{Messages: []*intake.Message{taken}}); err != nil {
			t.Fatal(err)
		}
		// A linger long enough that the callers share a batch; one of them
		// reuses a stored message id, so the batch's insert fails.
		bt := store.NewBatcher(s, store.BatcherOptions{MaxBatch: 5, Linger: time.Minute, Workers: 1})
		defer bt.Close()
		errs := make([]error, 5)
		msgs := make([]*intake.Message, 5)
		var wg sync.WaitGroup
		for i := range errs {
			msgs[i] = testMessage(acc, "+959123456789", fmt.Sprint("text ", i), now)
			if i == 2 {
				msgs[i].ID = taken.ID
			}
			wg.Go(func() { errs[i] = bt.Accept(ctx, intake.Acceptance{Messages: []*intake.Message{msgs[i]}}) })
		}
		wg.Wait()
		for i, err := range errs {
			var de *message.DuplicateError
			if i == 2 {
				if err == nil || errors.As(err, &de) {
					t.Errorf("caller %d (the reused id): %v, want the insert's error", i, err)
				}
				continue
			}
			if err != nil {
				t.Errorf("caller %d failed for another caller's message: %v", i, err)
			}
			if _, gerr := s.GetMessage(ctx, acc, msgs[i].ID); gerr != nil {
				t.Errorf("caller %d was told its message is stored but it is not (%v)", i, gerr)
			}
		}
	})
}

func TestBatcherCloseDrains(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		acc := mustAccount(t, s, "acme").ID
		now := time.Now().UTC()
		// The linger holds the first batch open; Close must still store
		// what is queued, and later callers still get their messages stored.
		bt := store.NewBatcher(s, store.BatcherOptions{MaxBatch: 100, Linger: time.Minute})
		const n = 10
		msgs := make([]*intake.Message, n+1)
		errs := make([]error, n+1)
		var wg sync.WaitGroup
		for i := range n {
			msgs[i] = testMessage(acc, "+959123456789", fmt.Sprint("text ", i), now)
			wg.Go(func() { errs[i] = bt.Accept(ctx, intake.Acceptance{Messages: []*intake.Message{msgs[i]}}) })
		}
		bt.Close()
		wg.Wait()
		msgs[n] = testMessage(acc, "+959123456789", "after close", now)
		errs[n] = bt.Accept(ctx, intake.Acceptance{Messages: []*intake.Message{msgs[n]}})
		for i, m := range msgs {
			if errs[i] != nil {
				t.Errorf("caller %d: %v", i, errs[i])
				continue
			}
			if _, err := s.GetMessage(ctx, acc, m.ID); err != nil {
				t.Errorf("caller %d's message: %v", i, err)
			}
		}
	})
}

func TestBatcherCallerGoneBeforeItsBatchIsNotStored(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		acc := mustAccount(t, s, "acme").ID
		bt := store.NewBatcher(s, store.BatcherOptions{})
		defer bt.Close()
		ctx, cancel := context.WithCancel(ctxT(t))
		cancel()
		m := testMessage(acc, "+959123456789", "gone", time.Now().UTC())
		err := bt.Accept(ctx, intake.Acceptance{Messages: []*intake.Message{m}})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Accept with a cancelled context: %v, want context.Canceled", err)
		}
		if _, err := s.GetMessage(ctxT(t), acc, m.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the message of a caller that gave up was stored: %v", err)
		}
	})
}

// BenchmarkBatcherAccept measures durable single-message acceptances with
// a duplicate claim each from 64 concurrent callers: each in its own
// transaction (direct), and through a Batcher with 1 to 16 workers (SQLite
// always uses one), committing at once or lingering 1ms for more.
func BenchmarkBatcherAccept(b *testing.B) {
	for _, driver := range storetest.Drivers() {
		for _, o := range []store.BatcherOptions{{}, {Workers: 1}, {Workers: 1, Linger: time.Millisecond}, {Workers: 2}, {Workers: 4}, {Workers: 16}} {
			name := fmt.Sprintf("%s/workers=%d/linger=%s", driver, o.Workers, o.Linger)
			if o.Workers == 0 {
				name = driver + "/direct"
			}
			b.Run(name, func(b *testing.B) {
				s := storetest.Open(b, driver)
				acc, err := s.CreateAccount(context.Background(), "bench")
				if err != nil {
					b.Fatal(err)
				}
				accepter := benchAccepter(b, s, o)
				until := time.Now().Add(time.Hour)
				b.SetParallelism(32)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						m := testMessage(acc.ID, "+959123456789", "t", time.Now().UTC())
						if err := accepter.Accept(context.Background(), dupAcceptance(acc.ID, m, m.ID, until)); err != nil {
							b.Error(err)
							return
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
			})
		}
	}
}

// benchAccepter is s itself (a transaction per acceptance) when o has no
// workers, else a Batcher over s closed when the benchmark ends.
func benchAccepter(b *testing.B, s *store.Store, o store.BatcherOptions) interface {
	Accept(context.Context, intake.Acceptance) error
} {
	if o.Workers <= 0 {
		return s
	}
	bt := store.NewBatcher(s, o)
	b.Cleanup(bt.Close)
	return bt
}
