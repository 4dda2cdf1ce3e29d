package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

func TestAccounts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		if _, err := s.FirstAccount(ctx); !isNotFound(err) {
			t.Fatalf("FirstAccount on an empty store: err = %v, want ErrNotFound", err)
		}

		first := mustAccount(t, s, "acme")
		if !strings.HasPrefix(first.ID, "acc_") || first.CreatedAt.IsZero() {
			t.Errorf("CreateAccount = %+v, want an acc_ id and a creation time", first)
		}
		second := mustAccount(t, s, "globex")

		if _, err := s.CreateAccount(ctx, "acme"); !errors.Is(err, store.ErrConflict) {
			t.Errorf("CreateAccount with a taken name: err = %v, want ErrConflict", err)
		}
		if _, err := s.CreateAccount(ctx, "  "); err == nil {
			t.Error("CreateAccount with a blank name succeeded")
		}

		got, err := s.FirstAccount(ctx)
		if err != nil || got.ID != first.ID {
			t.Errorf("FirstAccount = %+v, %v; want %s", got, err, first.ID)
		}
		got, err = s.AccountByName(ctx, "globex")
		if err != nil || got.ID != second.ID {
			t.Errorf("AccountByName(globex) = %+v, %v; want %s", got, err, second.ID)
		}
		got, err = s.AccountByID(ctx, second.ID)
		if err != nil || got.Name != "globex" || !got.CreatedAt.Equal(second.CreatedAt) {
			t.Errorf("AccountByID = %+v, %v; want %+v", got, err, second)
		}
		if _, err := s.AccountByName(ctx, "initech"); !isNotFound(err) {
			t.Errorf("AccountByName(unknown): err = %v, want ErrNotFound", err)
		}
		if _, err := s.AccountByID(ctx, "acc_missing"); !isNotFound(err) {
			t.Errorf("AccountByID(unknown): err = %v, want ErrNotFound", err)
		}

		again, err := s.EnsureAccount(ctx, "acme")
		if err != nil || again.ID != first.ID {
			t.Errorf("EnsureAccount(existing) = %+v, %v; want %s", again, err, first.ID)
		}
		fresh, err := s.EnsureAccount(ctx, "initech")
		if err != nil || fresh.Name != "initech" {
			t.Errorf("EnsureAccount(new) = %+v, %v", fresh, err)
		}

		all, err := s.ListAccounts(ctx)
		if err != nil || len(all) != 3 {
			t.Fatalf("ListAccounts = %d accounts, %v; want 3", len(all), err)
		}
	})
}
