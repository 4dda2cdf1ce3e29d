package store_test

import (
	"context"
	"testing"

	"github.com/smsrouter/smsrouter/core/numbers"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

func simNumbers(provider string, e164s ...string) []numbers.Number {
	out := make([]numbers.Number, len(e164s))
	for i, e := range e164s {
		out[i] = numbers.Number{E164: e, Country: "US", Provider: provider, Source: numbers.SourcePlugin, Receive: true, State: numbers.Available}
	}
	return out
}

// TestReconcilePluginNumbers: a provider's SIMs come and go; a number it
// stops listing is retired while free, kept while held (its lease is not
// broken), and comes back when listed again. Other sources' numbers and
// other providers' are never touched.
func TestReconcilePluginNumbers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		addNumbers(t, s, 900, 1, "") // +15550000900, from the config of provider "sandbox"
		check := func(step string, got numbers.Reconciled, want numbers.Reconciled) {
			t.Helper()
			if got != want {
				t.Fatalf("%s: %+v, want %+v", step, got, want)
			}
		}
		r, err := s.ReconcilePluginNumbers(ctx, "phones", simNumbers("phones", "+15550000001", "+15550000002", "+15550000003"))
		if err != nil {
			t.Fatal(err)
		}
		check("first", r, numbers.Reconciled{Added: 3})
		if _, err := s.ReconcilePluginNumbers(ctx, "modems", simNumbers("modems", "+15550000004")); err != nil {
			t.Fatal(err)
		}
		held, err := s.AssignNumber(ctx, numbers.Request{AccountID: "acc_a", Country: "US"}, 0, nil)
		if err != nil {
			t.Fatal(err)
		}

		// Every phone number but one disappears; the held one stays held.
		keep := "+15550000001"
		if held.E164 == keep {
			keep = "+15550000002"
		}
		r, err = s.ReconcilePluginNumbers(ctx, "phones", simNumbers("phones", keep))
		if err != nil {
			t.Fatal(err)
		}
		wantRetired := 2
		if held.Provider == "phones" && held.E164 != keep {
			wantRetired = 1
		}
		check("shrunk", r, numbers.Reconciled{Retired: wantRetired})
		if n, _ := s.GetNumber(ctx, held.E164); n.State != numbers.Assigned || n.Holder != "acc_a" {
			t.Errorf("held number %s after its provider stopped listing it: %+v, want still assigned to acc_a", held.E164, n)
		}
		for _, e := range []string{"+15550000900", "+15550000004"} {
			if n, _ := s.GetNumber(ctx, e); n.State == numbers.Retired {
				t.Errorf("number %s of another source or provider was retired", e)
			}
		}

		// The SIMs are back.
		r, err = s.ReconcilePluginNumbers(ctx, "phones", simNumbers("phones", "+15550000001", "+15550000002", "+15550000003"))
		if err != nil {
			t.Fatal(err)
		}
		check("back", r, numbers.Reconciled{Restored: wantRetired})
		// An empty list retires every free one.
		r, err = s.ReconcilePluginNumbers(ctx, "phones", nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.Retired == 0 || r.Added+r.Restored != 0 {
			t.Errorf("empty list: %+v, want only retirements", r)
		}
	})
}
