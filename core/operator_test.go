package core_test

import (
	"context"
	"errors"
	"testing"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// The command line finds an account by id or name (a name that looks like
// an id included), and a fresh install's first key makes the default
// account once.
func TestOperatorFindsAccountsAndTheDefault(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		svc := core.NewService(st, nil, nil, core.Options{})
		def, err := svc.DefaultAccount(ctx)
		if err != nil || def.Name != "default" {
			t.Fatalf("DefaultAccount on a fresh install = %+v, %v; want a new account named default", def, err)
		}
		if again, err := svc.DefaultAccount(ctx); err != nil || again.ID != def.ID {
			t.Fatalf("DefaultAccount again = %+v, %v; want %s", again, err, def.ID)
		}
		shop, err := st.CreateAccount(ctx, "shop")
		if err != nil {
			t.Fatal(err)
		}
		idLike, err := st.CreateAccount(ctx, "acc_named_like_an_id")
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			ref     string
			want    string
			missing bool
		}{
			{ref: shop.ID, want: shop.ID},
			{ref: "shop", want: shop.ID},
			{ref: "acc_named_like_an_id", want: idLike.ID},
			{ref: "acc_nobody", missing: true},
			{ref: "nobody", missing: true},
		}
		for _, tt := range tests {
			acc, err := svc.FindAccount(ctx, tt.ref)
			switch {
			case tt.missing && !errors.Is(err, account.ErrNotFound):
				t.Errorf("FindAccount(%q) = %+v, %v; want ErrNotFound", tt.ref, acc, err)
			case !tt.missing && (err != nil || acc.ID != tt.want):
				t.Errorf("FindAccount(%q) = %+v, %v; want %s", tt.ref, acc, err, tt.want)
			}
		}
		all, err := svc.Accounts(ctx)
		if err != nil || len(all) != 3 {
			t.Errorf("Accounts = %d accounts, %v; want 3", len(all), err)
		}
	})
}
