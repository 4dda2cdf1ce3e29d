package message

import "time"

// Scheduled is a scheduled message as routing reads it when the message
// is due: what its rules may ask of it.
type Scheduled struct {
	ID        string
	AccountID string
	Recipient string
	Sender    string
	Text      string
	Kind      Kind
	Tags      map[string]string
}

// Decision is a routing decision as the dispatcher records it: the route,
// its plan, and when the route holds the message, until when and why.
type Decision struct {
	Route string
	Plan  []PlanEntry
	// HoldUntil, when set, is when the route lets the message go;
	// HoldReason says so ("held for quiet hours until 06:00 Asia/Yangon").
	HoldUntil  time.Time
	HoldReason string
	// NoRoute, when set, says why no route takes the message.
	NoRoute string
	// Why is the decision's compact explanation as JSON (routing.Why),
	// which replaces the one kept at accept.
	Why string
}
