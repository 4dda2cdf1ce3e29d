package webhook

import (
	"time"

	"github.com/smsrouter/smsrouter/core/outbox"
)

// emptyClaimPause is how long the deliverer waits after a claim that found
// nothing before it claims again.
const emptyClaimPause = 20 * time.Millisecond

// claims decides when Run claims from the outbox: one claim at a time, when
// one is wanted (a wake-up, a poll, a full batch or a backlog run dry), not
// sooner than emptyClaimPause after a claim that found nothing.
type claims struct {
	wanted  bool
	running bool
	// pausedUntil: no claim before this (wall clock).
	pausedUntil time.Time
	// done receives the claim in flight when it ends.
	done chan claimDone
}

// claimDone is a finished claim, for Run.
type claimDone struct {
	claimed []outbox.Delivery
	err     error
	limit   int
}

func newClaims() *claims {
	// The first claim finds what waits from before the start.
	return &claims{wanted: true, done: make(chan claimDone, 1)}
}

// want asks for a claim as soon as one may run.
func (c *claims) want() { c.wanted = true }

// pause is how long a wanted claim must still wait; 0 or less for none.
func (c *claims) pause(now time.Time) time.Duration { return c.pausedUntil.Sub(now) }

// ready reports whether a claim may start, given the pause left.
func (c *claims) ready(pause time.Duration) bool { return c.wanted && !c.running && pause <= 0 }

// started notes a claim on its way.
func (c *claims) started() { c.running, c.wanted = true, false }

// finished notes the end of a claim, of which gaveBack deliveries did not
// fit and were given back. A claim that finds only events in flight or
// held back by them reads all of those to return nothing: the next waits
// emptyClaimPause. A full batch that fit suggests more are due; otherwise
// the next claim waits for a result, a wake-up or the next due time. A
// wake-up that came while the claim ran is kept: its events may be newer
// than what the claim saw.
func (c *claims) finished(r claimDone, gaveBack int, now time.Time) {
	c.running = false
	if r.err == nil && len(r.claimed) == 0 {
		c.pausedUntil = now.Add(emptyClaimPause)
	}
	c.wanted = c.wanted || (r.err == nil && len(r.claimed) == r.limit && gaveBack == 0)
}
