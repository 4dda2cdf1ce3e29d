package dispatch

import (
	"context"
	"sync"
	"time"

	"github.com/smsrouter/smsrouter/core/message"
)

// Handoff is the dispatcher in this process as the accept path sees it. An
// accept transaction asks it how many due messages it takes (Room), writes
// those already leased to it for Lease (as a claim would: the lease and the
// first attempt counted), and once the transaction has committed gives
// them to it with Receive, so that they are sent without a claim: no claim
// update, and no reading back of rows the accept path had in memory. The
// messages stay rows of the queue, so if this process dies their lease
// runs out and any dispatcher claims them.
type Handoff interface {
	// Room is how many more messages the dispatcher takes by hand-over
	// now (none while it is not running); the rest are written unleased,
	// for claims.
	Room() int
	// Lease is how long the messages handed over are leased to it.
	Lease() time.Duration
	// Receive gets the messages a committed transaction leased to the
	// dispatcher, each as ClaimDue would have returned it, and whether it
	// wrote others for claims (not due yet, or past Room). It must not
	// block.
	Receive(msgs []Message, leftForClaims bool)
}

var _ Handoff = (*Dispatcher)(nil)

// handedOver is what the dispatcher holds by hand-over: the messages not
// yet taken into a round, and whether Run runs (Room is 0 when not).
type handedOver struct {
	mu      sync.Mutex
	running bool
	msgs    []Message
}

// Room is how many more messages the dispatcher takes by hand-over now:
// MaxHanded less those it holds, none when it is not running.
func (d *Dispatcher) Room() int {
	d.hand.mu.Lock()
	defer d.hand.mu.Unlock()
	if !d.hand.running {
		return 0
	}
	return max(d.o.MaxHanded-len(d.hand.msgs), 0)
}

// Lease is how long a hand-over leases messages to the dispatcher: as long
// as a claim does.
func (d *Dispatcher) Lease() time.Duration { return d.o.Lease }

// Receive takes messages handed over by a committed accept transaction,
// sent first by the next round, and wakes the dispatcher; with
// leftForClaims that round claims too. Messages received while Run does not
// run wait in memory for it (their lease ends meanwhile if it never comes).
func (d *Dispatcher) Receive(msgs []Message, leftForClaims bool) {
	if len(msgs) > 0 {
		d.hand.mu.Lock()
		d.hand.msgs = append(d.hand.msgs, msgs...)
		d.hand.mu.Unlock()
	}
	if leftForClaims {
		d.claims.Store(true)
	}
	d.signal()
}

// setRunning says whether Run runs, which gives the hand-over room.
func (d *Dispatcher) setRunning(on bool) {
	d.hand.mu.Lock()
	d.hand.running = on
	d.hand.mu.Unlock()
}

// takeHanded takes up to limit handed messages, oldest first, for a round.
// A message whose lease no longer leaves time for a send started now
// (leaseTooShort) is dropped, not sent: its lease running out makes it
// claimable again, by any dispatcher.
func (d *Dispatcher) takeHanded(limit int) []Message {
	d.hand.mu.Lock()
	n := min(limit, len(d.hand.msgs))
	if n == 0 {
		d.hand.mu.Unlock()
		return nil
	}
	out := d.hand.msgs[:n:n]
	if n == len(d.hand.msgs) {
		d.hand.msgs = nil
	} else {
		d.hand.msgs = append([]Message(nil), d.hand.msgs[n:]...)
	}
	d.hand.mu.Unlock()
	kept := out[:0]
	for i := range out {
		if d.leaseTooShort([]*Message{&out[i]}) {
			continue
		}
		kept = append(kept, out[i])
	}
	if dropped := len(out) - len(kept); dropped > 0 {
		d.log.Warn("handed-over messages waited too long to be sent by this server; they are left to claims once their lease ends",
			"messages", dropped)
	}
	return kept
}

// handedWaiting reports whether handed messages wait for a round.
func (d *Dispatcher) handedWaiting() bool {
	d.hand.mu.Lock()
	defer d.hand.mu.Unlock()
	return len(d.hand.msgs) > 0
}

// giveBackHanded gives the handed messages not taken by a round back to the
// queue untried, due at once, when Run stops: another server, or this one
// restarted, claims them without waiting for their lease to end.
func (d *Dispatcher) giveBackHanded(ctx context.Context) {
	d.hand.mu.Lock()
	d.hand.running = false
	msgs := d.hand.msgs
	d.hand.msgs = nil
	d.hand.mu.Unlock()
	if len(msgs) == 0 {
		return
	}
	now := d.o.Now()
	results := make([]message.Attempt, len(msgs))
	for i := range msgs {
		results[i] = released(&msgs[i], now, now)
	}
	if err := d.record(ctx, results); err != nil {
		d.log.Warn("handed-over messages not given back; they are claimed once their lease ends", "messages", len(msgs), "error", err)
	}
}
