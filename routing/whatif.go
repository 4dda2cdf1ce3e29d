package routing

import (
	"context"
	"fmt"
	"time"
)

// ProviderPatch replaces parts of one provider's state for a "what if"
// decision: an explanation with the balances an operator gives, or a
// routing case. Nil fields keep the state underneath.
type ProviderPatch struct {
	Healthy *bool
	// Balance is in the routing currency.
	Balance     *float64
	SuccessRate *float64
	// Operators and Countries, when not nil, are the networks the provider
	// can send on now (provider_operators, provider_countries): a phone
	// gateway's online SIMs, rehearsed without the phones.
	Operators, Countries []string
}

// WhatIf is what a hypothetical decision assumes instead of the present.
type WhatIf struct {
	// At is the moment the time facts (hour, minute, weekday) are read
	// at; zero means the Router's clock.
	At time.Time
	// Providers patch the providers' state, by provider name.
	Providers map[string]ProviderPatch
}

// Overlay reports base's provider state (all healthy, no balance known when
// base is nil) with patches applied.
func Overlay(base StateSource, patches map[string]ProviderPatch) StateSource {
	return overlay{base: base, patches: patches}
}

type overlay struct {
	base    StateSource
	patches map[string]ProviderPatch
}

func (o overlay) ProviderState(name string) ProviderState {
	ps := ProviderState{Healthy: true, SuccessRate: 1}
	if o.base != nil {
		ps = o.base.ProviderState(name)
	}
	p, ok := o.patches[name]
	if !ok {
		return ps
	}
	if p.Healthy != nil {
		ps.Healthy = *p.Healthy
		if !ps.Healthy && ps.HealthDetail == "" {
			ps.HealthDetail = "assumed unhealthy"
		}
	}
	if p.Balance != nil {
		ps.Balance, ps.HasBalance, ps.BalanceCurrency = *p.Balance, true, ""
	}
	if p.SuccessRate != nil {
		ps.SuccessRate = *p.SuccessRate
	}
	if p.Operators != nil {
		ps.Operators = p.Operators
	}
	if p.Countries != nil {
		ps.Countries = p.Countries
	}
	return ps
}

// ExplainWhatIf explains the decision the Router would make at w.At with
// the providers' live state patched by w.Providers.
func (r *Router) ExplainWhatIf(ctx context.Context, f Facts, w WhatIf) Explanation {
	d := r.decider()
	if !w.At.IsZero() {
		d.now = w.At
	}
	if len(w.Providers) > 0 {
		d.state = Overlay(r.state, w.Providers)
	}
	var ex Explanation
	if _, err := r.table.Load().plan(ctx, f, d, &ex); err != nil && ex.Error == "" {
		ex.Error = err.Error()
	}
	if ex.Candidates == nil {
		ex.Candidates = []string{}
	}
	return ex
}

// atLayouts are the forms a what-if time takes: RFC 3339, with or without
// seconds.
var atLayouts = []string{time.RFC3339, "2006-01-02T15:04Z07:00"}

// ParseAt reads a moment to decide at, as operators write it on the
// command line, in the admin endpoint's body and in routing cases:
// 2026-12-07T23:10+06:30 or 2026-12-07T17:40:00Z. "" is the zero time,
// which WhatIf reads as now.
func ParseAt(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, l := range atLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time such as 2026-12-07T23:10+06:30 or 2026-12-07T17:40:00Z", v)
}
