package dispatch

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/pluginhost"
)

// Queue is the durable store of messages waiting to be sent.
type Queue interface {
	ClaimDue(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]Message, error)
	RecordAttempts(ctx context.Context, results []message.Attempt) error
	NextDue(ctx context.Context) (time.Time, bool, error)
}

// Providers sends batches to configured providers by name, and asks them
// about messages they took (the plugin host).
type Providers interface {
	Capabilities(name string) (pluginhost.Capabilities, error)
	// Send hands a batch to a provider: one result per message, in
	// order, or an error (wrapping pluginhost.ErrUnavailable when the
	// messages may be tried again).
	Send(ctx context.Context, name string, msgs []message.Outgoing) ([]message.SendResult, error)
	QueryStatus(ctx context.Context, name string, providerIDs []string) ([]message.Report, error)
	QuerySent(ctx context.Context, name string, messageIDs []string) ([]pluginhost.Sent, error)
}

// Options tune a Dispatcher; zero values take the defaults.
type Options struct {
	Logger hclog.Logger
	// Gate, when set, learns which rounds are sending to which provider,
	// so that the provider's reports can wait until the round has
	// recorded its answers (see ReportGate).
	Gate *ReportGate
	// BatchSize is how many messages one claim takes (default 500).
	BatchSize int
	// Lease is how long a claim holds its messages. It must outlast
	// SendTimeout: a message whose lease runs out is sent again.
	Lease time.Duration
	// SendTimeout bounds one Send call to a plugin (default 60s).
	SendTimeout time.Duration
	// PollInterval is the longest the dispatcher sleeps without being woken
	// (default 1s); new messages wake it at once through Wake.
	PollInterval time.Duration
	// MinRetry and MaxRetry bound the exponential backoff between rounds
	// through a message's plan (defaults 1s and 5m).
	MinRetry, MaxRetry time.Duration
	// Parallel is how many Send calls run at once (default 8).
	Parallel int
	// Rounds is how many dispatch rounds (claim, send, record) run at
	// once (default 1). With more, the next round claims and sends while
	// one waits for its record to commit. On 2 cores with the database on
	// the same machine, 2 rounds took database time from accepting and did
	// not shorten accept-to-sent (docs/performance.md, third round); a
	// server with cores to spare and a remote database may gain from 2.
	Rounds int
	// Now is the clock; tests replace it.
	Now func() time.Time
	// Observer, when set, is told how each attempt went, for the
	// providers' success rate and latency.
	Observer Observer
	// Metrics, when set, counts acceptances, retries and failovers.
	Metrics Metrics
	// Limits are the providers' TPS and concurrency limits; SetLimits
	// changes them while running.
	Limits Limits
	// ThrottleWait is the longest a claimed message waits in this process
	// for its provider's limits (a TPS token or a free Send slot) before it
	// is given back to the queue untried, due at its turn. It bounds how
	// long leases are held, and how long one round waits on a throttled
	// provider while others could be served (default 1s; never more than
	// half of Lease less SendTimeout).
	ThrottleWait time.Duration
	// SleepUntil waits until the clock reaches t or ctx ends; tests with a
	// fake clock replace it. The default sleeps for t minus Now.
	SleepUntil func(ctx context.Context, t time.Time) error
	// Rerouter, when set, routes each scheduled message again on its first
	// claim (its send time); nil keeps the decision made at accept.
	Rerouter Rerouter
	// Health, when set, tells which providers can take messages now. A
	// message skips unhealthy candidates; with none left it waits as
	// pending, retried on the plan's backoff. Nil: every provider can.
	Health Health
}

// Health tells the dispatcher whether providers can take messages now.
type Health interface {
	// ProviderHealth reports whether the provider can take messages now
	// and, when it cannot, why (shown in the message's status).
	ProviderHealth(name string) (ok bool, why string)
}

// Observer learns the outcome of attempts: ok when the provider accepted the
// message, not ok when it could not take it now (temporary, unavailable).
// Permanent refusals are not reported: they speak of the message, not of the
// provider's health.
type Observer interface {
	Observe(provider string, ok bool, latency time.Duration)
}

// Metrics counts what becomes of attempts, for monitoring.
type Metrics interface {
	// Sent is told of each message a provider accepted, at at.
	Sent(provider string, m *Message, at time.Time)
	// Retried is told of each temporary failure at provider: failover when
	// the message goes on to its plan's next candidate at once, otherwise
	// it waits out a backoff before its plan starts again.
	Retried(provider string, failover bool)
}

// Dispatcher sends due messages until its Run context ends.
type Dispatcher struct {
	q      Queue
	p      Providers
	o      Options
	log    hclog.Logger
	wake   chan struct{}
	limits limiters
	share  clusterShare
}

// New returns a Dispatcher over q and p.
func New(q Queue, p Providers, o Options) *Dispatcher {
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = 60 * time.Second
	}
	if o.Lease <= 0 {
		o.Lease = 2*o.SendTimeout + 10*time.Second
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.MinRetry <= 0 {
		o.MinRetry = time.Second
	}
	if o.MaxRetry <= 0 {
		o.MaxRetry = 5 * time.Minute
	}
	if o.Rounds <= 0 {
		o.Rounds = 1
	}
	if o.Parallel <= 0 {
		o.Parallel = 8
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ThrottleWait <= 0 {
		o.ThrottleWait = time.Second
	}
	// A message waiting for a token must still be sent and recorded within
	// its lease, or another dispatcher could send it too; half the lease's
	// margin over SendTimeout is left for the waiting.
	o.ThrottleWait = max(min(o.ThrottleWait, (o.Lease-o.SendTimeout)/2), 0)
	if o.SleepUntil == nil {
		now := o.Now
		o.SleepUntil = func(ctx context.Context, t time.Time) error {
			wait := t.Sub(now())
			if wait <= 0 {
				return nil
			}
			timer := time.NewTimer(wait)
			defer timer.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-timer.C:
				return nil
			}
		}
	}
	d := &Dispatcher{q: q, p: p, o: o, log: o.Logger.Named("dispatch"), wake: make(chan struct{}, 1)}
	d.share = clusterShare{configured: o.Limits, nodes: 1}
	d.limits.set(o.Now(), o.Limits)
	return d
}

// SetLimits replaces the providers' limits, e.g. after a config reload. A
// provider's token bucket keeps its state across the change, so a reload
// grants no extra burst. The limits are the cluster's: with several
// sending nodes (SetLiveNodes) this process takes its part of them.
func (d *Dispatcher) SetLimits(l Limits) {
	d.limits.set(d.o.Now(), d.share.setConfigured(l))
}

// SetLiveNodes tells the dispatcher how many sending nodes share the
// providers' limits, this one included (see Membership).
func (d *Dispatcher) SetLiveNodes(n int) {
	if l, changed := d.share.setNodes(n); changed {
		d.log.Info("providers' limits shared among sending nodes", "nodes", max(n, 1))
		d.limits.set(d.o.Now(), l)
	}
}

// Limits returns the providers' limits in force, by provider name; a
// provider without limits is left out.
func (d *Dispatcher) Limits() Limits {
	return d.limits.snapshot()
}

// Wake tells the dispatcher new messages are due, without blocking.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// heldSweeper is implemented by queues that hold status reports which
// arrived before their message's submit answer was recorded.
type heldSweeper interface {
	ApplyHeldStatuses(ctx context.Context, limit int) (int, error)
}

// heldSweepInterval is how often Run applies reports held by a race with
// RecordAttempts; the common case is applied at once, in RecordAttempts.
// With a provider that reports at once the race is not rare (half the
// reports at a few hundred messages a second), so the sweep runs often: it
// reads only the few reports held at any moment.
const heldSweepInterval = 250 * time.Millisecond

// Run dispatches until ctx ends, in Rounds rounds at once. A batch already
// handed to providers is finished and recorded before Run returns, so
// stopping loses no answer.
func (d *Dispatcher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for i := range d.o.Rounds {
		// Claims skip what another round holds (the lease), as they do
		// across servers; one round sweeps held reports.
		wg.Go(func() { d.rounds(ctx, i == 0) })
	}
	wg.Wait()
	return nil
}

// rounds runs dispatch rounds one after the other until ctx ends.
func (d *Dispatcher) rounds(ctx context.Context, sweep bool) {
	var lastSweep time.Time
	for {
		if held, ok := d.q.(heldSweeper); ok && sweep && time.Since(lastSweep) >= heldSweepInterval {
			lastSweep = time.Now()
			if n, err := held.ApplyHeldStatuses(ctx, 500); err != nil {
				d.log.Warn("applying held status reports failed", "error", err)
			} else if n > 0 {
				d.log.Debug("applied held status reports", "reports", n)
			}
		}
		n, err := d.DispatchOnce(ctx)
		if err != nil {
			d.log.Error("dispatch round failed", "error", err)
		}
		if ctx.Err() != nil {
			return
		}
		if n == d.o.BatchSize && err == nil {
			continue
		}
		wait := d.o.PollInterval
		if next, ok, err := d.q.NextDue(ctx); err == nil && ok {
			wait = min(max(next.Sub(d.o.Now()), 5*time.Millisecond), d.o.PollInterval)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-d.wake:
			t.Stop()
		case <-t.C:
		}
	}
}

// DispatchOnce claims one batch of due messages, sends them and records the
// outcome. It returns how many messages it claimed.
func (d *Dispatcher) DispatchOnce(ctx context.Context) (int, error) {
	now := d.o.Now()
	msgs, err := d.q.ClaimDue(ctx, now, d.o.BatchSize, d.o.Lease)
	if err != nil || len(msgs) == 0 {
		return 0, err
	}
	round := d.sortDue(ctx, msgs, now)
	// Until the answers are recorded, below: reports about these
	// messages wait for that.
	defer d.enterGate(round.order)()
	d.sendGroups(ctx, round, now)
	if round.rerouted != nil {
		recordReroutes(round.results, round.rerouted)
	}
	if err := d.record(ctx, round.results); err != nil {
		return len(msgs), err
	}
	return len(msgs), nil
}

// dueRound is one DispatchOnce batch: the messages to send grouped by
// provider (order is the providers in first-seen order), the results
// known so far, and the scheduled messages routed again at send time.
type dueRound struct {
	results  []message.Attempt
	groups   map[string][]*Message
	order    []string
	rerouted map[string]reroutedTo
}

// sortDue decides for each claimed message whether it is answered at once
// (expired, no candidate, no healthy provider, refused when routed again)
// or sent, and to which provider.
func (d *Dispatcher) sortDue(ctx context.Context, msgs []Message, now time.Time) *dueRound {
	round := &dueRound{results: make([]message.Attempt, 0, len(msgs)), groups: map[string][]*Message{}}
	health := d.healthOnce()
	unhealthy := 0
	for i := range msgs {
		m := &msgs[i]
		if d.o.Rerouter != nil && m.SendAt != nil && m.Attempts == 1 && now.Before(m.ExpiresAt) {
			// A scheduled message's first claim: routed again as of now.
			if round.rerouted == nil {
				round.rerouted = map[string]reroutedTo{}
			}
			if r, ok := d.reroute(ctx, m, now, round.rerouted); !ok {
				round.results = append(round.results, r)
				continue
			}
		}
		plan := m.PlanEntries()
		switch {
		case !now.Before(m.ExpiresAt):
			round.results = append(round.results, expiredResult(m, now))
		case len(plan) == 0:
			round.results = append(round.results, message.Attempt{MessageID: m.ID, Status: message.Failed,
				Code: "NO_CANDIDATE", Reason: "the routing plan names no provider", At: now})
		default:
			name, why, ok := pickHealthy(m, plan, health)
			if !ok {
				unhealthy++
				round.results = append(round.results, d.noneHealthy(m, len(plan), now, why))
				continue
			}
			if _, ok := round.groups[name]; !ok {
				round.order = append(round.order, name)
			}
			round.groups[name] = append(round.groups[name], m)
		}
	}
	if unhealthy > 0 {
		d.log.Warn("no healthy provider for messages, they wait as pending", "messages", unhealthy)
	}
	return round
}

// enterGate tells the report gate this round sends to the providers and
// returns what ends that, to call once the answers are recorded.
func (d *Dispatcher) enterGate(providers []string) (leave func()) {
	if d.o.Gate == nil {
		return func() {}
	}
	leaves := make([]func(), 0, len(providers))
	for _, name := range providers {
		leaves = append(leaves, d.o.Gate.enter(name))
	}
	return func() {
		for i := len(leaves) - 1; i >= 0; i-- {
			leaves[i]()
		}
	}
}

// sendGroups sends each provider's group, in chunks of the provider's
// batch size within its rate limit, and adds the answers to round.results.
func (d *Dispatcher) sendGroups(ctx context.Context, round *dueRound, now time.Time) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	add := func(rs []message.Attempt) {
		mu.Lock() // chunks of providers before this one are recording already
		round.results = append(round.results, rs...)
		mu.Unlock()
	}
	sem := make(chan struct{}, d.o.Parallel)
	deadline := now.Add(d.o.ThrottleWait)
	for _, name := range round.order {
		size := 1
		caps, err := d.p.Capabilities(name)
		if err == nil && caps.MaxBatchSize > 0 {
			size = caps.MaxBatchSize
		}
		group, resolved := d.resolveInDoubt(ctx, name, round.groups[name])
		add(resolved)
		send, release := d.limits.pace(name, group, size, now, d.o.ThrottleWait)
		if len(release) > 0 {
			d.log.Debug("provider at its tps limit, messages go back to the queue", "provider", name,
				"sending", len(group)-len(release), "released", len(release), "next_due", release[0].RetryAt)
			add(release)
		}
		for _, chunk := range send {
			wg.Go(func() { add(d.sendPaced(ctx, name, caps, chunk, deadline, sem)) })
		}
	}
	wg.Wait()
}

// record stores the round's results. It records even when ctx ended:
// these answers came from providers and must not be lost to a shutdown. A
// failed write is tried again, since an unrecorded acceptance is sent a
// second time once the lease ends.
func (d *Dispatcher) record(ctx context.Context, results []message.Attempt) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	for wait := 100 * time.Millisecond; ; wait *= 2 {
		err := d.q.RecordAttempts(rctx, results)
		if err == nil {
			return nil
		}
		d.log.Error("recording attempts failed, retrying", "messages", len(results), "error", err)
		t := time.NewTimer(wait)
		select {
		case <-rctx.Done():
			t.Stop()
			return fmt.Errorf("record attempts: %w", err)
		case <-t.C:
		}
	}
}

// sendPaced sends a chunk once the provider's limits let it: a free Send
// slot by deadline, and its TPS turn. A chunk that gets no slot in time, or
// whose wait is cut short by ctx, goes back to the queue untried.
//
// A chunk can start later than its turn (the shared cap on Send calls may
// hold it), never earlier. A late chunk may meet the next one, so a
// provider can briefly get more than a bucket's worth at once, but from
// any instant on never more than the bucket plus tps per second since.
func (d *Dispatcher) sendPaced(ctx context.Context, name string, caps pluginhost.Capabilities, c chunk, deadline time.Time, sem chan struct{}) []message.Attempt {
	msgs := c.msgs
	giveBack := func(due time.Duration, why string) []message.Attempt {
		now := d.o.Now()
		d.log.Debug(why+", messages go back to the queue", "provider", name, "messages", len(msgs))
		out := make([]message.Attempt, len(msgs))
		for i, m := range msgs {
			out[i] = released(m, now, now.Add(due))
		}
		return out
	}
	free, ok := d.limits.acquire(ctx, name, deadline.Sub(d.o.Now()))
	if !ok {
		// The tokens taken for these messages stay spent: their turn has
		// passed, so giving them back would only let a later round exceed
		// the rate.
		return giveBack(d.o.ThrottleWait, "provider at its concurrency limit")
	}
	defer free()
	if c.at.After(d.o.Now()) && d.o.SleepUntil(ctx, c.at) != nil {
		return giveBack(0, "stopping while waiting for the provider's tps limit")
	}
	// The shared cap on Send calls comes after the provider's own, so a
	// call holding a shared slot never waits for a provider slot.
	sem <- struct{}{}
	defer func() { <-sem }()
	if d.leaseTooShort(msgs) {
		// Waiting for a slot used up the claim: a Send starting now could
		// still be unrecorded when the lease runs out, and another
		// dispatcher would send the messages again.
		return giveBack(0, "claim too old to start a send")
	}
	// Waiting for the provider's limits may have carried messages past
	// their validity since the claim: a provider is never handed one (see
	// message.Outgoing.ValidUntil).
	now := d.o.Now()
	live := make([]*Message, 0, len(msgs))
	var expired []message.Attempt
	for _, m := range msgs {
		if now.Before(m.ExpiresAt) {
			live = append(live, m)
		} else {
			expired = append(expired, expiredResult(m, now))
		}
	}
	if len(live) == 0 {
		return expired
	}
	return append(d.sendChunk(ctx, name, caps, live), expired...)
}

func expiredResult(m *Message, now time.Time) message.Attempt {
	reason := "validity period ran out before any provider accepted the message"
	if m.ErrorCode == message.CodeHeld {
		reason = "validity period ran out while the route held the message: " + m.ErrorMessage
	}
	return message.Attempt{MessageID: m.ID, Status: message.Expired, Candidate: m.Candidate,
		Code: "EXPIRED", Reason: reason, At: now}
}

// leaseTooShort reports whether the claim on msgs ends before a Send started
// now could time out and be recorded. Half of what the lease has beyond
// SendTimeout is kept for recording the round.
func (d *Dispatcher) leaseTooShort(msgs []*Message) bool {
	if d.o.Lease <= d.o.SendTimeout {
		return false // misconfigured: no send could ever start
	}
	latest := d.o.Now().Add(d.o.SendTimeout + (d.o.Lease-d.o.SendTimeout)/2)
	for _, m := range msgs {
		if m.LeaseUntil != nil && latest.After(*m.LeaseUntil) {
			return true
		}
	}
	return false
}

// sendChunk sends one call's messages to the provider and turns its
// answer, or its failure, into one attempt per message.
func (d *Dispatcher) sendChunk(ctx context.Context, name string, caps pluginhost.Capabilities, chunk []*Message) []message.Attempt {
	batch := make([]message.Outgoing, len(chunk))
	for i, m := range chunk {
		batch[i] = message.Outgoing{ID: m.ID, To: m.Recipient, From: m.Sender, Text: m.Text,
			Encoding: m.Encoding, Segments: m.Segments, Kind: m.Kind, ValidUntil: m.ExpiresAt.UTC()}
	}
	// A send in flight is finished, not abandoned, when the dispatcher
	// stops: cancelling it would leave the provider's answer unknown and
	// risk a duplicate on the retry.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.o.SendTimeout)
	start := time.Now()
	res, err := d.p.Send(sctx, name, batch)
	took := time.Since(start)
	cancel()
	now := d.o.Now()
	if err != nil {
		return d.sendFailed(name, caps, chunk, now, err)
	}
	// The plugin host gives one result per message, in order, or an error
	// (it holds plugins to that rule).
	out := make([]message.Attempt, len(chunk))
	for i, m := range chunk {
		out[i] = d.answered(name, m, res[i], now, took)
	}
	return out
}

// observe tells the observer how a call to the provider went.
func (d *Dispatcher) observe(name string, ok bool, latency time.Duration) {
	if d.o.Observer != nil {
		d.o.Observer.Observe(name, ok, latency)
	}
}

// sendFailed is the attempts of a call that failed as a whole: in doubt
// when the plugin died with the answer unknown, otherwise a retry.
func (d *Dispatcher) sendFailed(name string, caps pluginhost.Capabilities, chunk []*Message, now time.Time, err error) []message.Attempt {
	out := make([]message.Attempt, len(chunk))
	if lostAnswer(err, caps) {
		d.log.Warn("the plugin died during Send; the provider is asked about the messages before they are sent again",
			"provider", name, "messages", len(chunk), "error", err)
		for i, m := range chunk {
			out[i] = d.inDoubt(m, name, now, "the plugin died during Send; the provider is asked whether it took the message before it is sent again")
			d.observe(name, false, 0)
		}
		return out
	}
	unavailable := errors.Is(err, pluginhost.ErrUnavailable)
	d.log.Warn("send failed, will try again", "provider", name, "messages", len(chunk), "unavailable", unavailable, "error", err)
	for i, m := range chunk {
		out[i] = d.retry(m, name, now, 0, "SEND_ERROR", err.Error(), unavailable)
		d.observe(name, false, 0)
	}
	return out
}

// answered is the attempt a provider's answer r about m makes; took is
// how long the call took.
func (d *Dispatcher) answered(name string, m *Message, r message.SendResult, now time.Time, took time.Duration) message.Attempt {
	switch {
	case r.Outcome == message.OutcomeAccepted:
		d.observe(name, true, took)
		if d.o.Metrics != nil {
			d.o.Metrics.Sent(name, m, now)
		}
		a := message.Attempt{MessageID: m.ID, Provider: name, Status: message.Sent,
			ProviderMessageID: r.ProviderMessageID, Candidate: m.Candidate, Code: r.Code, At: now}
		if m.Sender == "" {
			a.Sender = r.Sender // the provider's default sender, which the recipient saw
		}
		return a
	case r.Outcome == message.OutcomeRefused:
		return d.refused(m, name, now, r)
	case r.Outcome == message.OutcomeExpired:
		// The message's fault, not the provider's: no observation.
		return message.Attempt{MessageID: m.ID, Provider: name, Status: message.Expired, Candidate: m.Candidate,
			Code: r.Code, Reason: fmt.Sprintf("%s: %s", name, r.Reason), At: now}
	case r.Outcome.ProviderDown():
		// The provider's fault, not the message's: on to the next
		// candidate, pending when none is left (the plugin host marks
		// a provider whose account was refused unhealthy).
		d.observe(name, false, took)
		return d.retry(m, name, now, r.RetryAfter, r.Code, r.Reason, true)
	default:
		d.observe(name, false, took)
		return d.retry(m, name, now, r.RetryAfter, r.Code, r.Reason, false)
	}
}

// retry plans the next attempt after a temporary failure at a provider: the
// next candidate at once, or, when the plan is exhausted, its first
// candidate again after a backoff.
func (d *Dispatcher) retry(m *Message, provider string, now time.Time, after time.Duration, code, reason string, unavailable bool) message.Attempt {
	r := message.Attempt{MessageID: m.ID, Provider: provider, Status: message.Queued,
		Code: code, Reason: fmt.Sprintf("%s: %s", provider, reason), At: now}
	plan := m.PlanEntries()
	c := m.Candidate % max(len(plan), 1)
	if after > 0 && len(plan) > 0 {
		// The provider's Retry-After holds for it alone: others may be
		// tried at once, it no sooner than asked, in this round or later.
		plan[c].NotBefore = now.Add(after)
		r.Plan = message.EncodePlan(plan)
	}
	next := nextOpen(plan, c+1)
	if d.o.Metrics != nil {
		d.o.Metrics.Retried(provider, next >= 0)
	}
	if next >= 0 {
		r.Candidate, r.RetryAt = next, notBefore(plan[next], now, m.ExpiresAt)
		return r
	}
	first := max(nextOpen(plan, 0), 0)
	r.Candidate, r.RetryAt = first, d.backoff(m, len(plan), now, after)
	if first < len(plan) {
		r.RetryAt = notBefore(plan[first], r.RetryAt, m.ExpiresAt)
	}
	if unavailable {
		// The guide's "pending": no provider could take it now; it will be retried.
		r.Status = message.Pending
	}
	return r
}

// notBefore is at, or later when candidate e asked to be tried no sooner,
// never past the message's expiry (the try that finds it expired).
func notBefore(e message.PlanEntry, at, expires time.Time) time.Time {
	switch {
	case !e.NotBefore.After(at):
		return at
	case e.NotBefore.After(expires) && expires.After(at):
		return expires
	case e.NotBefore.After(expires):
		return at
	}
	return e.NotBefore
}

// backoff is when a message whose plan of n candidates is exhausted starts
// it again: exponential in the rounds so far, with jitter, no sooner than
// after and never past the message's expiry.
func (d *Dispatcher) backoff(m *Message, n int, now time.Time, after time.Duration) time.Time {
	// Attempts already counts this one; one round of the plan is one step of backoff.
	rounds := max(m.Attempts/max(n, 1), 1)
	wait := d.o.MinRetry << min(rounds-1, 20)
	wait = min(wait, d.o.MaxRetry)
	wait = wait/2 + rand.N(wait/2+1) // jitter spreads retries of a burst
	at := now.Add(max(wait, after))
	if at.After(m.ExpiresAt) {
		// The next try is the one that finds it expired, on time.
		at = m.ExpiresAt
	}
	return at
}

// healthOnce returns a view of Options.Health that asks about each
// provider once per round; nil when no health is known.
func (d *Dispatcher) healthOnce() func(name string) (bool, string) {
	if d.o.Health == nil {
		return nil
	}
	type answer struct {
		ok  bool
		why string
	}
	seen := map[string]answer{}
	return func(name string) (bool, string) {
		a, ok := seen[name]
		if !ok {
			a.ok, a.why = d.o.Health.ProviderHealth(name)
			seen[name] = a
		}
		return a.ok, a.why
	}
}

// pickHealthy returns the provider the message goes to this round: its
// current candidate, or the first healthy one after it in the plan (the
// message's candidate is moved there). ok is false when none from the
// current one on can take it; why then lists what they reported.
func pickHealthy(m *Message, plan []message.PlanEntry, health func(string) (bool, string)) (name, why string, ok bool) {
	c := m.Candidate % len(plan)
	if health == nil && plan[c].Refused == "" {
		return plan[c].Provider, "", true
	}
	var reasons []string
	for i := c; i < len(plan); i++ {
		if plan[i].Refused != "" {
			continue // it refused the message for good
		}
		up, detail := true, ""
		if health != nil {
			up, detail = health(plan[i].Provider)
		}
		if up {
			m.Candidate = i
			return plan[i].Provider, "", true
		}
		if detail == "" {
			detail = "unhealthy"
		}
		reasons = append(reasons, plan[i].Provider+": "+detail)
	}
	if len(reasons) == 0 {
		reasons = append(reasons, "every remaining candidate refused the message")
	}
	return "", strings.Join(reasons, "; "), false
}

// nextOpen is the index of the first candidate from i on that has not
// refused the message, or -1.
func nextOpen(plan []message.PlanEntry, i int) int {
	for ; i < len(plan); i++ {
		if plan[i].Refused == "" {
			return i
		}
	}
	return -1
}

// refused records a provider's permanent refusal. A refusal its candidate
// lists in failover_on sends the message on: to the plan's next candidate
// at once, or, when only earlier ones are left (they failed temporarily),
// back to the first of them after the plan's backoff. The refusing
// candidate is marked in the plan and never asked again. Any other
// refusal, or one with no candidate left, fails the message with the
// provider's own code and reason.
func (d *Dispatcher) refused(m *Message, provider string, now time.Time, res message.SendResult) message.Attempt {
	failed := message.Attempt{MessageID: m.ID, Provider: provider, Status: message.Failed,
		Candidate: m.Candidate, Code: res.Code, Reason: res.Reason, At: now}
	plan := m.PlanEntries()
	c := m.Candidate % max(len(plan), 1)
	refusal := res.RefusalOf()
	if len(plan) == 0 || !plan[c].FailsOver(refusal) {
		return failed
	}
	plan[c].Refused = refusal
	r := message.Attempt{MessageID: m.ID, Provider: provider, Status: message.Queued, Plan: message.EncodePlan(plan),
		Code: res.Code, Reason: fmt.Sprintf("%s refused it (%s): %s", provider, refusal, res.Reason), At: now}
	if next := nextOpen(plan, c+1); next >= 0 {
		if d.o.Metrics != nil {
			d.o.Metrics.Retried(provider, true)
		}
		r.Candidate, r.RetryAt = next, now
		return r
	}
	if first := nextOpen(plan, 0); first >= 0 {
		r.Candidate, r.RetryAt = first, d.backoff(m, len(plan), now, 0)
		return r
	}
	failed.Plan = r.Plan
	return failed
}

// noneHealthy is the result for a message none of whose remaining
// candidates can take it now: pending (the guide's "no provider available,
// will retry"), back at its first candidate after the plan's backoff.
// Nothing was sent, so no provider's health or metrics hear of it.
func (d *Dispatcher) noneHealthy(m *Message, n int, now time.Time, why string) message.Attempt {
	return message.Attempt{MessageID: m.ID, Status: message.Pending, Code: "NO_HEALTHY_PROVIDER",
		Reason: "no provider available, will retry: " + why, At: now, RetryAt: d.backoff(m, n, now, 0)}
}
