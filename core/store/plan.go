package store

import "github.com/smsrouter/smsrouter/core/message"

// PlanEntries decodes the message's plan; a plan that does not decode has
// no candidates.
func (m *Message) PlanEntries() []message.PlanEntry { return message.DecodePlan(m.Plan) }

// Candidates returns the provider names of the message's plan, in order.
func (m *Message) Candidates() []string { return message.Providers(m.PlanEntries()) }
