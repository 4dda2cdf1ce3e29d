package config_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/smsrouter/smsrouter/routing"
)

// failover_on takes the refusal codes plugins give, per provider (the
// default) and per route (which replaces it); anything else is an error at
// the code's own line and column. The plan carries each candidate's list.
func TestFailoverOn(t *testing.T) {
	const base = `
provider "a" {
  plugin      = "sandbox"
  failover_on = %s
}
provider "b" {
  plugin = "sandbox"
}
route "mm" {
  match      = "country == 'MM'"
  candidates = ["a", "b"]
  %s
}
route "default" {
  default    = true
  candidates = ["a", "b"]
}
`
	tests := []struct {
		name, provider, route string
		mm, other             []string // a's list on each route
		wantErr               string
	}{
		{name: "provider default on every route", provider: `["REJECTED", "INVALID_SENDER"]`,
			mm: []string{"REJECTED", "INVALID_SENDER"}, other: []string{"REJECTED", "INVALID_SENDER"}},
		{name: "route replaces the default", provider: `["REJECTED"]`, route: `failover_on = ["INVALID_SENDER", "BLOCKED"]`,
			mm: []string{"INVALID_SENDER", "BLOCKED"}, other: []string{"REJECTED"}},
		{name: "an empty route list turns it off", provider: `["REJECTED"]`, route: `failover_on = []`,
			mm: nil, other: []string{"REJECTED"}},
		{name: "unknown code", provider: `["REJECTED", "INVALID_SENDERID"]`,
			wantErr: `test.hcl:4:30: Unknown outcome code: "INVALID_SENDERID" is not a refusal code plugins give; failover_on takes: REJECTED, INVALID_SENDER,`},
		{name: "lower case", provider: `["REJECTED"]`, route: `failover_on = ["rejected"]`,
			wantErr: `test.hcl:12:18: Unknown outcome code: "rejected"`},
		{name: "duplicate would send twice", provider: `["DUPLICATE"]`,
			wantErr: `test.hcl:4:18: Duplicate cannot fail over: DUPLICATE means the provider has or may have the message already`},
		{name: "not a list", provider: `"REJECTED"`, wantErr: `test.hcl:4:17:`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := parseCase(t, fmt.Sprintf(base, tt.provider, tt.route), tt.wantErr)
			if cfg == nil {
				return
			}
			r := routing.NewRouter(cfg.Table, nil)
			for _, c := range []struct {
				country string
				want    []string
			}{{"MM", tt.mm}, {"TH", tt.other}} {
				plan, err := r.Plan(context.Background(), routing.Facts{To: "+959791234567", Country: c.country, Segments: 1})
				if err != nil {
					t.Fatal(err)
				}
				if got := plan.Candidates[0].FailoverOn; !slices.Equal(got, c.want) {
					t.Errorf("%s: a fails over on %q, want %q", c.country, got, c.want)
				}
				ex := r.Explain(context.Background(), routing.Facts{To: "+959791234567", Country: c.country, Segments: 1})
				var shown []string
				for _, rt := range ex.Routes {
					if rt.Outcome == "chosen" {
						shown = rt.Candidates[0].FailoverOn
					}
				}
				if !slices.Equal(shown, c.want) {
					t.Errorf("%s: explain shows a failing over on %q, want %q", c.country, shown, c.want)
				}
			}
		})
	}
}
