package routing

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// ProviderState is what the host knows about a provider right now.
type ProviderState struct {
	Healthy bool
	// HealthDetail says why the provider is unhealthy; "" when it is
	// healthy or no reason is known.
	HealthDetail    string
	HasBalance      bool    // false until the plugin reported one
	Balance         float64 // in BalanceCurrency
	BalanceCurrency string
	SuccessRate     float64       // 0..1 over the recent window; 1 with no data
	Latency         time.Duration // mean submit latency over the window; 0 with no data
	// RefuseWhileDown: while unhealthy, the provider wants messages with no
	// other candidate refused at accept (an Android gateway's
	// when_offline = "refuse").
	RefuseWhileDown bool
	// Operators and Countries are the networks the provider can send on
	// now, when it says (phones' and modem ports' SIMs); nil otherwise.
	Operators []string
	Countries []string
}

// StateSource reports providers' live state; nil means "all healthy, no balance known".
type StateSource interface {
	ProviderState(name string) ProviderState
}

// Router decides with the current table and the providers' live state. The
// table can be swapped at any time: a decision runs entirely on the table it
// started with, so a reload under traffic neither loses nor mixes plans.
type Router struct {
	table atomic.Pointer[Table]
	state StateSource
	log   hclog.Logger
	now   func() time.Time
	errs  atomic.Uint64
}

// RouterOption configures a Router.
type RouterOption func(*Router)

// WithLogger logs rule errors (rate-limited) to log.
func WithLogger(log hclog.Logger) RouterOption {
	return func(r *Router) { r.log = log.Named("routing") }
}

// WithClock sets the clock the hour and weekday facts are read from.
func WithClock(now func() time.Time) RouterOption {
	return func(r *Router) { r.now = now }
}

// NewRouter returns a Router over t. state may be nil.
func NewRouter(t *Table, state StateSource, opts ...RouterOption) *Router {
	r := &Router{state: state, now: time.Now}
	for _, o := range opts {
		o(r)
	}
	r.table.Store(t)
	return r
}

// Plan returns the ordered candidates for a message, or *NoRouteError.
func (r *Router) Plan(ctx context.Context, f Facts) (Plan, error) {
	return r.table.Load().plan(ctx, f, r.decider(), nil)
}

// PlanAt is Plan with the time facts (hour, minute, local_time, weekday)
// and any hold read at at instead of the Router's clock: a scheduled
// message is decided as of its send time.
func (r *Router) PlanAt(ctx context.Context, f Facts, at time.Time) (Plan, error) {
	d := r.decider()
	d.now = at
	return r.table.Load().plan(ctx, f, d, nil)
}

// Explain decides like Plan and records why: every route tried, every
// candidate kept or dropped with the values its filter saw, and the choice.
func (r *Router) Explain(ctx context.Context, f Facts) Explanation {
	return r.ExplainWhatIf(ctx, f, WhatIf{})
}

func (r *Router) decider() decider {
	return decider{state: r.state, now: r.now(), log: r.log, errs: &r.errs}
}

// Swap makes t the table every following decision uses.
func (r *Router) Swap(t *Table) { r.table.Store(t) }

// Table is the table in use.
func (r *Router) Table() *Table { return r.table.Load() }

// RuleErrors is how many rule evaluations failed at run time through this
// Router (each counted as not matching).
func (r *Router) RuleErrors() uint64 { return r.errs.Load() }
