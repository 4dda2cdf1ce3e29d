package core_test

import (
	"context"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/numbers"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// The config's provider numbers join the inventory once, as available
// receiving numbers of their provider; a number that does not read names
// its provider and adds nothing.
func TestSyncConfigNumbers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		listed := []core.ConfigNumbers{
			{Provider: "twilio-1", Numbers: []string{"+15017122661", "12345/US"}},
			{Provider: "smpp-mm", Numbers: []string{"+959791234567"}},
			{Provider: "none"},
		}
		tests := []struct {
			name              string
			listed            []core.ConfigNumbers
			wantTotal, wantAd int
			wantErr           string
		}{
			{name: "first start", listed: listed, wantTotal: 3, wantAd: 3},
			{name: "restart adds nothing", listed: listed, wantTotal: 3, wantAd: 0},
			{name: "a typo names its provider", listed: []core.ConfigNumbers{{Provider: "smpp-th", Numbers: []string{"+66 not a number"}}}, wantErr: `provider "smpp-th"`},
			{name: "no numbers", listed: nil},
		}
		for _, tc := range tests {
			total, added, err := core.SyncConfigNumbers(ctx, st, tc.listed)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("%s: error %v; want one naming %s", tc.name, err, tc.wantErr)
				}
				continue
			}
			if err != nil || total != tc.wantTotal || added != tc.wantAd {
				t.Errorf("%s: %d listed, %d added, %v; want %d, %d", tc.name, total, added, err, tc.wantTotal, tc.wantAd)
			}
		}
		ns, err := st.ListNumbers(ctx, numbers.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(ns) != 3 {
			t.Fatalf("inventory %+v; want the 3 listed numbers", ns)
		}
		for _, n := range ns {
			if n.State != numbers.Available || n.Source != numbers.SourceConfig || !n.Receive || n.Provider == "" {
				t.Errorf("number %+v; want available, from the config, receiving, with its provider", n)
			}
		}
	})
}
