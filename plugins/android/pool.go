package android

import (
	"strings"
	"time"

	"github.com/smsrouter/smsrouter/sdk"
)

// job is one message offered to a phone during a Send call.
type job struct {
	msg        sdk.Message
	dev        *device
	sim        *sim
	assignedAt time.Time
	fetched    bool        // the phone pulled it at least once
	done       chan<- *job // the Send call waiting for it; buffered for its whole batch
	taken      bool        // the phone reported it Processed or further
	takenState string      // the state it reported then
}

// given is what the pool remembers of a message a phone took, so its
// later reports (replayed after reconnects) can be checked and a resend of
// it answered without giving it again.
type given struct {
	deviceID string
	sent     bool // counted in the phone's sent today
	final    bool
	stored   uint8 // the status events of it the host stored (storedBit)
}

// storedBit is the bit of given.stored for a status event, by its id's
// last element (reportEvents' ids: "<message id>/sent", "/delivered",
// "/failed"); 0 for any other.
func storedBit(eventID string) uint8 {
	switch eventID[strings.LastIndexByte(eventID, '/')+1:] {
	case "sent":
		return 1
	case "delivered":
		return 2
	case "failed":
		return 4
	}
	return 0
}

// unstoredLocked drops from events the ones the host already stored for
// g: a phone reports each state at least twice (its PATCH, its webhook,
// replays after reconnects), and each event emitted is a round trip to
// the host and a transaction there, even when the host drops it as a
// repeat. Called with the pool's mutex held.
func unstoredLocked(g *given, events []sdk.Event) []sdk.Event {
	out := events[:0]
	for _, ev := range events {
		if b := storedBit(ev.ID); b == 0 || g.stored&b == 0 {
			out = append(out, ev)
		}
	}
	return out
}

// markStored records that the host stored events, so the phone's later
// reports of the same states are not emitted again.
func (p *pool) markStored(events []sdk.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ev := range events {
		if ev.Status == nil {
			continue
		}
		if g := p.recent.get(ev.Status.ProviderMessageID); g != nil {
			g.stored |= storedBit(ev.ID)
		}
	}
}

// recentSet remembers the last taken messages, oldest evicted first, so a
// flood of messages cannot grow it without bound.
type recentSet struct {
	max   int
	byID  map[string]*given
	order []string // ring of ids, oldest at head
	head  int
}

func newRecentSet(max int) *recentSet {
	return &recentSet{max: max, byID: make(map[string]*given)}
}

func (r *recentSet) get(id string) *given { return r.byID[id] }

func (r *recentSet) add(id string, g *given) {
	if _, ok := r.byID[id]; ok {
		r.byID[id] = g
		return
	}
	if len(r.order) < r.max {
		r.order = append(r.order, id)
	} else {
		delete(r.byID, r.order[r.head])
		r.order[r.head] = id
		r.head = (r.head + 1) % r.max
	}
	r.byID[id] = g
}

// choice is where a message can go now, or when it can go at the earliest.
type choice struct {
	dev     *device
	sim     *sim
	next    time.Time // when no phone is free now: when one will be (zero: no phone online)
	offline bool      // no phone is online at all
}

// choose picks the phone and SIM for msg: among online phones, those with
// a SIM whose prefix fits the destination best (any phone when none
// fits), the least recently used with room under its pacing. Called with
// the pool's mutex held.
func (p *pool) choose(msg sdk.Message, now time.Time) choice {
	type cand struct {
		d   *device
		s   *sim
		fit int
	}
	var cands []cand
	bestFit := 0
	for _, d := range p.devices {
		if !d.online(now, p.offlineAfter()) {
			continue
		}
		s, fit := bestSIM(d, msg.To)
		cands = append(cands, cand{d, s, fit})
		bestFit = max(bestFit, fit)
	}
	if len(cands) == 0 {
		return choice{offline: true}
	}
	var pick cand
	var next time.Time
	for _, c := range cands {
		if c.fit < bestFit {
			continue
		}
		free := p.freeAt(c.d, c.s, now)
		if free.After(now) {
			if next.IsZero() || free.Before(next) {
				next = free
			}
			continue
		}
		if pick.d == nil || c.d.lastAssigned < pick.d.lastAssigned ||
			(c.d.lastAssigned == pick.d.lastAssigned && c.d.ID < pick.d.ID) {
			pick = c
		}
	}
	if pick.d == nil {
		return choice{next: next}
	}
	return choice{dev: pick.d, sim: pick.s}
}

// bestSIM is the phone's SIM that fits to best, least recently used among
// equals; nil when the phone reported and was given no SIMs.
func bestSIM(d *device, to string) (*sim, int) {
	var best *sim
	bestFit := -1
	for _, s := range d.SIMs {
		fit := s.serves(to)
		if fit > bestFit || (fit == bestFit && s.lastUsed < best.lastUsed) {
			best, bestFit = s, fit
		}
	}
	return best, max(bestFit, 0)
}

// freeAt is when the phone, and its SIM when the SIM has a limit, can
// send one more.
func (p *pool) freeAt(d *device, s *sim, now time.Time) time.Time {
	at := d.pace.freeAt(now)
	if s != nil {
		if t := s.pace.freeAt(now); t.After(at) {
			at = t
		}
	}
	return at
}

// assign gives j to its phone: counts it against the pacing and wakes the
// phone's event streams. Called with the pool's mutex held.
func (p *pool) assign(j *job, c choice, now time.Time) {
	j.dev, j.sim, j.assignedAt, j.fetched = c.dev, c.sim, now, false
	c.dev.pace.take(now)
	p.assigned++
	c.dev.lastAssigned = p.assigned
	if c.sim != nil {
		c.sim.pace.take(now)
		c.sim.lastUsed = p.assigned
	}
	c.dev.queue = append(c.dev.queue, j)
	c.dev.inFlight++
	p.jobs[j.msg.ID] = j
	c.dev.notify()
}

// withdraw takes an untaken job back from its phone (its lease ran out or
// its Send ended). Called with the pool's mutex held.
func (p *pool) withdraw(j *job) {
	if j.dev != nil {
		j.dev.removeJob(j)
		j.dev.inFlight--
	}
	if p.jobs[j.msg.ID] == j {
		delete(p.jobs, j.msg.ID)
	}
}

// take records that the phone took j and tells its Send call. Called with
// the pool's mutex held.
func (p *pool) take(j *job, state string) {
	if j.taken {
		return
	}
	j.taken, j.takenState = true, state
	j.dev.removeJob(j)
	delete(p.jobs, j.msg.ID)
	p.recent.add(j.msg.ID, &given{deviceID: j.dev.ID})
	if p.journal != nil {
		if err := p.journal.add(j.msg.ID, j.dev.ID, p.recent); err != nil {
			// The message is taken all the same; only its reports after a
			// restart would go unrecognised.
			p.logf("could not record a taken message", "message_id", j.msg.ID, "error", err)
		}
	}
	j.done <- j
}

// offlineAfter is how long a phone without a live event stream counts as
// online after its last request: three ping intervals.
func (p *pool) offlineAfter() time.Duration { return 3 * p.s.PingInterval.D() }

// changedLocked returns the channel closed at the pool's next change that
// may let a waiting message go (a phone online, a phone revoked).
func (p *pool) changedLocked() <-chan struct{} { return p.changed }

// signalLocked closes the change channel and makes a new one.
func (p *pool) signalLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}
