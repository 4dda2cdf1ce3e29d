package android

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/smsrouter/smsrouter/sdk"
)

// Codes on results that are not Accepted, for operators reading error_code.
const (
	codeNoGateway = "NO_GATEWAY"
	codeLease     = "LEASE_EXPIRED"
	codePaced     = "PHONE_LIMIT"
	codeBusy      = "IN_PROGRESS"
)

// noGateway is the reason operators and applications read while no phone
// is online, the integration guide's words.
const noGateway = "No gateway online"

// Send offers each message to a phone and answers it Accepted once the
// phone took it (reported Processed or further). A message no phone took
// within the lease is taken back and answered Temporary, so the host's
// message table stays the only queue and nothing is stranded on a phone
// that went away.
func (p *Provider) Send(ctx context.Context, msgs []sdk.Message) ([]sdk.SendResult, error) {
	p.mu.Lock()
	if !p.configured || p.closed {
		p.mu.Unlock()
		return nil, errors.New("android: provider is not configured or is closed")
	}
	p.mu.Unlock()
	b := &batch{p: p, msgs: msgs, results: make([]sdk.SendResult, len(msgs)), jobs: make([]*job, len(msgs)),
		done: make(chan *job, len(msgs)), lease: p.s.Lease.D()}
	b.placeBy = p.now().Add(b.lease)
	if d, ok := ctx.Deadline(); ok {
		// Answer before the host gives up on the call, or its answers
		// would be lost with it.
		b.stop = d.Add(-stopMargin)
		if b.stop.Before(b.placeBy) {
			b.placeBy = b.stop
		}
	}
	b.run(ctx)
	return b.results, nil
}

// stopMargin is how long before the call's deadline Send answers.
const stopMargin = time.Second

// batch is one Send call's messages and how far each got.
type batch struct {
	p       *Provider
	msgs    []sdk.Message
	results []sdk.SendResult
	jobs    []*job
	done    chan *job
	lease   time.Duration
	placeBy time.Time // a message no phone could take by then is answered
	stop    time.Time // every message is answered by then (zero: no deadline)
	open    int       // messages without a result yet
}

// run offers the messages until each has a result.
func (b *batch) run(ctx context.Context) {
	b.open = len(b.msgs)
	b.p.mu.Lock()
	b.admit()
	b.p.mu.Unlock()
	for b.open > 0 {
		b.p.mu.Lock()
		wake := b.offer()
		changed := b.p.changedLocked()
		b.p.mu.Unlock()
		if b.open == 0 {
			return
		}
		var timeout <-chan time.Time
		var timer *time.Timer
		if !wake.IsZero() {
			timer = time.NewTimer(time.Until(wake))
			timeout = timer.C
		}
		select {
		case j := <-b.done:
			b.p.mu.Lock()
			b.collect(j)
			b.p.mu.Unlock()
		case <-changed:
		case <-timeout:
		case <-ctx.Done():
			b.giveUp(ctx.Err())
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// admit answers at once the messages that need no phone: ones a phone took
// before (a resend), ones being offered by another call. Called with the
// pool's mutex held.
func (b *batch) admit() {
	for i, m := range b.msgs {
		switch {
		case b.p.recent.get(m.ID) != nil:
			b.settle(i, sdk.SendResult{MessageID: m.ID, Outcome: sdk.Accepted, ProviderMessageID: m.ID})
		case b.p.jobs[m.ID] != nil:
			b.settle(i, sdk.SendResult{MessageID: m.ID, Outcome: sdk.Temporary, Code: codeBusy,
				Reason: "a phone is being offered this message by another send; try again"})
		default:
			b.jobs[i] = &job{msg: m, done: b.done}
		}
	}
}

// offer gives unassigned messages to phones, takes back those whose lease
// ran out, answers those that cannot wait, and returns when to look again
// (zero: only when something happens). Called with the pool's mutex held.
func (b *batch) offer() time.Time {
	b.drain()
	now := b.p.now()
	var wake time.Time
	for i, j := range b.jobs {
		if j == nil || b.results[i].Outcome != 0 {
			continue
		}
		var at time.Time
		if j.dev != nil {
			at = b.checkLease(i, j, now)
		} else {
			at = b.place(i, j, now)
		}
		if !at.IsZero() && (wake.IsZero() || at.Before(wake)) {
			wake = at
		}
	}
	return wake
}

// drain answers the jobs phones took meanwhile. Called with the pool's
// mutex held.
func (b *batch) drain() {
	for {
		select {
		case j := <-b.done:
			b.collect(j)
		default:
			return
		}
	}
}

// place gives job i to a phone when one is free, or answers it when none
// will be in time; it returns when to try again (zero: when a phone
// comes).
func (b *batch) place(i int, j *job, now time.Time) time.Time {
	if b.p.closed {
		b.settle(i, sdk.Unavailable(j.msg.ID, "the android provider is shutting down").WithCode(codeNoGateway))
		return time.Time{}
	}
	if !j.msg.ValidUntil.IsZero() && !now.Before(j.msg.ValidUntil) {
		b.settle(i, sdk.Expired(j.msg.ID, "its validity passed before a phone was free to take it"))
		return time.Time{}
	}
	c := b.p.choose(j.msg, now)
	switch {
	case c.dev != nil:
		b.p.assign(j, c, now)
		return b.leaseEnd(j)
	case c.offline && (b.p.s.WhenOffline == OfflineRefuse || !now.Before(b.placeBy)):
		b.settle(i, sdk.Unavailable(j.msg.ID, noGateway).WithCode(codeNoGateway))
		return time.Time{}
	case c.offline:
		return b.placeBy
	case !c.next.Before(b.placeBy):
		b.settle(i, sdk.RetryAfter(j.msg.ID, c.next.Sub(now),
			"every online phone is at its sending limit (rate_limit per rate_period)").WithCode(codePaced))
		return time.Time{}
	}
	return c.next
}

// leaseEnd is when job j, given to a phone, is taken back untaken.
func (b *batch) leaseEnd(j *job) time.Time {
	end := j.assignedAt.Add(b.lease)
	if !b.stop.IsZero() && b.stop.Before(end) {
		return b.stop
	}
	return end
}

// checkLease takes job i back when its phone did not take it in time, and
// otherwise returns when to look again.
func (b *batch) checkLease(i int, j *job, now time.Time) time.Time {
	if end := b.leaseEnd(j); now.Before(end) {
		return end
	}
	b.p.withdraw(j)
	if !j.fetched && !now.Before(j.assignedAt.Add(b.lease)) {
		// The phone did not even ask for its work in a whole lease:
		// treat it as gone until it shows life again, so the next
		// messages go elsewhere.
		j.dev.suspect = true
	}
	reason := fmt.Sprintf("phone %s did not take it within the lease (%s)", j.dev.Name, b.p.s.Lease)
	b.settle(i, sdk.Unavailable(j.msg.ID, reason).WithCode(codeLease))
	return time.Time{}
}

// collect answers the job a phone took. Called with the pool's mutex held.
func (b *batch) collect(j *job) {
	for i, bj := range b.jobs {
		if bj == j && b.results[i].Outcome == 0 {
			b.settle(i, sdk.SendResult{MessageID: j.msg.ID, Outcome: sdk.Accepted, ProviderMessageID: j.msg.ID})
		}
	}
}

func (b *batch) settle(i int, r sdk.SendResult) {
	b.results[i] = r
	b.open--
}

// giveUp answers every open message after the call's context ended,
// taking back those given to phones that did not take them yet.
func (b *batch) giveUp(err error) {
	b.p.mu.Lock()
	defer b.p.mu.Unlock()
	b.drain()
	for i, j := range b.jobs {
		if b.results[i].Outcome != 0 {
			continue
		}
		id := b.msgs[i].ID
		if j != nil && j.dev != nil {
			b.p.withdraw(j)
		}
		b.results[i] = sdk.SendResult{MessageID: id, Outcome: sdk.Temporary, Reason: "send cancelled before a phone took it: " + err.Error()}
	}
	b.open = 0
}
