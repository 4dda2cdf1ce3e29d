package core

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/routing"
)

// Rerouter routes scheduled messages again when they are due, so that
// their route reads the time, the table and the providers' state of their
// send time (the dispatcher's dispatch.Rerouter).
type Rerouter struct {
	Planner Planner
}

// Reroute decides m's route at at. A number or text that no longer
// passes the checks is an error: the dispatcher then keeps the decision
// made at accept.
func (r Rerouter) Reroute(ctx context.Context, m message.Scheduled, at time.Time) (message.Decision, error) {
	facts, err := Facts(m.AccountID, SendRequest{To: m.Recipient, Message: m.Text, From: m.Sender, Kind: m.Kind, Tags: m.Tags})
	if err != nil {
		return message.Decision{}, err
	}
	facts.MessageID = m.ID
	// The message's kept explanation becomes this decision's: GET
	// /api/v1/sms/{id} must say why it went where it actually went.
	facts.KeepWhy = true
	plan, err := r.Planner.PlanAt(ctx, facts, at)
	var nr *routing.NoRouteError
	if errors.As(err, &nr) && nr.Refused {
		// Only gateways down and refusing while down were dropped: the
		// plan made at accept waits for them as pending instead.
		return message.Decision{}, fmt.Errorf("routing it again: %w", ErrNoGatewayOnline)
	}
	if errors.As(err, &nr) {
		return message.Decision{NoRoute: nr.Error()}, nil
	}
	if err != nil {
		return message.Decision{}, err
	}
	return message.Decision{Route: plan.Route, Plan: planEntries(plan), HoldUntil: plan.Hold.Until, HoldReason: plan.Hold.Reason,
		Why: whyText(plan.Why)}, nil
}

// planEntries is a routing plan as a message records it.
func planEntries(plan routing.Plan) []message.PlanEntry {
	entries := make([]message.PlanEntry, len(plan.Candidates))
	for i, c := range plan.Candidates {
		entries[i] = message.PlanEntry{Provider: c.Provider}
		for _, code := range c.FailoverOn {
			entries[i].FailoverOn = append(entries[i].FailoverOn, message.Refusal(code))
		}
	}
	return entries
}
