package webhook

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/smsrouter/smsrouter/core/outbox"
)

// Run delivers until ctx ends. Requests in flight then are cancelled and
// recorded as failed attempts to be retried at once, so stopping loses
// nothing and leaves no lease to wait out.
//
// The loop itself never waits for the database under load: claims and
// the recording of results each run in a goroutine of their own, one at a
// time, while requests keep starting from what was claimed before (only
// an idle loop reads when the next delivery is due, bounded by
// nextDueWait). Under load a database round trip takes tens of
// milliseconds, and a loop that waited for it after every few requests
// held one account to about 180 webhooks a second. Results not yet recorded are capped (maxUnrecorded): past the
// cap no request starts, so a slow database slows deliveries down instead
// of letting results wait until their lease runs out and the delivery is
// claimed and sent again.
func (d *Deliverer) Run(ctx context.Context) error {
	r := d.newRun(ctx)
	r.background.Go(func() { d.sweep(ctx) })
	d.setRunning(true)
	for {
		r.startRecord()
		if ctx.Err() != nil {
			break
		}
		r.giveBackStale()
		pause := r.claims.pause(time.Now())
		r.startClaim(pause)
		r.await(pause)
	}
	r.stop()
	return nil
}

// run is the state of one Run: the requests in flight, the results not yet
// recorded, the accounts' backlogs, the chains of handed-over events, and
// the claims.
type run struct {
	d        *Deliverer
	ctx      context.Context
	requests *requests
	// client sends the requests; its connections close when Run ends.
	client  *client
	results *results
	backlog *backlog
	chains  chains
	claims  *claims
	// stale are deliveries that waited in the backlog too long: given back
	// before their lease runs out.
	stale []outbox.Delivery
	// background runs the claim and the record in flight.
	background sync.WaitGroup
}

func (d *Deliverer) newRun(ctx context.Context) *run {
	cl := d.newClient()
	return &run{d: d, ctx: ctx, client: cl,
		requests: newRequests(d.o.Concurrency, d.o.PerAccount, func(c outbox.Delivery) outbox.Result { return d.attempt(ctx, cl, c) }),
		results:  newResults(d.maxHeld()), backlog: newBacklog(d.o.BatchSize), chains: chains{}, claims: newClaims()}
}

// canStart reports whether a request of the account may start now.
func (r *run) canStart(account string) bool {
	return r.requests.free(account) && !r.results.full() && r.ctx.Err() == nil
}

func (r *run) start(c outbox.Delivery) { r.requests.start(c) }

// startRecord records what finished, in the background, unless a record
// is in flight: what finishes meanwhile goes to the next one.
func (r *run) startRecord() {
	batch := r.results.next()
	if batch == nil {
		return
	}
	r.background.Go(func() {
		rec, err := r.d.record(r.ctx, batch)
		r.results.done <- recordDone{batch: batch, rec: rec, err: err}
	})
}

// giveBackStale gives back what waited in the backlog too long.
func (r *run) giveBackStale() {
	if len(r.stale) > 0 {
		r.drop(r.stale)
		r.stale = nil
	}
}

// startClaim claims in the background when a claim is wanted and there is
// room for what it brings: a slot to start one, results to record, and
// room among the deliveries held.
func (r *run) startClaim(pause time.Duration) {
	room := r.d.maxHeld() - r.requests.running - r.backlog.len()
	if !r.claims.ready(pause) || r.requests.full() || r.results.full() || room <= 0 {
		return
	}
	limit := min(r.d.o.BatchSize, room)
	skip := r.backlog.busy()
	r.claims.started()
	r.background.Go(func() {
		cs, err := r.d.q.ClaimWebhooks(r.ctx, r.d.o.Now(), limit, r.d.o.Lease, skip)
		r.claims.done <- claimDone{claimed: cs, err: err, limit: limit}
	})
}

// await waits for one thing to happen and deals with it.
func (r *run) await(pause time.Duration) {
	var tick <-chan time.Time
	if t := r.timer(pause); t != nil {
		defer t.Stop()
		tick = t.C
	}
	select {
	case o := <-r.requests.done:
		r.collect(o)
	case rec := <-r.results.done:
		r.takeRecord(rec)
	case c := <-r.claims.done:
		r.takeClaim(c)
	case <-r.d.handed:
		r.takeHanded(r.d.takeInbox())
	case <-r.d.wake:
		r.claims.want()
	case <-tick:
		r.claims.want()
	case <-r.ctx.Done():
	}
}

// timer returns when to claim without being woken, nil when something else
// wakes the loop: with every slot taken only a finished request can let
// more work start, and a claim in flight wakes the loop when it ends.
func (r *run) timer(pause time.Duration) *time.Timer {
	if r.claims.running || r.requests.full() {
		return nil
	}
	wait := r.d.o.PollInterval
	// Only an idle deliverer asks when the next delivery is due. With
	// requests running, each finished one wakes the loop anyway, and
	// asking excluding the busy accounts made the database read every
	// pending delivery of a busy account after every request: most of its
	// CPU under load. A claim about to run (after a pause) needs no due
	// time.
	if r.requests.running == 0 && r.backlog.len() == 0 && !r.results.recording && !r.claims.wanted {
		if next, ok := r.nextDue(); ok {
			wait = min(max(next.Sub(r.d.o.Now()), 5*time.Millisecond), r.d.o.PollInterval)
		}
	}
	if r.claims.wanted && pause > 0 {
		wait = min(wait, pause)
	}
	return time.NewTimer(wait)
}

// nextDueWait bounds the idle loop's read of when the next delivery is
// due. It is the one read the loop waits for, and deliveries handed over
// meanwhile wait with it: a plan gone wrong on a table never analyzed
// once made that read take seconds, and the webhooks of a busy server
// fell with it (docs/performance.md).
const nextDueWait = 500 * time.Millisecond

// nextDue is when the next delivery is due, false when none is or the
// read failed or took longer than nextDueWait: the loop then sleeps its
// poll interval unless woken.
func (r *run) nextDue() (time.Time, bool) {
	ctx, cancel := context.WithTimeout(r.ctx, nextDueWait)
	defer cancel()
	next, ok, err := r.d.q.NextWebhookDue(ctx)
	return next, ok && err == nil
}

// collect takes a finished request, and whatever else finished meanwhile,
// for the same record, and starts backlogged deliveries in the slots they
// freed.
func (r *run) collect(o outcome) {
	r.finished(o)
	for more := true; more; {
		select {
		case o := <-r.requests.done:
			r.finished(o)
		default:
			more = false
		}
	}
	r.fill()
}

func (r *run) finished(o outcome) {
	r.requests.finished(o)
	r.results.add(o)
}

// fill starts backlogged deliveries while slots are free.
func (r *run) fill() {
	// Half the lease is left for the request and its record.
	stale, ranDry := r.backlog.fill(r.d.o.Now(), r.d.o.Lease/2, r)
	r.stale = append(r.stale, stale...)
	if ranDry {
		r.claims.want()
	}
}

// admit starts deliveries or backlogs them behind their account's
// backlog. Claimed ones (capped) beyond a full backlog are returned, to be
// given back; handed-over ones are capped by Room already.
func (r *run) admit(cs []outbox.Delivery, capped bool) (giveBack []outbox.Delivery) {
	now := r.d.o.Now()
	for _, c := range cs {
		switch {
		case !r.backlog.has(c.AccountID) && r.canStart(c.AccountID):
			r.start(c)
		case !capped || !r.backlog.full(c.AccountID):
			r.backlog.add(c, now)
		default:
			giveBack = append(giveBack, c)
		}
	}
	return giveBack
}

// drop gives deliveries back untried, with the events chained behind them:
// those must wait for them again.
func (r *run) drop(cs []outbox.Delivery) {
	if len(cs) == 0 {
		return
	}
	all := slices.Clone(cs)
	for _, c := range cs {
		all = append(all, r.chains.take(c.MessageID)...)
	}
	r.d.hold(all, -1)
	r.d.giveBack(r.ctx, seqsOf(all))
}

// takeClaim starts or backlogs what a claim brought, and gives back what
// does not fit.
func (r *run) takeClaim(c claimDone) {
	if c.err != nil && r.ctx.Err() == nil {
		r.d.log.Error("claiming webhooks failed", "error", c.err)
	}
	r.d.hold(c.claimed, 1)
	giveBack := r.admit(c.claimed, true)
	r.drop(giveBack)
	r.claims.finished(c, len(giveBack), time.Now())
}

// takeHanded starts what the store handed over, or chains it behind the
// older events of its message that Run still holds. One whose older events
// Run neither holds nor saw finish was handed over while they were being
// recorded, maybe as failures to retry: it goes back, for a claim to take
// in order.
func (r *run) takeHanded(in []outbox.Delivery) {
	// Events of one message come in the order they were written.
	slices.SortFunc(in, func(a, b outbox.Delivery) int { return cmp.Compare(a.Seq, b.Seq) })
	now := r.d.o.Now()
	var direct, orphans []outbox.Delivery
	for _, c := range in {
		wait := r.d.unsettled(c)
		switch {
		case len(wait) == 0:
			direct = append(direct, c)
		case r.d.Holds(c.MessageID, wait):
			r.chains.add(c, now)
		default:
			orphans = append(orphans, c)
		}
	}
	r.admit(direct, false)
	r.drop(orphans)
}

// takeRecord counts recorded deliveries out and starts the events chained
// behind those that finished; the events chained behind one to be tried
// again go back, to follow it.
func (r *run) takeRecord(rec recordDone) {
	r.results.recorded(rec)
	out := make([]outbox.Delivery, len(rec.batch))
	var (
		release []outbox.Delivery
		moved   []string
		ended   []uint64
	)
	for i, o := range rec.batch {
		res := o.result
		out[i] = outbox.Delivery{Seq: res.Seq, AccountID: o.account, MessageID: res.MessageID}
		ok := rec.err == nil && res.State.Finished() && !rec.rec.Overtaken[res.Seq]
		if ok {
			ended = append(ended, res.Seq)
		}
		switch {
		case !r.chains.has(res.MessageID):
		case ok:
			moved = append(moved, res.MessageID)
		default:
			release = append(release, r.chains.take(res.MessageID)...)
		}
	}
	// Settled before counted out, so that Holds never misses them.
	r.d.settle(ended)
	r.d.hold(out, -1)
	r.fill()
	var resume []outbox.Delivery
	for _, m := range moved {
		resume = append(resume, r.chains.resume(m, r.d.ready)...)
	}
	r.admit(resume, false)
	// The events the recorded ones held back came with the record; no
	// claim is needed for them.
	r.d.hold(rec.rec.Next, 1)
	r.drop(r.admit(rec.rec.Next, true))
	r.drop(release)
}

// stop gives back what waits (backlog, chains, inbox, a claim in flight)
// at once, for the next deliverer (here after a restart, or another node)
// instead of after the lease; then waits for the requests in flight and
// records their outcomes.
func (r *run) stop() {
	d := r.d
	waiting := r.stale
	if r.claims.running {
		waiting = append(waiting, (<-r.claims.done).claimed...)
		r.claims.running = false
	}
	waiting = append(waiting, r.backlog.drain()...)
	waiting = append(waiting, r.chains.drain()...)
	waiting = append(waiting, d.setRunning(false)...)
	d.giveBackSoon(r.ctx, seqsOf(waiting))
	r.requests.closeWhenDone()
	for o := range r.requests.done {
		r.finished(o)
	}
	var next []outbox.Delivery
	if r.results.recording {
		next = (<-r.results.done).rec.Next
	}
	r.background.Wait()
	if len(r.results.finished) > 0 {
		rec, _ := d.record(r.ctx, r.results.finished)
		next = append(next, rec.Next...)
	}
	d.giveBackSoon(r.ctx, seqsOf(next))
	d.resetHeld()
	r.client.close()
}

// giveBackSoon gives deliveries back as Run ends, within a bound of its
// own: ctx has ended.
func (d *Deliverer) giveBackSoon(ctx context.Context, seqs []uint64) {
	if len(seqs) == 0 {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	d.giveBack(rctx, seqs)
}

// unsettled is what of a handed-over delivery's older events is not
// finished yet.
func (d *Deliverer) unsettled(c outbox.Delivery) []uint64 {
	var out []uint64
	for _, seq := range c.After {
		if !d.isSettled(seq) {
			out = append(out, seq)
		}
	}
	return out
}

// ready reports whether every older event c waited behind is finished.
func (d *Deliverer) ready(c outbox.Delivery) bool { return len(d.unsettled(c)) == 0 }

func seqsOf(cs []outbox.Delivery) []uint64 {
	out := make([]uint64, len(cs))
	for i, c := range cs {
		out[i] = c.Seq
	}
	return out
}
