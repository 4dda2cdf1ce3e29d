package outbox

import (
	"time"

	"github.com/smsrouter/smsrouter/core/message"
)

// Handoff is the deliverer in this process as event transactions see it:
// asked before they write deliveries which it takes (Choose), and told
// once they commit what they did.
type Handoff interface {
	Holder
	// Lease is how long the deliveries handed over are leased to it.
	Lease() time.Duration
	// Receive gets what a committed transaction did with the deliveries
	// it wrote: those it handed over, and whether it left others for
	// claims. It must not block.
	Receive(Handed)
}

// Holder is the deliverer in this process, as an event transaction asks
// about it before it writes deliveries.
type Holder interface {
	// Room is how many more deliveries the deliverer would take now; the
	// rest are written unleased, for claims.
	Room() int
	// Holds reports whether the deliverer holds every one of the
	// message's events seqs (read as pending), or has just finished it: a
	// newer event of the message may then be handed over too, and waits
	// in the deliverer until they are finished.
	Holds(messageID string, seqs []uint64) bool
	// Knows answers, without the database, which older events of the
	// message are still pending, for a new event of it written while the
	// message stood at status before (its status ahead of the change the
	// event reports): when the last event handed over to the deliverer
	// for the message moved it to before, and the deliverer still holds
	// that event or has recorded it finished, pending are the message's
	// events it holds; otherwise ok is false and the store reads them.
	//
	// Why that suffices: a message's events are written only as it moves
	// to a status of a higher rank (message.Status.MovesTo; no event for
	// queued or pending), so a message still at the status the remembered
	// event moved it to has had no event since. That event was handed
	// over behind its older pending events, all held by the deliverer,
	// and it is given back with any of them that is given back; so while
	// it is held every pending event of the message is held, and once it
	// is recorded finished so are they.
	Knows(messageID string, before message.Status) (pending []uint64, ok bool)
}

// Batch is the deliveries one insert writes, as Choose needs to see them.
type Batch struct {
	// Len is how many deliveries the insert writes.
	Len int
	// Target returns delivery i's message ("" for an account event) and
	// whether it has somewhere to go: a URL and a secret.
	Target func(i int) (messageID string, sendable bool)
	// Pending returns the seqs of the pending events of the messages; it
	// may reorder messageIDs. It is nil when every delivery is its message's first event, so that
	// no older one needs looking for. It is asked only about the messages
	// the Holder does not know (Holder.Knows).
	Pending func(messageIDs []string) (map[string][]uint64, error)
	// Before returns the status delivery i's message stood at before the
	// change its event reports ("" when not known): the Holder may then
	// know its pending events.
	Before func(i int) message.Status
	// Handed are the seqs the same transaction handed over in an earlier
	// insert: held by the deliverer as soon as it commits.
	Handed map[uint64]bool
}

// Pick is a delivery of a Batch chosen to be handed over: its index, and
// the older events of its message still pending, which it waits behind.
type Pick struct {
	Index int
	After []uint64
}

// Choose picks the deliveries of b to hand straight to the deliverer h,
// leased to it in the insert, as far as h has room and message order
// allows; the others are left to claims.
//
// Order: a message's event is handed over only if every older event of it
// still pending is held by h (or handed over by the same transaction); it
// then waits behind them in h. Events of one message are written by
// transactions that lock its row first, so once the transaction holds the
// lock every older event is committed and visible to Pending. Of several
// events of one message in b only the first may be handed over; those
// after it are claimed in order once it is finished. Account events (no
// message) and deliveries with nowhere to go are left to claims.
func Choose(h Holder, b Batch) ([]Pick, error) {
	candidates, ids := candidates(b)
	if len(candidates) == 0 {
		return nil, nil
	}
	var pending map[string][]uint64
	if b.Pending != nil {
		var err error
		if pending, err = pendingOf(h, b, candidates, ids); err != nil {
			return nil, err
		}
	}
	room := h.Room()
	var out []Pick
	for _, c := range candidates {
		after := pending[c.messageID]
		if !inOrder(h, c.messageID, after, b.Handed) {
			continue
		}
		if room <= 0 {
			break
		}
		room--
		out = append(out, Pick{Index: c.index, After: after})
	}
	return out, nil
}

// pendingOf returns the pending events of the candidates' messages: what
// the Holder knows, and for the other messages what b.Pending reads.
func pendingOf(h Holder, b Batch, cs []candidate, ids []string) (map[string][]uint64, error) {
	pending := make(map[string][]uint64, len(cs))
	var unknown []string
	for i, c := range cs {
		if b.Before != nil {
			if before := b.Before(c.index); before != "" {
				if seqs, ok := h.Knows(c.messageID, before); ok {
					if len(seqs) > 0 {
						pending[c.messageID] = seqs
					}
					continue
				}
			}
		}
		unknown = append(unknown, ids[i])
	}
	if len(unknown) == 0 {
		return pending, nil
	}
	read, err := b.Pending(unknown)
	if err != nil {
		return nil, err
	}
	for id, seqs := range read {
		pending[id] = seqs
	}
	return pending, nil
}

// candidate is a delivery of a Batch that may be handed over.
type candidate struct {
	index     int
	messageID string
}

// candidates returns the deliveries of b that may be handed over, the
// first of each message with somewhere to go, and their messages (for
// Pending, which may reorder them).
func candidates(b Batch) (out []candidate, ids []string) {
	seen := make(map[string]bool, b.Len)
	for i := range b.Len {
		id, sendable := b.Target(i)
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		if !sendable {
			continue
		}
		out = append(out, candidate{index: i, messageID: id})
		ids = append(ids, id)
	}
	return out, ids
}

// inOrder reports whether an event of the message may be handed over
// behind its older pending events after: each is held by h or was handed
// over by the same transaction.
func inOrder(h Holder, messageID string, after []uint64, handed map[uint64]bool) bool {
	if len(after) == 0 {
		return true
	}
	var others []uint64
	for _, seq := range after {
		if !handed[seq] {
			others = append(others, seq)
		}
	}
	return len(others) == 0 || h.Holds(messageID, others)
}
