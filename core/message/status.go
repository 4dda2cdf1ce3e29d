package message

// Status is where a message stands in its delivery. The strings are stored
// and shown by the REST API as they are: changing one is a data migration.
type Status string

// The statuses, in the order a message goes through them.
const (
	// Queued: accepted, waiting for its first attempt.
	Queued Status = "queued"
	// Pending: an attempt failed for now; waiting to be tried again.
	Pending Status = "pending"
	// Sent: a provider accepted the message; its delivery is not known yet.
	Sent Status = "sent"
	// Unknown: the provider gave no final report, or said it does not know.
	// A later definite report still replaces it.
	Unknown Status = "unknown"
	// Delivered: the handset received it.
	Delivered Status = "delivered"
	// Failed: no provider will send it, or it was not delivered.
	Failed Status = "failed"
	// Expired: its validity ran out before it was sent or delivered.
	Expired Status = "expired"
	// Rejected: the provider or the network refused it.
	Rejected Status = "rejected"
	// Undeliverable: the network could not deliver it to the handset.
	Undeliverable Status = "undeliverable"
)

// Statuses lists every status, in the order the REST API names them, for
// validating input and telling callers what they may use.
func Statuses() []Status {
	return []Status{Queued, Pending, Sent, Delivered, Failed, Expired, Rejected, Undeliverable, Unknown}
}

// Valid reports whether s is one of the statuses.
func (s Status) Valid() bool { return s.rank() >= 0 }

// Unsent reports whether no provider has taken a message in s yet: it is
// queued or pending, waiting for an attempt, and can still be cancelled.
func (s Status) Unsent() bool { return s == Queued || s == Pending }

// Final reports whether no later report may move a message out of s.
// Unknown is not final: a later definite report may still replace it.
func (s Status) Final() bool { return s.rank() == rankFinal }

// Failure reports whether s is a final status other than Delivered: the
// message was not (or will not be) delivered.
func (s Status) Failure() bool { return s.Final() && s != Delivered }

// MovesTo reports whether a message in s moves to next when a report or an
// attempt's outcome says next. Messages only move forward: a late report
// (next not beyond s, such as "sent" after "delivered" or one final status
// after another) moves nothing and is kept in the history as not applied.
func (s Status) MovesTo(next Status) bool {
	r := next.rank()
	return r >= 0 && r > s.rank()
}

// The ranks of the forward-only order: a message moves only to a status of
// a higher rank. All final statuses share one rank, so the first final
// report wins.
const (
	rankUnsent  = 0
	rankSent    = 1
	rankUnknown = 2
	rankFinal   = 3
)

// rank is s's place in the forward-only order, or -1 for no status.
func (s Status) rank() int {
	switch s {
	case Queued, Pending:
		return rankUnsent
	case Sent:
		return rankSent
	case Unknown:
		return rankUnknown
	case Delivered, Failed, Expired, Rejected, Undeliverable:
		return rankFinal
	}
	return -1
}
