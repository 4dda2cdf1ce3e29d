package main

import (
	"maps"
	"slices"
	"strings"

	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/inbound"
	"github.com/smsrouter/smsrouter/routing"
)

// configChanges says what a reload changes, as log key/value pairs: the
// routes added, removed and changed, the providers whose pricing (rate
// sheets included) or limits changed, whether the routing block did, and
// the inbound rules changed.
// Positions in the file are not compared, so moving a block is no change.
func configChanges(old, cur *config.Config) []any {
	oldRoutes := map[string]routing.RouteConfig{}
	for _, r := range old.Routes {
		oldRoutes[r.Name] = r
	}
	var added, removed, changed []string
	seen := map[string]bool{}
	var curOrder, oldOrder []string
	for _, r := range cur.Routes {
		seen[r.Name] = true
		o, ok := oldRoutes[r.Name]
		switch {
		case !ok:
			added = append(added, r.Name)
			continue
		case !sameRoute(o, r):
			changed = append(changed, r.Name)
		}
		curOrder = append(curOrder, r.Name)
	}
	for _, r := range old.Routes {
		if !seen[r.Name] {
			removed = append(removed, r.Name)
		} else {
			oldOrder = append(oldOrder, r.Name)
		}
	}
	oldProviders := map[string]config.Provider{}
	for _, p := range old.Providers {
		oldProviders[p.Name] = p
	}
	var pricing, limits []string
	for _, p := range cur.Providers {
		o := oldProviders[p.Name]
		if !samePricing(o.Pricing, p.Pricing) {
			pricing = append(pricing, p.Name)
		}
		if o.Limits != p.Limits {
			limits = append(limits, p.Name)
		}
	}
	out := []any{}
	for _, kv := range []struct {
		key   string
		names []string
	}{{"routes_added", added}, {"routes_removed", removed}, {"routes_changed", changed},
		{"pricing_changed", pricing}, {"limits_changed", limits}} {
		if len(kv.names) > 0 {
			out = append(out, kv.key, strings.Join(kv.names, ","))
		}
	}
	if !slices.Equal(oldOrder, curOrder) {
		out = append(out, "routes_reordered", true) // which route is tried first changed
	}
	if !sameSettings(old.Routing, cur.Routing) {
		out = append(out, "routing_block_changed", true)
	}
	out = append(out, inboundChanges(old.InboundRules, cur.InboundRules)...)
	if len(out) == 0 {
		out = append(out, "changes", "none")
	}
	return out
}

func sameRoute(a, b routing.RouteConfig) bool {
	return a.Default == b.Default && a.Match.Source == b.Match.Source && a.Filter.Source == b.Filter.Source &&
		a.Strategy == b.Strategy && maps.Equal(a.Weights, b.Weights) && slices.Equal(a.Candidates, b.Candidates) &&
		a.HasFailoverOn == b.HasFailoverOn && slices.Equal(a.FailoverOn, b.FailoverOn) && sameHold(a.Hold, b.Hold)
}

// sameHold compares two holds' settings, not where they stand in the file.
func sameHold(a, b *routing.HoldConfig) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Until == b.Until && a.From == b.From && a.To == b.To && a.Zone == b.Zone && a.Both == b.Both
}

// inboundChanges names the inbound rules added, removed or changed
// (inbound_changed), and says when the order they are tried in changed.
func inboundChanges(old, cur []inbound.RuleConfig) []any {
	same := func(a, b inbound.RuleConfig) bool {
		return a.Match.Source == b.Match.Source && a.Account == b.Account && a.ExtractOTP == b.ExtractOTP && a.Webhook == b.Webhook
	}
	oldByName := map[string]inbound.RuleConfig{}
	var oldOrder, curOrder, changed []string
	for _, r := range old {
		oldByName[r.Name] = r
	}
	seen := map[string]bool{}
	for _, r := range cur {
		seen[r.Name] = true
		if o, ok := oldByName[r.Name]; !ok || !same(o, r) {
			changed = append(changed, r.Name)
		} else {
			curOrder = append(curOrder, r.Name)
		}
	}
	for _, r := range old {
		if !seen[r.Name] {
			changed = append(changed, r.Name)
		} else if slices.Contains(curOrder, r.Name) {
			oldOrder = append(oldOrder, r.Name)
		}
	}
	var out []any
	if len(changed) > 0 {
		out = append(out, "inbound_changed", strings.Join(changed, ","))
	}
	if !slices.Equal(oldOrder, curOrder) {
		out = append(out, "inbound_reordered", true)
	}
	return out
}

func samePricing(a, b routing.Pricing) bool {
	return a.Currency == b.Currency && a.Default == b.Default && a.HasDefault == b.HasDefault &&
		maps.Equal(a.Countries, b.Countries) && maps.Equal(a.Operators, b.Operators)
}

func sameSettings(a, b routing.Settings) bool {
	return a.Location.String() == b.Location.String() && a.Currency == b.Currency &&
		maps.Equal(a.Conversion, b.Conversion) && maps.Equal(a.OperatorPrefixes, b.OperatorPrefixes)
}
