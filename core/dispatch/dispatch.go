package dispatch

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/sdk"
)

// Queue is the durable store of messages waiting to be sent.
type Queue interface {
	ClaimDue(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]store.Message, error)
	RecordAttempts(ctx context.Context, results []store.AttemptResult) error
	NextDue(ctx context.Context) (time.Time, bool, error)
}

// Providers sends batches to configured providers by name.
type Providers interface {
	Provider(name string) (sdk.Provider, sdk.Capabilities, error)
	Send(ctx context.Context, name string, msgs []sdk.Message) ([]sdk.SendResult, error)
}

// Options tune a Dispatcher; zero values take the defaults.
type Options struct {
	Logger hclog.Logger
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
	// Now is the clock; tests replace it.
	Now func() time.Time
	// Observer, when set, is told how each attempt went, for the
	// providers' success rate and latency.
	Observer Observer
}

// Observer learns the outcome of attempts: ok when the provider accepted the
// message, not ok when it could not take it now (temporary, unavailable).
// Permanent refusals are not reported: they speak of the message, not of the
// provider's health.
type Observer interface {
	Observe(provider string, ok bool, latency time.Duration)
}

// Dispatcher sends due messages until its Run context ends.
type Dispatcher struct {
	q    Queue
	p    Providers
	o    Options
	log  hclog.Logger
	wake chan struct{}
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
	if o.Parallel <= 0 {
		o.Parallel = 8
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Dispatcher{q: q, p: p, o: o, log: o.Logger.Named("dispatch"), wake: make(chan struct{}, 1)}
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
const heldSweepInterval = 2 * time.Second

// Run dispatches until ctx ends. A batch already handed to providers is
// finished and recorded before Run returns, so stopping loses no answer.
func (d *Dispatcher) Run(ctx context.Context) error {
	var lastSweep time.Time
	for {
		if held, ok := d.q.(heldSweeper); ok && time.Since(lastSweep) >= heldSweepInterval {
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
			return nil
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
			return nil
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
	results := make([]store.AttemptResult, 0, len(msgs))
	groups := map[string][]*store.Message{}
	var order []string
	for i := range msgs {
		m := &msgs[i]
		plan := m.Candidates()
		switch {
		case !now.Before(m.ExpiresAt):
			results = append(results, store.AttemptResult{MessageID: m.ID, Status: sdk.StatusExpired, Candidate: m.Candidate,
				Code: "EXPIRED", Reason: "validity period ran out before any provider accepted the message", At: now})
		case len(plan) == 0:
			results = append(results, store.AttemptResult{MessageID: m.ID, Status: sdk.StatusFailed,
				Code: "NO_CANDIDATE", Reason: "the routing plan names no provider", At: now})
		default:
			name := plan[m.Candidate%len(plan)]
			if _, ok := groups[name]; !ok {
				order = append(order, name)
			}
			groups[name] = append(groups[name], m)
		}
	}

	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, d.o.Parallel)
	for _, name := range order {
		group := groups[name]
		size := 1
		_, caps, err := d.p.Provider(name)
		if err == nil && caps.MaxBatchSize > 0 {
			size = caps.MaxBatchSize
		}
		for start := 0; start < len(group); start += size {
			chunk := group[start:min(start+size, len(group))]
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				rs := d.sendChunk(ctx, name, chunk)
				mu.Lock()
				results = append(results, rs...)
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	// Record even when ctx ended: these answers came from providers and
	// must not be lost to a shutdown. A failed write is tried again, since
	// an unrecorded acceptance is sent a second time once the lease ends.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()

	for wait := 100 * time.Millisecond; ; wait *= 2 {
		if err = d.q.RecordAttempts(rctx, results); err == nil {
			return len(msgs), nil
		}
		d.log.Error("recording attempts failed, retrying", "messages", len(results), "error", err)
		t := time.NewTimer(wait)
		select {
		case <-rctx.Done():
			t.Stop()
			return len(msgs), fmt.Errorf("record attempts: %w", err)
		case <-t.C:
		}
	}
}

func (d *Dispatcher) sendChunk(ctx context.Context, name string, chunk []*store.Message) []store.AttemptResult {
	batch := make([]sdk.Message, len(chunk))
	for i, m := range chunk {
		batch[i] = sdk.Message{ID: m.ID, To: m.Recipient, From: m.Sender, Text: m.Text,
			Encoding: sdk.Encoding(m.Encoding), Segments: m.Segments, Kind: m.Kind}
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
	observe := func(ok bool, latency time.Duration) {
		if d.o.Observer != nil {
			d.o.Observer.Observe(name, ok, latency)
		}
	}
	out := make([]store.AttemptResult, len(chunk))
	if err != nil {
		unavailable := errors.Is(err, sdk.ErrUnavailable)
		d.log.Warn("send failed, will try again", "provider", name, "messages", len(chunk), "unavailable", unavailable, "error", err)
		for i, m := range chunk {
			out[i] = d.retry(m, name, now, 0, "SEND_ERROR", err.Error(), unavailable)
			observe(false, 0)
		}
		return out
	}
	if len(res) != len(chunk) {
		// Results can no longer be matched to messages by position, so none
		// of them can be trusted as an acceptance.
		d.log.Warn("provider broke the one-result-per-message contract, will try again", "provider", name,
			"messages", len(chunk), "results", len(res))
		for i, m := range chunk {
			observe(false, took)
			out[i] = d.retry(m, name, now, 0, "BAD_RESULT",
				fmt.Sprintf("provider returned %d results for %d messages", len(res), len(chunk)), false)
		}
		return out
	}
	for i, m := range chunk {
		r := res[i]
		switch {
		case r.MessageID != "" && r.MessageID != m.ID:
			observe(false, took)
			out[i] = d.retry(m, name, now, 0, "BAD_RESULT",
				fmt.Sprintf("provider answered for message %s in place of %s", r.MessageID, m.ID), false)
		case r.Outcome == sdk.Accepted:
			observe(true, took)
			out[i] = store.AttemptResult{MessageID: m.ID, Provider: name, Status: sdk.StatusSent,
				ProviderMessageID: r.ProviderMessageID, Candidate: m.Candidate, Code: r.Code, At: now}
		case r.Outcome == sdk.Permanent:
			out[i] = store.AttemptResult{MessageID: m.ID, Provider: name, Status: sdk.StatusFailed,
				Candidate: m.Candidate, Code: r.Code, Reason: r.Reason, At: now}
		default:
			observe(false, took)
			out[i] = d.retry(m, name, now, r.RetryAfter, r.Code, r.Reason, false)
		}
	}
	return out
}

// retry plans the next attempt after a temporary failure at a provider: the
// next candidate at once, or, when the plan is exhausted, its first
// candidate again after a backoff.
func (d *Dispatcher) retry(m *store.Message, provider string, now time.Time, after time.Duration, code, reason string, unavailable bool) store.AttemptResult {
	r := store.AttemptResult{MessageID: m.ID, Provider: provider, Status: sdk.StatusQueued,
		Code: code, Reason: fmt.Sprintf("%s: %s", provider, reason), At: now}
	plan := m.Candidates()
	next := m.Candidate%max(len(plan), 1) + 1
	if next < len(plan) {
		r.Candidate, r.RetryAt = next, now
		return r
	}
	r.Candidate = 0
	// Attempts already counts this one; one round of the plan is one step of backoff.
	rounds := max(m.Attempts/max(len(plan), 1), 1)
	wait := d.o.MinRetry << min(rounds-1, 20)
	wait = min(wait, d.o.MaxRetry)
	wait = wait/2 + rand.N(wait/2+1) // jitter spreads retries of a burst
	r.RetryAt = now.Add(max(wait, after))
	if unavailable {
		// The guide's "pending": no provider could take it now; it will be retried.
		r.Status = sdk.StatusPending
	}
	return r
}
