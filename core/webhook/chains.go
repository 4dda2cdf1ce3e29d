package webhook

import (
	"time"

	"github.com/smsrouter/smsrouter/core/outbox"
)

// chains holds handed-over events behind older events of their message
// that Run holds, oldest first, until those are finished.
type chains map[string][]waiting

// add queues c behind the older events of its message.
func (ch chains) add(c outbox.Delivery, now time.Time) {
	ch[c.MessageID] = append(ch[c.MessageID], waiting{c: c, since: now})
}

// has reports whether events wait behind the message's event in flight.
func (ch chains) has(messageID string) bool { return messageID != "" && len(ch[messageID]) > 0 }

// take removes the message's chain and returns its events: the event they
// waited for goes back, and they must follow it.
func (ch chains) take(messageID string) []outbox.Delivery {
	q := ch[messageID]
	if len(q) == 0 {
		return nil
	}
	delete(ch, messageID)
	out := make([]outbox.Delivery, len(q))
	for i, w := range q {
		out[i] = w.c
	}
	return out
}

// resume removes and returns the message's events that may start now: the
// first ones of its chain for which ready holds.
func (ch chains) resume(messageID string, ready func(outbox.Delivery) bool) []outbox.Delivery {
	q := ch[messageID]
	var out []outbox.Delivery
	for len(q) > 0 && ready(q[0].c) {
		out = append(out, q[0].c)
		q = q[1:]
	}
	if len(q) == 0 {
		delete(ch, messageID)
	} else {
		ch[messageID] = q
	}
	return out
}

// drain empties the chains and returns what waited in them.
func (ch chains) drain() []outbox.Delivery {
	var out []outbox.Delivery
	for _, q := range ch {
		for _, w := range q {
			out = append(out, w.c)
		}
	}
	clear(ch)
	return out
}
