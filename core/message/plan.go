package message

import (
	"encoding/json"
	"slices"
	"time"
)

// PlanEntry is one candidate of a message's recorded routing decision.
type PlanEntry struct {
	Provider string `json:"provider"`
	// FailoverOn lists the refusals that send the message on to the next
	// candidate instead of failing it (the route's failover_on, else the
	// provider's).
	FailoverOn []Refusal `json:"failover_on,omitempty"`
	// Refused is how this candidate refused the message; it is not asked
	// again.
	Refused Refusal `json:"refused,omitempty"`
	// NotBefore is when this candidate asked to be tried again no sooner
	// than (a provider's retry-after); zero when it did not.
	NotBefore time.Time `json:"not_before,omitzero"`
}

// FailsOver reports whether the entry's refusal r sends the message on.
func (e PlanEntry) FailsOver(r Refusal) bool { return slices.Contains(e.FailoverOn, r) }

// EncodePlan is the stored text of a plan: a JSON array with a provider's
// name for a plain candidate and an object for one with failover_on, a
// refusal or a retry time, so that a plan without either reads as it
// always did (["a","b"]).
func EncodePlan(entries []PlanEntry) string {
	out := make([]any, len(entries))
	for i, e := range entries {
		if len(e.FailoverOn) == 0 && e.Refused == "" && e.NotBefore.IsZero() {
			out[i] = e.Provider
		} else {
			out[i] = e
		}
	}
	b, _ := json.Marshal(out) // strings and string slices always marshal
	return string(b)
}

// DecodePlan reads a plan EncodePlan wrote; a plan that does not decode
// has no candidates.
func DecodePlan(plan string) []PlanEntry {
	var raw []json.RawMessage
	if json.Unmarshal([]byte(plan), &raw) != nil {
		return nil
	}
	out := make([]PlanEntry, 0, len(raw))
	for _, r := range raw {
		var e PlanEntry
		if json.Unmarshal(r, &e.Provider) != nil && json.Unmarshal(r, &e) != nil {
			return nil
		}
		out = append(out, e)
	}
	return out
}

// Providers returns the provider names of a plan, in order.
func Providers(plan []PlanEntry) []string {
	names := make([]string, len(plan))
	for i, e := range plan {
		names[i] = e.Provider
	}
	return names
}
