package webhook

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"
	"github.com/valyala/fasthttp"

	"github.com/smsrouter/smsrouter/core/egress"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/outbox"
)

// Queue is the durable outbox of webhook deliveries.
type Queue interface {
	ClaimWebhooks(ctx context.Context, now time.Time, limit int, lease time.Duration, skipAccounts []string) ([]outbox.Delivery, error)
	ReleaseWebhooks(ctx context.Context, seqs []uint64) error
	RecordWebhookResultsClaimNext(ctx context.Context, results []outbox.Result, now time.Time, lease time.Duration) (outbox.Recorded, error)
	NextWebhookDue(ctx context.Context) (time.Time, bool, error)
}

// Sweeper is a Queue whose deliveries handed over at their insert are
// found by no claim when their lease runs out (the store's): it is swept
// for those, to make them claimable again should their deliverer have
// died. Run sweeps at its start and every sweepInterval.
type Sweeper interface {
	SweepWebhooks(ctx context.Context, lease time.Duration) error
}

// sweepInterval is how often Run sweeps: often enough that the store's
// record of what this process holds stays fresh (it hands nothing over on
// a record older than half a lease), and that expired leases are found
// within a quarter of a lease.
func sweepInterval(lease time.Duration) time.Duration { return min(lease/4, 5*time.Second) }

// Observer learns how each attempt went, for metrics: ok when the receiver
// answered 2xx; gaveUp when the delivery will not be tried again.
type Observer interface {
	ObserveWebhook(eventType outbox.EventType, ok, gaveUp bool, latency time.Duration)
}

// Options tune a Deliverer; zero values take the defaults.
type Options struct {
	Logger hclog.Logger
	// Egress says which addresses requests may go to; nil allows public
	// addresses only. Each request's host is resolved and checked when it
	// connects, and only an allowed address is dialled (see core/egress).
	Egress *egress.Policy
	// Timeout bounds one request, from connecting to the end of the
	// answer (default 10s).
	Timeout time.Duration
	// Concurrency is how many requests run at once (default 256).
	Concurrency int
	// PerAccount is how many of them one account may have, so that a slow
	// receiver cannot hold every slot while other accounts wait (default
	// 64). Two events a message at a few thousand messages a second, with
	// each request spending a few milliseconds waiting for a CPU on a busy
	// server, need that many in flight; with 8 (and later 32) one
	// account's events trailed its messages (docs/performance.md).
	PerAccount int
	// BatchSize caps one claim (default 500). A claim reads past the
	// deliveries in flight and those held back behind them before it finds
	// new ones, whatever it takes; claims of 100 spent a fifth of the
	// database's time on that under load, claims of 500 a few percent
	// (docs/performance.md, third round).
	BatchSize int
	// Lease is how long a claim holds its deliveries; it must outlast
	// Timeout, or a slow request is sent again by another deliverer
	// (default 2×Timeout + 30s).
	Lease time.Duration
	// PollInterval is the longest the deliverer sleeps without being woken
	// (default 1s); Wake ends the sleep at once.
	PollInterval time.Duration
	// MaxAge is how long after its event a delivery is retried before it is
	// given up (default 24h).
	MaxAge time.Duration
	// Backoff is the wait after the n-th failed attempt (n from 1); the
	// default is DefaultBackoff.
	Backoff func(n int) time.Duration
	// Now is the clock; tests replace it.
	Now func() time.Time
	// Observer, when set, is told of every attempt.
	Observer Observer
}

// DefaultBackoff waits 5s after the first failure, doubling up to one hour,
// with jitter that spreads each wait over its upper half so that a
// receiver coming back is not hit by every retry at once.
func DefaultBackoff(n int) time.Duration {
	d := 5 * time.Second
	for i := 1; i < n && d < time.Hour; i++ {
		d *= 2
	}
	d = min(d, time.Hour)
	return d/2 + rand.N(d/2+1)
}

// Deliverer sends due webhooks until its Run context ends.
//
// It finds deliveries two ways. Claims lease due ones from the outbox:
// those another process wrote, retries, and leases that ran out. And the
// store hands it the deliveries this process writes, leased to it in the
// insert (outbox.Handoff: Room, Holds, Receive), which spares a claim and
// a lease update per event.
type Deliverer struct {
	q    Queue
	o    Options
	log  hclog.Logger
	wake chan struct{}

	// handed signals deliveries in inbox. mu guards inbox and what the
	// store asks about while Run works: whether it runs, and which
	// deliveries it holds (from claim or hand-over until their result is
	// recorded or they are given back): how many, and their seqs per
	// message.
	handed    chan struct{}
	mu        sync.Mutex
	running   bool
	inbox     []outbox.Delivery
	held      int
	byMessage map[string][]uint64
	// settled remembers the deliveries Run recently recorded finished.
	settled recent[uint64, bool]
	// lastHanded remembers, per message, the last event handed over
	// recently and the status it moved its message to (Knows).
	lastHanded recent[string, handedEvent]
	// leftBehind remembers the messages of which an event was recently
	// left for claims: their held events ask for it when recorded
	// finished (outbox.Result.ClaimNext).
	leftBehind recent[string, bool]
	signer     signer
}

// New returns a Deliverer over q.
func New(q Queue, o Options) *Deliverer {
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 256
	}
	if o.PerAccount <= 0 {
		o.PerAccount = 64
	}
	o.PerAccount = min(o.PerAccount, o.Concurrency)
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	if o.Lease <= 0 {
		o.Lease = 2*o.Timeout + 30*time.Second
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 24 * time.Hour
	}
	if o.Backoff == nil {
		o.Backoff = DefaultBackoff
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Deliverer{q: q, o: o, log: o.Logger.Named("webhook"), wake: make(chan struct{}, 1), handed: make(chan struct{}, 1),
		byMessage: map[string][]uint64{}}
}

// newClient returns a client for requests to the receivers: connections
// through the policy, kept alive idle up to PerAccount per receiver and
// Concurrency in all.
func (d *Deliverer) newClient() *client {
	return newClient(d.o.Egress, d.o.PerAccount, d.o.Concurrency)
}

// maxHeld caps the deliveries handed over and not yet recorded: the cap on
// unrecorded results, so that hand-overs never make a result wait past it.
func (d *Deliverer) maxHeld() int { return d.o.Concurrency + 2*d.o.BatchSize }

// Room is how many more deliveries the deliverer takes by hand-over now,
// of any account (none while it is not running). Past it deliveries are
// left to claims, which other deliverers share.
func (d *Deliverer) Room() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.running {
		return 0
	}
	return d.maxHeld() - d.held
}

// Holds reports whether each of seqs, deliveries of the message, is held
// by the deliverer or was recently recorded finished by it (the store may
// have read them as pending just before that record committed).
func (d *Deliverer) Holds(messageID string, seqs []uint64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	held := d.byMessage[messageID]
	for _, seq := range seqs {
		if !slices.Contains(held, seq) && !d.settled.has(seq) {
			return false
		}
	}
	return true
}

// Knows answers which of the message's older events are pending when its
// new event is written at status before, if the deliverer can tell
// without the database (outbox.Holder.Knows: the proof is there): the
// last event handed over for the message moved it to before, and it is
// still held (the message's held events are then its pending ones) or
// was recorded finished (none is pending).
func (d *Deliverer) Knows(messageID string, before message.Status) ([]uint64, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	last, ok := d.lastHanded.get(messageID)
	if !ok || before == "" || last.status != before {
		return nil, false
	}
	held := d.byMessage[messageID]
	switch {
	case slices.Contains(held, last.seq):
		return slices.Clone(held), true
	case d.settled.has(last.seq):
		return nil, true
	}
	return nil, false
}

// settle notes deliveries recorded finished, before they are counted out.
func (d *Deliverer) settle(seqs []uint64) {
	if len(seqs) == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, seq := range seqs {
		d.settled.put(seq, true)
	}
}

// isSettled reports whether the delivery was recently recorded finished.
func (d *Deliverer) isSettled(seq uint64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.settled.has(seq)
}

// Receive takes what a committed event transaction did (the store's
// outbox.Handoff): the deliveries it leased to the deliverer, which Run
// starts, and, when it left others for claims, a wake-up to claim them at
// once. Taken while Run is not running, deliveries wait for the next Run,
// or for their lease to run out.
func (d *Deliverer) Receive(h outbox.Handed) {
	if len(h.LeftMessages) > 0 {
		d.mu.Lock()
		for _, id := range h.LeftMessages {
			d.leftBehind.put(id, true)
		}
		d.mu.Unlock()
	}
	if len(h.Deliveries) > 0 {
		d.take(h.Deliveries)
	}
	if h.LeftForClaims {
		d.Wake()
	}
}

// take queues deliveries handed over for Run.
func (d *Deliverer) take(cs []outbox.Delivery) {
	d.mu.Lock()
	d.inbox = append(d.inbox, cs...)
	d.holdLocked(cs, 1)
	for _, c := range cs {
		if c.MessageID == "" || c.Status == "" {
			continue
		}
		// Hand-overs of one message may reach the deliverer out of order.
		if old, ok := d.lastHanded.get(c.MessageID); !ok || old.seq < c.Seq {
			d.lastHanded.put(c.MessageID, handedEvent{seq: c.Seq, status: c.Status})
		}
	}
	d.mu.Unlock()
	select {
	case d.handed <- struct{}{}:
	default:
	}
}

// hold counts deliveries in (n 1) or out (n -1).
func (d *Deliverer) hold(cs []outbox.Delivery, n int) {
	if len(cs) == 0 {
		return
	}
	d.mu.Lock()
	d.holdLocked(cs, n)
	d.mu.Unlock()
}

func (d *Deliverer) holdLocked(cs []outbox.Delivery, n int) {
	for _, c := range cs {
		d.held += n
		if c.MessageID == "" {
			continue
		}
		held := d.byMessage[c.MessageID]
		if n > 0 {
			d.byMessage[c.MessageID] = append(held, c.Seq)
			continue
		}
		if i := slices.Index(held, c.Seq); i >= 0 {
			held = slices.Delete(held, i, i+1)
		}
		if len(held) == 0 {
			delete(d.byMessage, c.MessageID)
		} else {
			d.byMessage[c.MessageID] = held
		}
	}
}

// setRunning marks the start and end of Run; at the end it returns what
// waits in the inbox, to be given back.
func (d *Deliverer) setRunning(on bool) []outbox.Delivery {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.running = on
	if on {
		return nil
	}
	in := d.inbox
	d.inbox = nil
	return in
}

// takeInbox returns the deliveries handed over since the last call.
func (d *Deliverer) takeInbox() []outbox.Delivery {
	d.mu.Lock()
	defer d.mu.Unlock()
	in := d.inbox
	d.inbox = nil
	return in
}

// Wake tells the deliverer new events may be due, without blocking.
func (d *Deliverer) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// resetHeld forgets every delivery once Run has recorded or given back
// all of them, but those handed over since it stopped: the next Run takes
// them.
func (d *Deliverer) resetHeld() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.held = 0
	clear(d.byMessage)
	d.holdLocked(d.inbox, 1)
}

// Lease is how long the deliverer's claims hold deliveries, and how long
// those handed over to it are leased for (outbox.Handoff).
func (d *Deliverer) Lease() time.Duration { return d.o.Lease }

// giveBack releases claimed deliveries untried.
func (d *Deliverer) giveBack(ctx context.Context, seqs []uint64) {
	if len(seqs) == 0 {
		return
	}
	if err := d.q.ReleaseWebhooks(ctx, seqs); err != nil && ctx.Err() == nil {
		d.log.Warn("giving back webhooks failed; their lease will run out", "webhooks", len(seqs), "error", err)
	}
}

// sweep sweeps the queue, when it is a Sweeper, until ctx ends.
func (d *Deliverer) sweep(ctx context.Context) {
	sw, ok := d.q.(Sweeper)
	if !ok {
		return
	}
	t := time.NewTicker(sweepInterval(d.o.Lease))
	defer t.Stop()
	for {
		if err := sw.SweepWebhooks(ctx, d.o.Lease); err != nil && ctx.Err() == nil {
			d.log.Error("sweeping webhooks handed to deliverers that died failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// record stores the outcomes' results, whether or not the run is ending: a
// result not stored is a delivery sent again once its lease runs out. It
// also returns the next events of the finished deliveries' messages,
// claimed with the record (none once the run is ending).
func (d *Deliverer) record(ctx context.Context, batch []outcome) (outbox.Recorded, error) {
	lease := d.o.Lease
	if ctx.Err() != nil {
		lease = 0
	}
	results := make([]outbox.Result, len(batch))
	for i, o := range batch {
		results[i] = o.result
	}
	d.askForNext(results)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	rec, err := d.q.RecordWebhookResultsClaimNext(rctx, results, d.o.Now(), lease)
	if err != nil {
		// The leases run out and the events are sent again: at least once.
		d.log.Error("recording webhook attempts failed", "attempts", len(results), "error", err)
	}
	return rec, err
}

// askForNext sets ClaimNext on the results of handed-over deliveries
// whose message had an event left for claims since (claimed ones have it
// from attempt): only those may have a next event waiting for a claim
// that this process knows of.
func (d *Deliverer) askForNext(results []outbox.Result) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i := range results {
		r := &results[i]
		if !r.ClaimNext && r.MessageID != "" && d.leftBehind.has(r.MessageID) {
			r.ClaimNext = true
		}
	}
}

// recordTimeout bounds storing one batch of results.
const recordTimeout = 30 * time.Second

// attempt makes one request for c and decides what becomes of it.
func (d *Deliverer) attempt(ctx context.Context, cl *client, c outbox.Delivery) outbox.Result {
	start := d.o.Now()
	status, reason, detail := d.post(ctx, cl, c)
	end := d.o.Now()
	// A claimed delivery (no status: not handed over) may have events
	// held back behind it that only claims find: its record asks for the
	// next one.
	r := outbox.Result{Seq: c.Seq, MessageID: c.MessageID, Attempts: c.Attempts, At: start, Duration: end.Sub(start), HTTPStatus: status, Error: reason,
		ClaimNext: c.Status == ""}
	ok := reason == ""
	switch {
	case ok:
		r.State = outbox.Delivered
	case ctx.Err() != nil:
		// Stopping is not the receiver's fault: try again as soon as a
		// deliverer runs.
		r.State, r.RetryAt = outbox.Pending, end
	case c.URL == "" || c.Secret == "":
		// The account removed its webhook: nobody to tell.
		r.State = outbox.GaveUp
	default:
		deadline := c.CreatedAt.Add(d.o.MaxAge)
		next := end.Add(d.o.Backoff(c.Attempts))
		switch {
		case !end.Before(deadline):
			r.State = outbox.GaveUp
		case next.After(deadline):
			// One last try at the deadline rather than giving up early.
			r.State, r.RetryAt = outbox.Pending, deadline
		default:
			r.State, r.RetryAt = outbox.Pending, next
		}
	}
	if r.State == outbox.GaveUp {
		d.log.Warn("webhook given up", "event", c.EventID, "type", c.Type, "account", c.AccountID,
			"attempts", c.Attempts, "last_error", reason)
	} else if !ok {
		d.log.Debug("webhook attempt failed", "event", c.EventID, "attempt", c.Attempts, "error", reason, "retry_at", r.RetryAt)
	}
	if detail != nil {
		// What the application is not shown, for the operator: the host
		// only, since a URL's query may carry the application's tokens.
		d.log.Debug("webhook connection failed", "event", c.EventID, "account", c.AccountID, "host", hostOf(c.URL), "detail", detail)
	}
	if d.o.Observer != nil {
		d.o.Observer.ObserveWebhook(c.Type, ok, r.State == outbox.GaveUp, r.Duration)
	}
	return r
}

// post sends c and returns the HTTP status (0 without an answer), why the
// attempt failed ("" when it succeeded), and for a request that got no
// answer the transport's error, for the operator's log only.
//
// The application sees the status of every answer, and a short excerpt of
// 4xx answers only: a receiver's 5xx page may be an internal service's,
// and 2xx and 3xx need no explanation. Every failure to get an answer
// reads the same, whether the connection was refused, reset or timed out,
// so that webhooks cannot be used to tell open ports from closed ones;
// only the policy's refusal is named, for the application to fix its URL.
func (d *Deliverer) post(ctx context.Context, cl *client, c outbox.Delivery) (int, string, error) {
	switch {
	case c.Secret == "":
		return 0, "the account has no webhook configured any more", nil
	case c.URL == "":
		return 0, "the account's webhook URL was removed and the message has no callback_url", nil
	}
	t, err := parseTarget(c.URL)
	if err != nil {
		// url.Error's text repeats the URL, query and all.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, fmt.Sprintf("bad webhook URL: %v", err), nil
	}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	body := []byte(c.Payload)
	ts := d.o.Now().Unix()
	req.Header.SetMethod(fasthttp.MethodPost)
	req.Header.SetContentType("application/json")
	req.Header.SetUserAgent("smsrouter-webhook/1")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, d.signer.sign(c.Secret, ts, body))
	req.Header.Set(HeaderEventID, c.EventID)
	req.Header.Set(HeaderEventType, string(c.Type))
	req.SetBodyRaw(body)
	if err := cl.do(ctx, t, req, resp, d.o.Timeout); err != nil {
		switch {
		case ctx.Err() != nil:
			return 0, "the server stopped during the request", nil
		case egress.IsRefused(err):
			return 0, "refused: the URL's host resolves to no address webhooks may go to; " + notPublic, err
		}
		return 0, fmt.Sprintf("no answer: the connection failed, was closed, or no answer came within %s", d.o.Timeout), err
	}
	code := resp.StatusCode()
	reason := "HTTP " + strconv.Itoa(code)
	switch {
	case code >= 200 && code < 300:
		return code, "", nil
	case code >= 300 && code < 400:
		reason += ": redirects are not followed; set the URL they lead to"
	case code >= 400 && code < 500:
		// A little of a 4xx answer says why it failed.
		snippet := resp.Body()
		snippet = snippet[:min(len(snippet), maxExcerpt)]
		if text := printable(snippet, excerptRunes); text != "" {
			reason += ": " + text
		}
	}
	return code, reason, nil
}

// excerptRunes is how much of a 4xx answer an attempt keeps.
const excerptRunes = 200

// hostOf returns raw's host, for logs.
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}

// printable returns up to n runes of b on one line, for error texts.
func printable(b []byte, n int) string {
	if !utf8.Valid(b) {
		return ""
	}
	s := strings.Join(strings.Fields(string(b)), " ")
	if r := []rune(s); len(r) > n {
		s = string(r[:n]) + "…"
	}
	return s
}

// Try sends c once, now, as an attempt of Run would (signed, through the
// egress policy, with the timeout), and returns its result without
// recording it: for test events, whose answer is shown to whoever asked.
func (d *Deliverer) Try(ctx context.Context, c outbox.Delivery) outbox.Result {
	cl := d.newClient()
	defer cl.close()
	start := d.o.Now()
	status, reason, detail := d.post(ctx, cl, c)
	if detail != nil {
		d.log.Debug("test webhook connection failed", "event", c.EventID, "account", c.AccountID, "host", hostOf(c.URL), "detail", detail)
	}
	return outbox.Result{Seq: c.Seq, Attempts: c.Attempts, At: start, Duration: d.o.Now().Sub(start), HTTPStatus: status, Error: reason}
}
