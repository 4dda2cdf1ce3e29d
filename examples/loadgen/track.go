package main

import (
	"maps"
	"math"
	"slices"
	"sync"
	"time"
)

// event is the part of a webhook body the load generator reads.
type event struct {
	ID   string    `json:"id"`
	Type string    `json:"type"`
	Data eventData `json:"data"`
}

type eventData struct {
	MessageID string `json:"message_id"`
}

// arrival is when a message's events reached the listener (zero: not yet).
type arrival struct {
	sent, delivered, failed time.Time
}

// tracker joins accept times, known when each 202 comes back, with webhook
// arrival times. Either may come first: with a fast provider the
// message.sent webhook can arrive before the sender has read its 202.
type tracker struct {
	mu       sync.Mutex
	accepted map[string]time.Time
	arrivals map[string]*arrival
	events   map[string]struct{}
	// ended counts accepted messages that have a final event, so waiting
	// for the last one needs no scan.
	ended int
	// duplicates are events delivered again under an event id already
	// received; repeats are a second event of one type for one message
	// under a new event id. Both break exactly-once.
	duplicates, repeats int
	badSignatures       int
	badReasons          map[string]int
	otherTypes          map[string]int
	// changed is signalled (without blocking) whenever ended grows.
	changed chan struct{}
}

func newTracker() *tracker {
	return &tracker{
		accepted: map[string]time.Time{}, arrivals: map[string]*arrival{}, events: map[string]struct{}{},
		badReasons: map[string]int{}, otherTypes: map[string]int{}, changed: make(chan struct{}, 1),
	}
}

func (t *tracker) accept(id string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.accepted[id]; ok {
		return
	}
	t.accepted[id] = at
	if a := t.arrivals[id]; a != nil && a.final() {
		t.ended++
		t.signal()
	}
}

func (a *arrival) final() bool { return !a.delivered.IsZero() || !a.failed.IsZero() }

// receive records a verified event that arrived at at.
func (t *tracker) receive(ev event, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, seen := t.events[ev.ID]; seen {
		t.duplicates++
		return
	}
	t.events[ev.ID] = struct{}{}
	switch ev.Type {
	case "message.sent", "message.delivered", "message.failed":
	default:
		t.otherTypes[ev.Type]++
		return
	}
	a := t.arrivals[ev.Data.MessageID]
	if a == nil {
		a = &arrival{}
		t.arrivals[ev.Data.MessageID] = a
	}
	slot := &a.sent
	switch ev.Type {
	case "message.delivered":
		slot = &a.delivered
	case "message.failed":
		slot = &a.failed
	}
	if !slot.IsZero() {
		t.repeats++
		return
	}
	wasFinal := a.final()
	*slot = at
	if _, ok := t.accepted[ev.Data.MessageID]; ok && !wasFinal && a.final() {
		t.ended++
		t.signal()
	}
}

func (t *tracker) badSignature(reason string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.badSignatures++
	t.badReasons[reason]++
}

func (t *tracker) signal() {
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

// progress is how many accepted messages have a final event, of how many.
func (t *tracker) progress() (ended, accepted int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ended, len(t.accepted)
}

// summary is what the report prints about the webhook side of a run.
type summary struct {
	accepted, sent, delivered, failed int
	// neverSent and neverEnded are accepted messages without a
	// message.sent, and without a delivered or failed event.
	neverSent, neverEnded int
	// unknown counts events of messages this run did not accept (earlier
	// runs' events, or requests cut short after the server accepted them).
	unknown                          int
	duplicates, repeats, badSigs     int
	badReasons, otherTypes           map[string]int
	toSent, toDelivered              []time.Duration // sorted
	firstAccept, lastAccept, lastEnd time.Time
	// deliveredRate is delivered messages per second from the first accept
	// to the last delivered webhook; steadyRate the rate of delivered
	// webhooks between 10% and 90% of that span, without ramp-up and tail.
	deliveredRate, steadyRate float64
}

func (t *tracker) summarize() summary {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := summary{accepted: len(t.accepted), duplicates: t.duplicates, repeats: t.repeats, badSigs: t.badSignatures,
		badReasons: maps.Clone(t.badReasons), otherTypes: maps.Clone(t.otherTypes)}
	var deliveredAt []time.Time
	for id, at := range t.accepted {
		if s.firstAccept.IsZero() || at.Before(s.firstAccept) {
			s.firstAccept = at
		}
		if at.After(s.lastAccept) {
			s.lastAccept = at
		}
		a := t.arrivals[id]
		if a == nil {
			a = &arrival{}
		}
		if a.sent.IsZero() {
			s.neverSent++
		} else {
			s.sent++
			s.toSent = append(s.toSent, since(at, a.sent))
		}
		if !a.delivered.IsZero() {
			s.delivered++
			s.toDelivered = append(s.toDelivered, since(at, a.delivered))
			deliveredAt = append(deliveredAt, a.delivered)
		}
		if !a.failed.IsZero() {
			s.failed++
		}
		if !a.final() {
			s.neverEnded++
		}
		for _, end := range []time.Time{a.delivered, a.failed} {
			if end.After(s.lastEnd) {
				s.lastEnd = end
			}
		}
	}
	for id := range t.arrivals {
		if _, ok := t.accepted[id]; !ok {
			s.unknown++
		}
	}
	slices.Sort(s.toSent)
	slices.Sort(s.toDelivered)
	s.deliveredRate, s.steadyRate = rates(s.firstAccept, deliveredAt)
	return s
}

// since is the latency from accept to arrival. An event can arrive before
// the sender has read its 202; that counts as no latency rather than less.
func since(accepted, arrived time.Time) time.Duration {
	return max(0, arrived.Sub(accepted))
}

// rates returns the delivered rate from start to the last arrival, and the
// rate of arrivals after 10% and up to 90% of that span (0 when too short to
// tell).
func rates(start time.Time, arrivals []time.Time) (overall, steady float64) {
	if len(arrivals) == 0 {
		return 0, 0
	}
	last := slices.MaxFunc(arrivals, time.Time.Compare)
	span := last.Sub(start)
	if span <= 0 {
		return 0, 0
	}
	overall = float64(len(arrivals)) / span.Seconds()
	from, to := start.Add(span/10), start.Add(span*9/10)
	n := 0
	for _, at := range arrivals {
		if at.After(from) && !at.After(to) {
			n++
		}
	}
	return overall, float64(n) / to.Sub(from).Seconds()
}

// percentile is the nearest-rank p-th percentile of sorted (p in 0..100);
// zero for no values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(len(sorted)-1, max(0, i))]
}
