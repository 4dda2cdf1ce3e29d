package dispatch

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/smsrouter/smsrouter/core/message"
)

// Rerouter routes a scheduled message again when it is due, so that its
// route reads the time, the routing table and the providers' state of its
// send time rather than of its acceptance.
type Rerouter interface {
	Reroute(ctx context.Context, m message.Scheduled, at time.Time) (message.Decision, error)
}

// reroutedTo is a scheduled message's decision at its send time, to be
// recorded with whatever its attempt comes to.
type reroutedTo struct {
	route, plan, note, why string
}

// reroute routes a scheduled message on its first claim again. ok is true
// when it goes on to be sent this round (with its new plan in m); false
// with the attempt that ends the round for it: held by its route, or
// failed for want of a route. A decision that cannot be made keeps the
// one made at accept.
func (d *Dispatcher) reroute(ctx context.Context, m *Message, now time.Time, done map[string]reroutedTo) (message.Attempt, bool) {
	dec, err := d.o.Rerouter.Reroute(ctx, message.Scheduled{ID: m.ID, AccountID: m.AccountID, Recipient: m.Recipient,
		Sender: m.Sender, Text: m.Text, Kind: m.Kind, Tags: m.Tags}, now)
	if err != nil {
		d.log.Warn("routing a scheduled message again at its send time failed; it keeps the route it got at accept",
			"message_id", m.ID, "route", m.Route, "error", err)
		return message.Attempt{}, true
	}
	before := fmt.Sprintf("route %s (%s)", m.Route, strings.Join(message.Providers(m.PlanEntries()), ", "))
	if dec.NoRoute != "" {
		return message.Attempt{MessageID: m.ID, Status: message.Failed, Code: "NO_ROUTE", Candidate: m.Candidate,
			Reason: fmt.Sprintf("no route at its send time: %s; at accept it had %s", dec.NoRoute, before), At: now}, false
	}
	r := reroutedTo{route: dec.Route, plan: message.EncodePlan(dec.Plan), why: dec.Why,
		note: fmt.Sprintf("routed again at its send time: route %s (%s); at accept: %s", dec.Route,
			strings.Join(message.Providers(dec.Plan), ", "), before)}
	if dec.HoldUntil.After(now) {
		at, reason := dec.HoldUntil, dec.HoldReason
		if !at.Before(m.ExpiresAt) {
			at = m.ExpiresAt
			reason += "; its validity ends first, so it will expire unsent"
		}
		return message.Attempt{MessageID: m.ID, Status: message.Queued, Code: message.CodeHeld, Reason: reason, At: now,
			RetryAt: at, Plan: r.plan, Route: r.route, Rerouted: r.note, Why: r.why}, false
	}
	m.Plan, m.Candidate, m.Route = r.plan, 0, r.route
	done[m.ID] = r
	return message.Attempt{}, true
}

// recordReroutes gives the attempts of rerouted messages their new route
// and plan (unless the attempt changed the plan itself) and the note that
// keeps the decision made at accept.
func recordReroutes(results []message.Attempt, done map[string]reroutedTo) {
	for i := range results {
		r, ok := done[results[i].MessageID]
		if !ok || results[i].Untried {
			continue
		}
		results[i].Route, results[i].Rerouted, results[i].Why = r.route, r.note, r.why
		if results[i].Plan == "" {
			results[i].Plan = r.plan
		}
	}
}
