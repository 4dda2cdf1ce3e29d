package sandbox

import (
	"cmp"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsrouter/smsrouter/sdk"
)

// Version is the sandbox plugin's version, reported in Info.
const Version = "1.0.0"

const (
	// maxRecords bounds the delivery reports kept for QueryStatus once they
	// have been emitted; reports not yet emitted are never dropped.
	maxRecords = 100000
	// maxAttemptsTracked bounds the per-message attempt counters kept for
	// throttled messages that were never sent here again.
	maxAttemptsTracked = 100000
	// throttleRetryAfter is what a simulated throttle asks the host to wait.
	throttleRetryAfter = time.Second
	// Emit retry backoff, doubling from min to max while the host refuses.
	minEmitBackoff = 20 * time.Millisecond
	maxEmitBackoff = 2 * time.Second
	// emitsInFlight bounds the reports emitted and not yet stored. An emit
	// waits for the host's dispatch round and its commit, so under load a
	// smaller bound made the reports of a provider answering at once trail
	// its sends (docs/performance.md, fourth round).
	emitsInFlight = 1024
)

var (
	_ sdk.Provider        = (*Provider)(nil)
	_ sdk.EventSource     = (*Provider)(nil)
	_ sdk.HealthChecker   = (*Provider)(nil)
	_ sdk.BalanceReporter = (*Provider)(nil)
	_ sdk.SenderIDLister  = (*Provider)(nil)
	_ sdk.StatusQuerier   = (*Provider)(nil)
)

var (
	errNotConfigured = errors.New("sandbox provider is not configured: Configure must be called first")
	errClosed        = errors.New("sandbox provider is closed")
)

// Provider is the simulated provider. The zero value is not usable; call New.
type Provider struct {
	closed    chan struct{} // closed by Close; aborts latency waits
	maxBatch  atomic.Int64  // read by Info without the lock
	closeOnce sync.Once

	mu         sync.Mutex
	cfg        settings
	configured bool
	isClosed   bool
	logger     hclog.Logger
	name       string
	// attempts counts earlier Temporary answers per message id, so a
	// throttled message retried later gets a fresh draw.
	attempts map[string]int
	// records holds every accepted message by provider id.
	records map[string]*record
	// byFate maps a message's fate key to the provider id it was accepted
	// under, so a message sent again gets the same id.
	byFate map[string]string
	// due orders the reports not yet emitted by due time.
	due reportHeap
	// emittedOrder lists emitted records oldest first, for eviction.
	emittedOrder []string
	// receipts records acceptances on disk when receipts_dir is set.
	receipts *receiptBook
	// outbox keeps the latest accepted messages for admins to read.
	outbox *outbox
	// changed is closed and replaced whenever a report is scheduled, waking
	// every Events loop.
	changed chan struct{}
	// Events loops running now, and how Close stops and awaits them.
	eventLoops   map[int]context.CancelFunc
	nextLoopID   int
	loopsStopped chan struct{}
}

// record is one accepted message and its single delivery report.
type record struct {
	providerID string
	fateKey    string
	acceptedAt time.Time
	dueAt      time.Time
	final      sdk.StatusEvent
}

// New returns an unconfigured sandbox provider with default settings.
func New() *Provider {
	p := &Provider{
		closed:     make(chan struct{}),
		cfg:        defaultSettings(),
		logger:     hclog.NewNullLogger(),
		attempts:   map[string]int{},
		records:    map[string]*record{},
		byFate:     map[string]string{},
		changed:    make(chan struct{}),
		eventLoops: map[int]context.CancelFunc{},
		outbox:     newOutbox(defaultOutboxSize),
	}
	p.maxBatch.Store(int64(p.cfg.maxBatchSize))
	return p
}

// Info describes the sandbox plugin.
func (p *Provider) Info() sdk.Info {
	return sdk.Info{Name: "sandbox", Version: Version, MaxBatchSize: int(p.maxBatch.Load())}
}

// Configure applies the JSON settings described in the package documentation.
func (p *Provider) Configure(ctx context.Context, cfg sdk.Config) error {
	s, err := parseSettings(cfg.Settings)
	if err != nil {
		return fmt.Errorf("configure sandbox provider %q: %w", cfg.Name, err)
	}
	logger := cfg.Log()
	var book *receiptBook
	if s.receiptsDir != "" {
		if book, err = openReceiptBook(s.receiptsDir, s.dedupeByMessageID); err != nil {
			return fmt.Errorf("configure sandbox provider %q: %w", cfg.Name, err)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.isClosed {
		if book != nil {
			_ = book.close()
		}
		return errClosed
	}
	if p.receipts != nil {
		_ = p.receipts.close()
	}
	p.receipts = book
	if len(p.outbox.ring) != s.outboxSize {
		p.outbox = newOutbox(s.outboxSize)
	}
	p.cfg = s
	p.configured = true
	p.logger = logger
	p.name = cfg.Name
	p.maxBatch.Store(int64(s.maxBatchSize))
	logger.Info("sandbox provider configured",
		"accept_latency", s.acceptLatency.String(), "failure_ratio", s.failureRatio,
		"reject_ratio", s.rejectRatio, "delivery_ratio", s.deliveryRatio,
		"dlr_delay", s.dlrDelay.String(), "seed", s.seed, "max_batch_size", s.maxBatchSize,
		"reject_numbers", len(s.rejectNumbers), "receipts_dir", s.receiptsDir, "dedupe_by_message_id", s.dedupeByMessageID,
		"outbox_size", s.outboxSize)
	return nil
}

// Send simulates submitting the batch: it waits accept_latency once for the
// whole batch, then answers every message according to its fate.
func (p *Provider) Send(ctx context.Context, msgs []sdk.Message) ([]sdk.SendResult, error) {
	p.mu.Lock()
	cfg, configured, closed := p.cfg, p.configured, p.isClosed
	p.mu.Unlock()
	switch {
	case closed:
		return nil, errClosed
	case !configured:
		return nil, errNotConfigured
	case len(msgs) > cfg.maxBatchSize:
		return nil, fmt.Errorf("sandbox send: batch of %d messages exceeds max_batch_size %d", len(msgs), cfg.maxBatchSize)
	case cfg.down:
		return unavailable(msgs), nil
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sandbox send: %w", err)
	}
	if cfg.acceptLatency > 0 {
		t := time.NewTimer(cfg.acceptLatency)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("sandbox send: %w", ctx.Err())
		case <-p.closed:
			t.Stop()
			return nil, errClosed
		case <-t.C:
		}
		// Both may be ready at once; a cancelled caller must never see
		// Accepted results.
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("sandbox send: %w", err)
		}
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.isClosed {
		return nil, errClosed
	}
	now := time.Now()
	results := make([]sdk.SendResult, len(msgs))
	scheduled := false
	for i, m := range msgs {
		results[i] = p.decideLocked(m, now, &scheduled)
	}
	if scheduled {
		close(p.changed)
		p.changed = make(chan struct{})
	}
	return results, nil
}

// unavailable answers every message of a batch the way a provider whose
// upstream is down does: nothing wrong with them, try elsewhere.
func unavailable(msgs []sdk.Message) []sdk.SendResult {
	results := make([]sdk.SendResult, len(msgs))
	for i, m := range msgs {
		results[i] = sdk.Unavailable(m.ID, "sandbox: tuned down (simulated outage)").WithCode("DOWN")
	}
	return results
}

// decideLocked answers one message and, when accepted, schedules its report.
func (p *Provider) decideLocked(m sdk.Message, now time.Time, scheduled *bool) sdk.SendResult {
	cfg := p.cfg
	res := sdk.SendResult{MessageID: m.ID}
	if !e164Pattern.MatchString(m.To) {
		res.Outcome, res.Code, res.Refusal = sdk.Permanent, "INVALID_DESTINATION", sdk.RefusalInvalidDestination
		res.Reason = fmt.Sprintf("invalid destination %q: not an E.164 number", m.To)
		return res
	}
	if cfg.rejectNumbers[m.To] {
		res.Outcome, res.Code, res.Reason, res.Refusal = sdk.Permanent, "INVALID_DESTINATION", "invalid destination", sdk.RefusalInvalidDestination
		return res
	}
	f := fateOf(cfg.seed, m.ID, p.attempts[m.ID])
	switch {
	case f.sendDraw < cfg.failureRatio:
		if len(p.attempts) >= maxAttemptsTracked {
			clear(p.attempts)
		}
		p.attempts[m.ID]++
		res = sdk.RetryAfter(m.ID, throttleRetryAfter, "sandbox: simulated throttling, retry later")
		res.Code = "THROTTLED"
		return res
	case f.sendDraw < cfg.failureRatio+cfg.rejectRatio:
		delete(p.attempts, m.ID)
		res.Outcome, res.Code, res.Refusal = sdk.Permanent, "REJECTED", sdk.RefusalRejected
		res.Reason = "sandbox: simulated rejection by the provider"
		return res
	}
	attempt := p.attempts[m.ID]
	delete(p.attempts, m.ID)
	res.Outcome, res.Code = sdk.Accepted, "OK"
	if m.From == "" {
		res.Sender = cfg.defaultSender()
	}
	if id, dup := p.byFate[f.providerID]; dup {
		// The same message sent again (a host retry after a lost answer):
		// like a real provider deduplicating by client reference, answer
		// the same id and report once.
		res.ProviderMessageID = id
		return p.receipted(res, now, true)
	}
	providerID := providerIDFor(f, attempt, now, m.ID)
	if p.receipts != nil && p.receipts.dedupe {
		first, won, err := p.receipts.claim(m.ID, providerID)
		if err != nil {
			return p.receiptFailed(m.ID, err)
		}
		if !won {
			// Another process accepted it first (possibly in the same
			// millisecond, so with the same id: winning the claim, not the
			// id, tells). Its report is scheduled
			// here too, in case that process is gone; both emit the same
			// event id, which the host stores once.
			res.ProviderMessageID = first
			if r, ok := p.reconstruct(first); ok && p.records[first] == nil {
				p.schedule(r)
				*scheduled = true
			}
			return p.receipted(res, now, true)
		}
	}
	res.ProviderMessageID = providerID
	if res = p.receipted(res, now, false); res.Outcome != sdk.Accepted {
		return res
	}
	p.recordSent(m, providerID, cmp.Or(m.From, res.Sender), now)
	r := &record{providerID: providerID, fateKey: f.providerID, acceptedAt: now, dueAt: now.Add(cfg.dlrDelay)}
	r.final = finalReport(f, cfg, r.providerID, r.dueAt)
	p.schedule(r)
	*scheduled = true
	return res
}

// schedule remembers an accepted message and queues its report.
func (p *Provider) schedule(r *record) {
	p.byFate[r.fateKey] = r.providerID
	p.records[r.providerID] = r
	heap.Push(&p.due, r)
}

// receipted writes the receipt of an acceptance, when receipts are on,
// before Send answers. A receipt that cannot be written turns the answer
// into a temporary failure: the sandbox could not vouch for it.
func (p *Provider) receipted(res sdk.SendResult, now time.Time, repeat bool) sdk.SendResult {
	if p.receipts == nil {
		return res
	}
	r := Receipt{MessageID: res.MessageID, ProviderMessageID: res.ProviderMessageID, AcceptedAt: now, Repeat: repeat}
	if err := p.receipts.write(r); err != nil {
		return p.receiptFailed(res.MessageID, err)
	}
	return res
}

func (p *Provider) receiptFailed(messageID string, err error) sdk.SendResult {
	p.logger.Error("sandbox could not record an acceptance; answering temporary failure", "message_id", messageID, "error", err)
	// The sandbox itself cannot take messages now, whatever they are.
	res := sdk.Unavailable(messageID, "sandbox: could not write the receipt: "+err.Error())
	res.Code, res.RetryAfter = "RECEIPTS_UNAVAILABLE", throttleRetryAfter
	return res
}

// Events emits each accepted message's delivery report once its dlr_delay
// has passed. A report the host refuses stays queued and is offered again
// with backoff, here or in a later Events call; nothing is dropped. Up to
// emitsInFlight reports are emitted at once, so that the host can store
// them together instead of a commit each.
func (p *Provider) Events(ctx context.Context, emit sdk.EmitFunc) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	id, err := p.startLoop(cancel)
	if err != nil {
		return err
	}
	defer p.stopLoop(id)
	var wg sync.WaitGroup
	defer wg.Wait() // before stopLoop: Close waits for the emits too

	var (
		bmu     sync.Mutex
		backoff time.Duration // grows while the host refuses reports
		pause   time.Time     // no emits before it
	)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	slots := make(chan struct{}, emitsInFlight)
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		now := time.Now()
		bmu.Lock()
		wait := pause.Sub(now)
		bmu.Unlock()
		var r *record
		var changed <-chan struct{}
		if wait <= 0 {
			r, wait, changed = p.nextReport(now)
		}
		if r == nil {
			<-slots
			if wait > 0 {
				timer.Reset(wait)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-changed: // nil while pausing: only the timer ends it
			case <-timer.C:
			}
			timer.Stop()
			continue
		}
		wg.Go(func() {
			defer func() { <-slots }()
			st := r.final // the host may keep the pointer; the record stays ours
			ev := sdk.Event{ID: r.providerID + ":" + string(st.Status), Status: &st}
			if err := emit(ctx, ev); err != nil {
				p.requeue(r)
				if ctx.Err() != nil {
					return
				}
				bmu.Lock()
				// Refusals of reports emitted side by side are one episode:
				// only a refusal after the pause ended backs off further.
				if now := time.Now(); !now.Before(pause) {
					backoff = min(max(2*backoff, minEmitBackoff), maxEmitBackoff)
					pause = now.Add(backoff)
				}
				retry := backoff
				bmu.Unlock()
				p.log().Warn("host did not store a delivery report; will offer it again",
					"event_id", ev.ID, "retry_in", retry, "error", err)
				return
			}
			bmu.Lock()
			backoff = 0
			bmu.Unlock()
			p.markEmitted(r)
		})
	}
}

func (p *Provider) log() hclog.Logger {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logger
}

func (p *Provider) startLoop(cancel context.CancelFunc) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.isClosed:
		return 0, errClosed
	case !p.configured:
		return 0, errNotConfigured
	}
	p.nextLoopID++
	p.eventLoops[p.nextLoopID] = cancel
	return p.nextLoopID, nil
}

func (p *Provider) stopLoop(id int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.eventLoops, id)
	if len(p.eventLoops) == 0 && p.loopsStopped != nil {
		close(p.loopsStopped)
		p.loopsStopped = nil
	}
}

// nextReport takes the earliest due report, or says how long until one is
// due (0: none scheduled) and returns the channel that signals a new one.
func (p *Provider) nextReport(now time.Time) (*record, time.Duration, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.due) == 0 {
		return nil, 0, p.changed
	}
	r := p.due[0]
	if wait := r.dueAt.Sub(now); wait > 0 {
		return nil, wait, p.changed
	}
	heap.Pop(&p.due)
	return r, 0, p.changed
}

// requeue puts back a report the host refused and wakes the Events loops,
// which may be waiting for a report to fall due.
func (p *Provider) requeue(r *record) {
	p.mu.Lock()
	defer p.mu.Unlock()
	heap.Push(&p.due, r)
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *Provider) markEmitted(r *record) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.emittedOrder = append(p.emittedOrder, r.providerID)
	for len(p.records) > maxRecords && len(p.emittedOrder) > 0 {
		if old := p.records[p.emittedOrder[0]]; old != nil {
			delete(p.byFate, old.fateKey)
		}
		delete(p.records, p.emittedOrder[0])
		p.emittedOrder = p.emittedOrder[1:]
	}
}

// QueryStatus answers "sent" until a message's dlr_delay has passed, then its
// final status, whether or not the report was emitted yet. Like a real
// upstream, it remembers messages this process never saw: the provider id
// carries what is needed to recompute them, so reports lost with a crashed
// plugin process can be recovered by polling.
func (p *Provider) QueryStatus(ctx context.Context, providerMessageIDs []string) ([]sdk.StatusEvent, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	out := make([]sdk.StatusEvent, 0, len(providerMessageIDs))
	for _, id := range providerMessageIDs {
		r, ok := p.records[id]
		if !ok {
			if r, ok = p.reconstruct(id); !ok {
				continue
			}
		}
		if now.Before(r.dueAt) {
			out = append(out, sdk.StatusEvent{ProviderMessageID: id, Status: sdk.StatusSent, ProviderStatus: "ENROUTE", At: r.acceptedAt})
			continue
		}
		out = append(out, r.final)
	}
	return out, nil
}

// Health reports the simulated link: up once configured, down after Close.
func (p *Provider) Health(ctx context.Context) (sdk.Health, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.isClosed:
		return sdk.Health{OK: false, Detail: "closed"}, nil
	case !p.configured:
		return sdk.Health{OK: false, Detail: "not configured"}, nil
	case p.cfg.down:
		return sdk.Health{OK: false, Detail: "tuned down (simulated outage)", RefuseWhileDown: p.cfg.refuseWhileDown}, nil
	}
	return sdk.Health{OK: true, Detail: fmt.Sprintf("simulated upstream, %d delivery reports waiting", len(p.due))}, nil
}

// Balance reports the configured balance; the simulation never spends it.
func (p *Provider) Balance(ctx context.Context) (sdk.Balance, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cfg.balance, nil
}

// SenderIDs lists the configured sender ids.
func (p *Provider) SenderIDs(ctx context.Context) ([]sdk.SenderID, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]sdk.SenderID(nil), p.cfg.senderIDs...), nil
}

// Close stops every Events loop and waits for them to return (or for ctx to
// end). Reports not yet emitted are dropped with the process.
func (p *Provider) Close(ctx context.Context) error {
	p.closeOnce.Do(func() { close(p.closed) })
	p.mu.Lock()
	p.isClosed = true
	if p.receipts != nil {
		// Every receipt is already written; Send refuses from here on.
		_ = p.receipts.close()
		p.receipts = nil
	}
	var stopped chan struct{}
	if len(p.eventLoops) > 0 {
		if p.loopsStopped == nil {
			p.loopsStopped = make(chan struct{})
		}
		stopped = p.loopsStopped
		for _, cancel := range p.eventLoops {
			cancel()
		}
	}
	pending := len(p.due)
	logger := p.logger
	p.mu.Unlock()
	if pending > 0 {
		logger.Info("sandbox provider closing with delivery reports not yet emitted", "pending", pending)
	}
	if stopped == nil {
		return nil
	}
	select {
	case <-stopped:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close sandbox provider: waiting for event loops: %w", ctx.Err())
	}
}

// reportHeap orders records by due time.
type reportHeap []*record

func (h reportHeap) Len() int           { return len(h) }
func (h reportHeap) Less(i, j int) bool { return h[i].dueAt.Before(h[j].dueAt) }
func (h reportHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *reportHeap) Push(x any)        { *h = append(*h, x.(*record)) }
func (h *reportHeap) Pop() any {
	old := *h
	n := len(old)
	r := old[n-1]
	old[n-1] = nil
	*h = old[:n-1]
	return r
}
