package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// TestKeyChangesReachOtherServers: a server that verified a key (and may
// keep it in memory) refuses it once another server revoked it, and sees a
// new per-key limit set elsewhere.
func TestKeyChangesReachOtherServers(t *testing.T) {
	storetest.EachPair(t, store.Options{}, func(t *testing.T, a, b *store.Store) {
		ctx := context.Background()
		acc := mustAccount(t, a, "acme")
		raw, key, err := a.CreateAPIKey(ctx, acc.ID, "k", []string{account.PermSendSMS})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(ctx, raw); err != nil {
			t.Fatalf("before the change: %v", err)
		}
		// Keys are kept in memory once a hears key changes (notifications
		// on PostgreSQL, re-reads on SQLite); the changes below must then
		// still reach it.
		eventually(t, "the key cache goes live", a.KeyCacheLive)
		if _, err := a.Authenticate(ctx, raw); err != nil {
			t.Fatalf("before the change: %v", err)
		}
		if _, err := b.SetAPIKeySMSPerMinute(ctx, key.ID, 7); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the new limit reaches the other server", func() bool {
			k, err := a.Authenticate(ctx, raw)
			return err == nil && k.SMSPerMinute == 7
		})
		if err := b.RevokeAPIKey(ctx, key.ID); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the revocation reaches the other server", func() bool {
			_, err := a.Authenticate(ctx, raw)
			return errors.Is(err, account.ErrUnauthorized)
		})
		for range 20 {
			if _, err := a.Authenticate(ctx, raw); !errors.Is(err, account.ErrUnauthorized) {
				t.Fatalf("after the revocation was seen: err = %v, want ErrUnauthorized", err)
			}
		}
	})
}

// eventually polls cond, in a bounded loop, for what another process's
// notification makes true within milliseconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestConcurrentMissesOfAKeyShareOneRead: the requests in flight when a
// kept key's time runs out all miss it at once; they must read it once,
// not each take a connection for the same row (a burst of slow reads
// every 30 s under load), and a revoked key is still refused.
func TestConcurrentMissesOfAKeyShareOneRead(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	storetest.EachPair(t, store.Options{Now: clock.Now}, func(t *testing.T, a, _ *store.Store) {
		ctx := context.Background()
		acc := mustAccount(t, a, "acme")
		raw, key, err := a.CreateAPIKey(ctx, acc.ID, "k", []string{account.PermSendSMS})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Authenticate(ctx, raw); err != nil { // starts listening for key changes
			t.Fatal(err)
		}
		eventually(t, "the key cache goes live", a.KeyCacheLive)
		if _, err := a.Authenticate(ctx, raw); err != nil { // now kept
			t.Fatal(err)
		}
		authenticateAll := func(want error) int64 {
			t.Helper()
			before := store.APIKeyReads()
			var wg sync.WaitGroup
			errs := make(chan error, 50)
			for range 50 {
				wg.Go(func() {
					_, err := a.Authenticate(ctx, raw)
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if !errors.Is(err, want) {
					t.Fatalf("Authenticate: %v, want %v", err, want)
				}
			}
			return store.APIKeyReads() - before
		}
		tests := []struct {
			name  string
			after time.Duration
			reads int64
		}{
			{"kept", 0, 0},
			{"kept key's time ran out", 31 * time.Second, 1},
			{"kept again", time.Second, 0},
		}
		for _, tt := range tests {
			clock.Advance(tt.after)
			if got := authenticateAll(nil); got != tt.reads {
				t.Fatalf("%s: 50 concurrent requests read the key %d times, want %d", tt.name, got, tt.reads)
			}
		}
		if err := a.RevokeAPIKey(ctx, key.ID); err != nil {
			t.Fatal(err)
		}
		if got := authenticateAll(account.ErrUnauthorized); got < 1 {
			t.Fatalf("after the revocation: %d reads, want the key read again", got)
		}
	})
}
