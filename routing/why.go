package routing

import "slices"

// Why is the compact record of a routing decision kept with each message
// at accept time: the route that took it, the values its match rule read,
// every candidate of that route kept or dropped with the values its filter
// read, and the weighted draw. It is what `route explain` would say about
// the chosen route alone, without the facts no rule read, so that it
// stays small enough to write with every message.
type Why struct {
	Route string `json:"route"`
	// Passed are the routes that matched earlier but whose filter dropped
	// every candidate.
	Passed []string `json:"passed,omitempty"`
	// Values are the variables the route's match rule read.
	Values     map[string]any `json:"values,omitempty"`
	Strategy   string         `json:"strategy"`
	Candidates []WhyCandidate `json:"candidates"`
	// Draw is the weighted strategy's draw (weighted routes only).
	Draw *Draw `json:"draw,omitempty"`
	// Hold is set when the route held the message (quiet hours,
	// hold_until): until when, and the reason its status shows.
	Hold *Hold `json:"hold,omitempty"`
}

// WhyCandidate is one candidate of the chosen route.
type WhyCandidate struct {
	Provider string `json:"provider"`
	Kept     bool   `json:"kept"`
	// Weight is the candidate's weight on a weighted route.
	Weight int `json:"weight,omitempty"`
	// Values are the variables the route's filter read for it.
	Values map[string]any `json:"values,omitempty"`
	// Error is the filter's run-time error (the candidate is then
	// dropped).
	Error string `json:"error,omitempty"`
}

// whyCandidate records candidate p of route r for a Why, while its facts
// are in ce.
func whyCandidate(r *route, ci int, ce *CandidateEnv, keep bool, err error) WhyCandidate {
	c := WhyCandidate{Provider: ce.Provider, Kept: keep}
	if r.weights != nil {
		c.Weight = r.weights[ci]
	}
	if r.filter != nil {
		c.Values = values(r.filter.vars, ce.value)
	}
	if err != nil {
		c.Error = err.Error()
	}
	return c
}

// newWhy is the Why of choosing route r: cands are its candidates as
// recorded (copied: they live in the pooled scratch).
func newWhy(r *route, env *Env, passed []string, cands []WhyCandidate, draw Draw) *Why {
	w := &Why{Route: r.name, Passed: passed, Strategy: r.strategy, Candidates: slices.Clone(cands)}
	if r.match != nil {
		w.Values = values(r.match.vars, env.value)
	}
	if r.strategy == StrategyWeighted {
		w.Draw = &draw
	}
	return w
}
