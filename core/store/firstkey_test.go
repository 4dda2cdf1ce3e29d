package store_test

import (
	"context"
	"sync"
	"testing"

	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// Servers starting together on an empty database make one first key and
// one account between them.
func TestCreateFirstAPIKeyOnceAcrossServers(t *testing.T) {
	storetest.EachPair(t, store.Options{}, func(t *testing.T, a, b *store.Store) {
		ctx := context.Background()
		const callers = 8
		var mu sync.Mutex
		var made []string
		var wg sync.WaitGroup
		for i := range callers {
			s := []*store.Store{a, b}[i%2]
			wg.Go(func() {
				raw, _, created, err := s.CreateFirstAPIKey(ctx, "first key", []string{account.PermSystemAdmin})
				if err != nil {
					t.Errorf("CreateFirstAPIKey: %v", err)
					return
				}
				if created != (raw != "") {
					t.Errorf("created %v with raw key %q", created, raw)
				}
				if created {
					mu.Lock()
					made = append(made, raw)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(made) != 1 {
			t.Fatalf("%d first keys made by %d concurrent callers, want 1", len(made), callers)
		}
		keys, err := b.ListAPIKeys(ctx, "")
		if err != nil || len(keys) != 1 {
			t.Fatalf("ListAPIKeys = %d keys, %v; want the one first key", len(keys), err)
		}
		accs, err := a.ListAccounts(ctx)
		if err != nil || len(accs) != 1 || accs[0].Name != store.FirstAccountName || keys[0].AccountID != accs[0].ID {
			t.Fatalf("accounts %+v, %v; want the one account %q holding the key", accs, err, store.FirstAccountName)
		}
		if k, err := a.Authenticate(ctx, made[0]); err != nil || !k.Has(account.PermSystemAdmin) {
			t.Errorf("Authenticate(first key) = %+v, %v", k, err)
		}
	})
}

func TestCreateFirstAPIKeyKeepsExistingKeysAndAccount(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		acc := mustAccount(t, s, "acme")
		raw, _, created, err := s.CreateFirstAPIKey(ctx, "first key", []string{account.PermSendSMS})
		if err != nil || !created {
			t.Fatalf("CreateFirstAPIKey on a database with an account and no key = %v, %v; want a key", created, err)
		}
		if k, err := s.Authenticate(ctx, raw); err != nil || k.AccountID != acc.ID {
			t.Errorf("first key %+v, %v; want it on the existing account %s", k, err, acc.ID)
		}
		raw, _, created, err = s.CreateFirstAPIKey(ctx, "again", []string{account.PermSendSMS})
		if err != nil || created || raw != "" {
			t.Errorf("CreateFirstAPIKey with a key present = %q, %v, %v; want nothing made", raw, created, err)
		}
		if _, _, _, err := s.CreateFirstAPIKey(ctx, "bad", []string{"root"}); err == nil {
			t.Error("CreateFirstAPIKey with an unknown permission succeeded")
		}
	})
}
