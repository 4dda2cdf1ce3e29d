package store_test

import (
	"context"
	"errors"
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
