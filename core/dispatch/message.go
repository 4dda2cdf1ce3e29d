package dispatch

import (
	"time"

	"github.com/smsrouter/smsrouter/core/message"
)

// Message is a message claimed from the queue, to send or to ask its
// provider about: what the dispatcher and the poller read of it. The queue
// (*store.Store) fills it from the stored message, its text in the clear.
type Message struct {
	ID        string
	AccountID string
	// Route is the route that took the message; Tags are a scheduled
	// message's tags, for routing it again at its send time (see
	// Rerouter).
	Route     string
	Tags      map[string]string
	Recipient string
	Sender    string
	Text      string
	Encoding  string
	Segments  int
	Kind      message.Kind
	Status    message.Status
	// Plan is the message's routing plan as stored (message.EncodePlan); Candidate
	// indexes it: the provider the next attempt goes to.
	Plan      string
	Candidate int
	// Provider and ProviderMessageID name the provider that last took the
	// message and its id there.
	Provider          string
	ProviderMessageID string
	// Attempts counts the claims for sending, this one included.
	Attempts int
	// ErrorCode and ErrorMessage say why the message waits or last
	// failed (message.CodeHeld: its route held it).
	ErrorCode    string
	ErrorMessage string
	// LeaseUntil is when the claim runs out and another dispatcher may
	// take the message.
	LeaseUntil *time.Time
	ExpiresAt  time.Time
	CreatedAt  time.Time
	// SendAt is when the application asked the message to be sent; nil
	// for at once.
	SendAt *time.Time
	SentAt *time.Time
	// PollCount is how often its provider was asked about it.
	PollCount int
}

// PlanEntries decodes the message's plan; a plan that does not decode has
// no candidates.
func (m *Message) PlanEntries() []message.PlanEntry { return message.DecodePlan(m.Plan) }

// PollMark is the outcome of asking about one message: when to ask next,
// or nil to stop asking.
type PollMark struct {
	MessageID  string
	NextPollAt *time.Time
}

// QueueDepth is how many messages of one waiting status (queued or pending)
// stand where in the dispatch queue at one instant.
type QueueDepth struct {
	Status message.Status
	// Due messages could be claimed now: their time has come and no
	// dispatcher holds them.
	Due int64
	// Scheduled messages wait for their time: a retry's backoff or a
	// send_at in the future.
	Scheduled int64
	// Leased messages are held by a dispatcher, being sent.
	Leased int64
}
