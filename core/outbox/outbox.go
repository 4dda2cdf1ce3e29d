package outbox

import (
	"time"

	"github.com/smsrouter/smsrouter/core/message"
)

// State is where a delivery stands. The store keeps it as the string.
type State string

// The states of a delivery.
const (
	// Pending: not sent yet, or to be tried again.
	Pending State = "pending"
	// Delivered: the receiver answered 2xx.
	Delivered State = "delivered"
	// GaveUp: every attempt failed until the delivery's deadline passed,
	// or nobody is left to tell.
	GaveUp State = "gave_up"
)

// Finished reports whether a delivery in state s is done with: its
// message's next event may then be sent.
func (s State) Finished() bool { return s == Delivered || s == GaveUp }

// Delivery is one event leased to a deliverer, with where to send it and
// the secret to sign it with. URL is empty when the account removed its
// webhook (and the message has no callback URL); Secret is empty when the
// account has no webhook configuration at all any more.
type Delivery struct {
	// Seq orders a message's events: event k+1 is not sent before event k
	// is finished.
	Seq       uint64
	EventID   string
	AccountID string
	// MessageID is empty for account events (balance.low).
	MessageID string
	Type      EventType
	// Payload is the exact JSON body, the same bytes on every attempt.
	Payload string
	// Attempts counts this one: the lease that holds the delivery.
	Attempts  int
	CreatedAt time.Time
	URL       string
	Secret    string
	// After lists, for a delivery handed over as it was written, the
	// older events of its message that were still pending then, all held
	// by the same deliverer (Holder.Holds): it must wait until each of
	// them is finished.
	After []uint64
	// Status is, for a message event handed over as it was written, the
	// status the change it reports moved its message to: what the next
	// event's message stands at before its own change while no other
	// event came between (Holder.Knows). Empty otherwise.
	Status message.Status
}

// Result is the outcome of one attempt at a leased delivery.
type Result struct {
	Seq uint64
	// MessageID is the delivery's message ("" for account events): once
	// the delivery is finished, its message's next event may be sent.
	MessageID string
	// Attempts is the delivery's attempt count as leased; a result whose
	// lease was overtaken (it ran out and another deliverer claimed the
	// delivery again) is still recorded as an attempt but does not change
	// the delivery.
	Attempts   int
	At         time.Time
	Duration   time.Duration
	HTTPStatus int
	Error      string
	// State is the delivery's new state: Delivered, Pending (to be tried
	// again at RetryAt) or GaveUp.
	State   State
	RetryAt time.Time
	// ClaimNext asks the record of a finished delivery to lease its
	// message's next event too, when that waits for a claim: set for
	// deliveries that were claimed, and for those handed over whose
	// message had a newer event left for claims in this process. A
	// message's next event that was handed over is held already, and one
	// another process wrote is found by claims; asking for it anyway
	// costs the record a read per batch.
	ClaimNext bool
}

// Recorded is what recording a batch of results did besides storing them.
type Recorded struct {
	// Next are the events the finished deliveries held back, leased to
	// the deliverer that recorded them.
	Next []Delivery
	// Overtaken are the seqs of results that changed nothing because
	// their lease was overtaken.
	Overtaken map[uint64]bool
}

// Handed is what an event transaction did with the deliveries it wrote,
// once it committed.
type Handed struct {
	// Deliveries were leased to the in-process deliverer in the insert:
	// it is to start them (Deliverer.Take).
	Deliveries []Delivery
	// LeftForClaims says the transaction wrote deliveries nobody took:
	// the deliverer should claim at once instead of at its next poll.
	LeftForClaims bool
	// LeftMessages are the messages of the deliveries left for claims:
	// their older events the deliverer holds take them along when they
	// are recorded finished (Result.ClaimNext).
	LeftMessages []string
}
