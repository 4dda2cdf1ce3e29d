package routing

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/expr-lang/expr/vm"
	"github.com/hashicorp/go-hclog"
)

// scratch is one decision's working memory, pooled so that a decision
// allocates little more than the plan it returns.
type scratch struct {
	env  Env
	cenv CandidateEnv
	kept []kept
	vm   vm.VM
	// dropped tells, when no route is left, whether the filters dropped
	// only refusing providers.
	dropped drops
	// why collects a route's candidates for Plan.Why (Facts.KeepWhy).
	why []WhyCandidate
}

// drops counts the candidates filters dropped in one decision.
type drops struct{ refusing, other int }

func (d *drops) note(refusing bool) {
	if refusing {
		d.refusing++
	} else {
		d.other++
	}
}

func (d drops) onlyRefusing() bool { return d.refusing > 0 && d.other == 0 }

type kept struct {
	p        int // index into Table.providers
	price    float64
	cost     float64
	hasPrice bool
	weight   int
}

var scratchPool = sync.Pool{New: func() any { return &scratch{kept: make([]kept, 0, 16)} }}

// decider carries what a decision needs besides the table and the message.
type decider struct {
	state StateSource
	now   time.Time
	log   hclog.Logger
	// errs counts rule errors across tables (a Router's); may be nil.
	errs *atomic.Uint64
}

// Plan returns the ordered candidates for a message, as if every provider
// were healthy with no balance known and the time were now. Router.Plan
// decides with the providers' live state.
func (t *Table) Plan(ctx context.Context, f Facts) (Plan, error) {
	return t.plan(ctx, f, decider{now: time.Now()}, nil)
}

// PlanAt is Plan with the time facts read at at.
func (t *Table) PlanAt(ctx context.Context, f Facts, at time.Time) (Plan, error) {
	return t.plan(ctx, f, decider{now: at}, nil)
}

// plan walks the routes in order and returns the first that matches and
// keeps at least one candidate. With ex non-nil it records every step, and
// evaluates every route rather than only those the country index offers.
func (t *Table) plan(ctx context.Context, f Facts, d decider, ex *Explanation) (Plan, error) {
	if err := ctx.Err(); err != nil {
		return Plan{}, fmt.Errorf("plan route for %s: %w", f.To, err)
	}
	if t == nil {
		return Plan{}, &NoRouteError{To: f.To, Country: f.Country}
	}
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	env := &sc.env
	sc.dropped = drops{}
	prefix := t.facts(env, f, d.now)
	if ex != nil {
		ex.describe(t, env, f, prefix)
	}
	order, n := t.routeOrder(env.Country, ex != nil)
	var passed []string // routes whose filter dropped everyone, for Why
	for i := range n {
		r := t.routes[i]
		if order != nil {
			r = t.routes[order[i]]
		}
		rt := ex.traceRoute(r)
		if !t.matches(sc, r, d, rt) {
			continue
		}
		t.filterCandidates(sc, r, f, d, rt)
		if len(sc.kept) == 0 {
			if f.KeepWhy {
				passed = append(passed, r.name)
			}
			rt.droppedAll(i == n-1)
			continue
		}
		plan, draw := t.choose(sc, r, f, d, passed)
		ex.traceChoice(t, rt, r, sc.kept, plan, draw, d.now, f.To)
		return plan, nil
	}
	err := &NoRouteError{To: f.To, Country: env.Country, Refused: sc.dropped.onlyRefusing()}
	if ex != nil {
		ex.Error = err.Error()
	}
	return Plan{}, err
}

// routeOrder is which routes a decision for country tries: the country
// index's, or (order nil) the first n of all routes in config order, which
// an explanation walks so that it can say why each did not apply.
func (t *Table) routeOrder(country string, explain bool) (order []int, n int) {
	if explain {
		return nil, len(t.routes)
	}
	order = t.anyCountry
	if idx, ok := t.byCountry[country]; ok {
		order = idx
	}
	return order, len(order)
}

// matches evaluates r's match rule on the message (a route without one
// matches everything); a rule error counts as no match.
func (t *Table) matches(sc *scratch, r *route, d decider, rt *RouteTrace) bool {
	ok := true
	var err error
	if r.match != nil {
		ok, err = t.eval(sc, r, r.match, &sc.env, "", d)
	}
	rt.matched(r, &sc.env, ok, err)
	return ok
}

// filterCandidates fills sc.kept with r's candidates its filter keeps, in
// config order, noting the dropped ones for the refusal answer and, when
// asked, each one's reason for Why and the trace.
func (t *Table) filterCandidates(sc *scratch, r *route, f Facts, d decider, rt *RouteTrace) {
	sc.kept = sc.kept[:0]
	sc.why = sc.why[:0]
	for ci, pi := range r.cands {
		p := t.providers[pi]
		ce := &sc.cenv
		healthDetail := t.candidateFacts(ce, p, &sc.env, d.state)
		keep := true
		var err error
		if r.filter != nil {
			keep, err = t.eval(sc, r, r.filter, ce, p.name, d)
		}
		if keep {
			w := 0
			if r.weights != nil {
				w = r.weights[ci]
			}
			sc.kept = append(sc.kept, kept{p: pi, price: ce.Price, cost: ce.Cost, hasPrice: ce.HasPrice, weight: w})
		} else {
			sc.dropped.note(ce.refusing)
		}
		if f.KeepWhy {
			sc.why = append(sc.why, whyCandidate(r, ci, ce, keep, err))
		}
		if rt != nil {
			ct := candidateTrace(ce, healthDetail, r.filter, keep, err)
			ct.FailoverOn = r.failoverOnFor(p)
			rt.Candidates = append(rt.Candidates, ct)
		}
	}
}

// choose orders the kept candidates by r's strategy and makes the plan:
// the candidates with their prices, the route's hold if it holds the
// message now, and, when asked, why.
func (t *Table) choose(sc *scratch, r *route, f Facts, d decider, passed []string) (Plan, Draw) {
	draw := t.order(r, sc.kept, f)
	plan := Plan{Route: r.name, Candidates: make([]Candidate, len(sc.kept))}
	for i, k := range sc.kept {
		p := t.providers[k.p]
		plan.Candidates[i] = Candidate{Provider: p.name, Price: k.price, HasPrice: k.hasPrice, FailoverOn: r.failoverOnFor(p)}
	}
	if r.hold != nil {
		plan.Hold, _ = r.hold.decide(d.now, f.To, t.recipientZone)
	}
	if f.KeepWhy {
		plan.Why = newWhy(r, &sc.env, passed, sc.why, draw)
		if plan.Hold.Reason != "" {
			h := plan.Hold
			plan.Why.Hold = &h
		}
	}
	return plan, draw
}

// traceRoute starts r's entry in the explanation; nil (and no work) when
// nobody asked for one.
func (ex *Explanation) traceRoute(r *route) *RouteTrace {
	if ex == nil {
		return nil
	}
	ex.Routes = append(ex.Routes, RouteTrace{Name: r.name, Default: r.def, Strategy: r.strategy})
	return &ex.Routes[len(ex.Routes)-1]
}

// matched records what r's match rule read and made of the message.
func (rt *RouteTrace) matched(r *route, env *Env, ok bool, err error) {
	if rt == nil {
		return
	}
	if r.match != nil {
		rt.Match = r.match.src
		rt.Values = values(r.match.vars, env.value)
		switch {
		case err != nil:
			rt.Error = err.Error()
			rt.Outcome = "rule error, counted as no match"
		case !ok:
			rt.Outcome = "no match"
		}
	}
	if ok {
		rt.Matched = true
		if r.filter != nil {
			rt.Filter = r.filter.src
		}
	}
}

// droppedAll records that the route matched but kept no candidate.
func (rt *RouteTrace) droppedAll(last bool) {
	if rt == nil {
		return
	}
	rt.Outcome = "matched, but the filter dropped every candidate; trying the next route"
	if last {
		rt.Outcome = "matched, but the filter dropped every candidate, and no route is left"
	}
}

// traceChoice records the chosen route: its order, the weighted draw and
// weights, and its hold (or why it does not hold the message now).
func (ex *Explanation) traceChoice(t *Table, rt *RouteTrace, r *route, k []kept, plan Plan, draw Draw, now time.Time, to string) {
	if ex == nil {
		return
	}
	rt.Outcome = "chosen"
	if r.strategy == StrategyWeighted {
		d := draw // a copy, so that only explanations pay for one on the heap
		rt.Draw = &d
		rt.Weights = map[string]int{}
		for _, c := range k {
			rt.Weights[t.providers[c.p].name] = c.weight
		}
	}
	ex.Route = r.name
	if r.hold != nil {
		rt.Hold = r.hold.describe()
		if plan.Hold.Reason != "" {
			h := plan.Hold
			ex.Hold = &h
		} else {
			rt.Hold += "; " + r.hold.notHeld(now, to, t.recipientZone)
		}
	}
	for _, c := range plan.Candidates {
		rt.Order = append(rt.Order, c.Provider)
		ex.Candidates = append(ex.Candidates, c.Provider)
	}
}

// facts fills env from f, the operator prefix table and the local time. It
// returns the prefix-table entry that set the operator, or "".
func (t *Table) facts(env *Env, f Facts, now time.Time) string {
	*env = Env{To: f.To, Country: f.Country, CallingCode: f.CallingCode, Operator: f.Operator, NumberType: f.NumberType,
		Sender: f.Sender, Text: f.Text, Length: f.Length, Segments: f.Segments, Encoding: f.Encoding, Kind: f.Kind,
		Account: f.Account, Tags: f.Tags}
	local := now.In(t.loc)
	env.Hour, env.Minute = local.Hour(), local.Minute()
	env.LocalTime = clockTimes[env.Hour*60+env.Minute]
	env.Weekday = weekdays[local.Weekday()]
	if len(t.prefixes) == 0 {
		return ""
	}
	for n := min(t.prefixMax, len(f.To)); n >= t.prefixMin; n-- {
		if op, ok := t.prefixes[f.To[:n]]; ok {
			env.Operator = op
			return f.To[:n]
		}
	}
	return ""
}

// clockTimes are "00:00" … "23:59", so a decision does not format (and
// allocate) its local_time.
var clockTimes = func() (out [24 * 60]string) {
	for i := range out {
		out[i] = fmt.Sprintf("%02d:%02d", i/60, i%60)
	}
	return out
}()

// candidateFacts fills ce for provider p and returns why p is unhealthy
// ("" when it is, or when nothing is known), for explanations.
func (t *Table) candidateFacts(ce *CandidateEnv, p *provider, env *Env, st StateSource) string {
	ce.Env = *env
	ce.Provider, ce.ProviderKind, ce.Currency = p.name, p.kind, t.currency
	ce.Price, ce.HasPrice = p.price(env.Country, env.Operator)
	ce.Cost = ce.Price * float64(env.Segments)
	ps := ProviderState{Healthy: true, SuccessRate: 1}
	if st != nil {
		ps = st.ProviderState(p.name)
	}
	ce.Healthy, ce.SuccessRate, ce.Latency = ps.Healthy, ps.SuccessRate, ps.Latency
	ce.ProviderOperators, ce.ProviderCountries = ps.Operators, ps.Countries
	ce.refusing = !ps.Healthy && ps.RefuseWhileDown
	ce.Balance, ce.HasBalance = 0, false
	if ps.HasBalance {
		if rate, ok := t.rate(ps.BalanceCurrency); ok {
			ce.Balance, ce.HasBalance = ps.Balance*rate, true
		}
	}
	return ps.HealthDetail
}

// eval runs a rule. An error counts as false: it is counted and logged (the
// 1st, 2nd, 4th, 8th… time per table, so a broken rule under load cannot
// flood the log) and never stops the decision.
func (t *Table) eval(sc *scratch, r *route, ru *rule, env any, provider string, d decider) (bool, error) {
	out, err := sc.vm.Run(ru.prog, env)
	if err == nil {
		b, _ := out.(bool)
		return b, nil
	}
	err = ru.runError(err)
	n := ruleErrors.Add(1)
	if d.errs != nil {
		d.errs.Add(1)
	}
	if d.log != nil && n&(n-1) == 0 {
		d.log.Warn("routing rule failed; counted as not matching", "route", r.name, "rule", ru.kind,
			"provider", provider, "error", err, "rule_errors_total", n)
	}
	return false, err
}

// ruleErrors counts rule evaluation errors in this process.
var ruleErrors atomic.Uint64

// RuleErrors is how many rule evaluations failed at run time in this
// process (each counted as not matching).
func RuleErrors() uint64 { return ruleErrors.Load() }

// order sorts the kept candidates by the route's strategy. For the weighted
// strategy it returns the draw that picked the first.
func (t *Table) order(r *route, k []kept, f Facts) (draw Draw) {
	switch r.strategy {
	case StrategyLeastCost:
		// Insertion sort: stable, allocation-free, and lists are short.
		for i := 1; i < len(k); i++ {
			for j := i; j > 0 && cheaper(k[j], k[j-1]); j-- {
				k[j], k[j-1] = k[j-1], k[j]
			}
		}
	case StrategyWeighted:
		total := 0
		for _, c := range k {
			total += c.weight
		}
		draw.Key, draw.KeyIsMessageID = f.MessageID, true
		if draw.Key == "" {
			draw.Key, draw.KeyIsMessageID = f.To, false
		}
		pick := int(hash(draw.Key) % uint64(total))
		draw.Value, draw.Total = pick, total
		for i, c := range k {
			if pick < c.weight {
				first := k[i]
				copy(k[1:i+1], k[:i])
				k[0] = first
				return draw
			}
			pick -= c.weight
		}
	case StrategyRoundRobin:
		start := int((r.rr.Add(1) - 1) % uint64(len(k)))
		rotate(k, start)
	}
	return draw
}

func cheaper(a, b kept) bool {
	if a.hasPrice != b.hasPrice {
		return a.hasPrice
	}
	return a.cost < b.cost
}

func rotate(k []kept, start int) {
	if start == 0 {
		return
	}
	reverse(k[:start])
	reverse(k[start:])
	reverse(k)
}

func reverse(k []kept) {
	for i, j := 0, len(k)-1; i < j; i, j = i+1, j-1 {
		k[i], k[j] = k[j], k[i]
	}
}

// hash is 64-bit FNV-1a followed by a finaliser, so message ids that differ
// only in their last characters still spread evenly over the weights.
func hash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}
