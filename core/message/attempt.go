package message

import "time"

// Attempt is what became of one message a dispatcher claimed: the outcome
// of handing it to a provider, or of deciding not to.
type Attempt struct {
	MessageID string
	Provider  string
	// Status is the message's new status: Sent (a provider accepted it),
	// Queued or Pending (to be tried again at RetryAt), or a final status.
	Status            Status
	ProviderMessageID string
	// Candidate indexes the message's plan: the provider the next attempt
	// goes to.
	Candidate int
	RetryAt   time.Time
	Code      string
	Reason    string
	At        time.Time
	// Sender, on a sent attempt, is the sender the provider used for a
	// message that had none (its default); it becomes the message's sender
	// so applications see who the recipient saw. Ignored for a message
	// with a sender of its own.
	Sender string
	// Untried means no provider was asked: the dispatcher's own limits
	// held the message back. It goes back to the queue due at RetryAt with
	// its status, candidate and error kept, the claim's attempt undone, and
	// no status change stored.
	Untried bool
	// Plan, when set, replaces the message's recorded plan (its encoded
	// candidates): a candidate that refused the message is marked so.
	Plan string
	// Route, when set, replaces the message's route, and Rerouted is
	// stored as a status change before the attempt's own: a scheduled
	// message routed again at its send time, with the decision it had at
	// accept for the record.
	Route    string
	Rerouted string
	// Why, when set with Route, replaces the message's kept explanation
	// (Detail.Why) with the decision at its send time.
	Why string
}
