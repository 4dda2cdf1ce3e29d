package message

import (
	"time"

	"github.com/smsrouter/smsrouter/core/money"
)

// Detail is everything kept about one message: what happened to it, why
// it went where it went, and what it cost.
type Detail struct {
	View
	AccountID string
	// Text is the text as the account's policy keeps it: the full text,
	// masked, or "" (see account.MessageBodies); one-time codes are always
	// masked.
	Text string
	// TextUnreadable is set, with Text empty, when the stored text cannot
	// be opened with this server's keys (a key missing from the ring).
	TextUnreadable bool
	Kind           Kind
	Encoding       string
	Country        string
	// Route is the route that matched at accept time and Plan its
	// candidates in order; Candidate indexes the one the next (or last)
	// attempt went to.
	Route     string
	Plan      []PlanEntry
	Candidate int
	// Why is the decision's compact explanation as JSON (see
	// routing.Why), kept at accept (a scheduled message's at its send
	// time, when it was routed again); "" for messages accepted before it
	// was kept.
	Why string
	// Provider and ProviderMessageID are where the message went and the
	// provider's id for it, once a provider accepted it.
	Provider          string
	ProviderMessageID string
	// Attempts counts the times a dispatcher took the message to send.
	Attempts int
	// Charged is what the account paid at accept time.
	Charged money.Amount
	// History is every status change, oldest first: the attempts' outcomes
	// and the provider's reports.
	History []Change
}

// Change is one status change of a message.
type Change struct {
	Status         Status
	Provider       string
	ProviderStatus string
	ErrorCode      string
	Reason         string
	// Applied is false for a late report that could not move the message
	// (a "sent" after "delivered"): kept for the record.
	Applied bool
	// At is when smsrouter learnt of it; ProviderAt, for a report, when the
	// provider says it happened, by its own clock.
	At         time.Time
	ProviderAt *time.Time
}
