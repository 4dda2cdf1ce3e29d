package smpp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"

	"github.com/smsrouter/smsrouter/sdk"
)

// Version is the plugin's own version, reported in Info.
const Version = "0.1.0"

const (
	// queueDepth is how many parts may wait for a window slot before Send
	// blocks; several full batches.
	queueDepth = 8192
	// inboundDepth is how many deliver_sm may wait for an emit slot;
	// past it the session's reader waits, so the SMSC's writes wait on
	// TCP: back-pressure the SMSC handles, where refusing with
	// ESME_RX_T_APPN made it send each receipt again and again.
	inboundDepth = 4096
	// maxEmits bounds the events handed to the host and not yet stored.
	// Emits are not a pool of a fixed size: every receipt that arrives is
	// emitted at once, so the host gathers what arrived during one commit
	// into the next (its group commit is the window that adapts to what
	// the database takes), and this only caps memory when the host falls
	// far behind.
	maxEmits = 8192
	// maxTransientRetries is how often a part answered queue-full or
	// system-error is tried again here before the host is told Temporary.
	maxTransientRetries = 3
	// maxLateAccepted bounds the ids remembered for messages accepted after
	// Send gave up on them.
	maxLateAccepted = 10000
	// transientPause holds a bind back after queue-full or system-error.
	transientPause = 100 * time.Millisecond
	// throttleBackoff and throttleBackoffMax space the submits of one part
	// the SMSC keeps answering ESME_RTHROTTLED: the wait doubles from the
	// first up to the second, while other parts go first.
	throttleBackoff    = 100 * time.Millisecond
	throttleBackoffMax = 5 * time.Second
	// maxDrops is how often a part may be in flight when the connection
	// drops before it is answered Temporary instead of being sent again:
	// an SMSC that falls over on one message would otherwise be made to
	// fall over on every bind, for ever, and the message would never go
	// to another provider.
	maxDrops = 3
	// codeConnectionDropped is the result code of a part held back after
	// maxDrops.
	codeConnectionDropped = "CONNECTION_DROPPED"
)

var (
	_ sdk.Provider      = (*Provider)(nil)
	_ sdk.EventSource   = (*Provider)(nil)
	_ sdk.HealthChecker = (*Provider)(nil)

	errNotConfigured = errors.New("smpp provider is not configured: Configure must be called first")
	errClosed        = errors.New("smpp provider is closed")
)

// Provider is the SMPP 3.4 provider. Use New.
type Provider struct {
	maxBatch atomic.Int64
	logger   hclog.Logger
	cfg      settings
	name     string
	norm     idNormaliser

	configured atomic.Bool
	closing    chan struct{}
	closeOnce  sync.Once
	cancel     context.CancelFunc
	wg         sync.WaitGroup // supervisors

	queue    chan *part
	retryMu  sync.Mutex
	retry    []*part
	retrySig chan struct{}
	// deferred holds throttled parts until their own backoff passes (under
	// retryMu); they go behind the line, not at its head.
	deferred []*part

	inbound chan inboundPDU
	// maxEmits is maxEmits; tests lower it.
	maxEmits int

	slotsMu sync.Mutex
	slots   []*slot

	lateMu sync.Mutex
	late   map[string]string // message id → provider id, accepted after Send gave up

	groups *groupTable
	mo     *assembler
	refNum atomic.Uint32

	// now is the clock validity periods are computed with; tests set it.
	now func() time.Time
}

// New returns an unconfigured SMPP provider.
func New() *Provider {
	p := &Provider{
		logger:   hclog.NewNullLogger(),
		cfg:      defaultSettings(),
		closing:  make(chan struct{}),
		queue:    make(chan *part, queueDepth),
		retrySig: make(chan struct{}, 1),
		inbound:  make(chan inboundPDU, inboundDepth),
		maxEmits: maxEmits,
		late:     map[string]string{},
		groups:   newGroupTable(),
		mo:       newAssembler(),
		now:      time.Now,
	}
	p.maxBatch.Store(int64(p.cfg.MaxBatchSize))
	return p
}

// Info describes the plugin.
func (p *Provider) Info() sdk.Info {
	return sdk.Info{Name: "smpp", Version: Version, MaxBatchSize: int(p.maxBatch.Load())}
}

// slot is one configured bind and its current session, reconnected with
// backoff for the provider's life.
type slot struct {
	kind     uint32
	index    int
	mu       sync.Mutex
	sess     *session
	lastErr  error
	attempts int
	first    chan struct{} // closed after the first bind attempt
}

func (sl *slot) state() (*session, error) {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	return sl.sess, sl.lastErr
}

// Configure checks the settings and starts binding. It waits for each
// bind's first attempt (bounded by ctx) so a Send right after it finds the
// link up, but a refused bind does not fail Configure: Health reports it and
// the bind keeps retrying, because an SMSC that is down at start-up usually
// comes back.
func (p *Provider) Configure(ctx context.Context, cfg sdk.Config) error {
	s, err := parseSettings(cfg.Settings)
	if err != nil {
		return fmt.Errorf("configure smpp provider %q: %w", cfg.Name, err)
	}
	select {
	case <-p.closing:
		return errClosed
	default:
	}
	if !p.configured.CompareAndSwap(false, true) {
		return fmt.Errorf("configure smpp provider %q: already configured", cfg.Name)
	}
	p.logger = cfg.Log()
	p.cfg, p.name = s, cfg.Name
	p.norm = idNormaliser{resp: s.RespIDFormat, receipt: s.ReceiptIDFormat}
	p.maxBatch.Store(int64(s.MaxBatchSize))

	runCtx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	kinds := []uint32{cmdBindTransceiver}
	if s.BindMode == bindTransmitterReceiver {
		kinds = []uint32{cmdBindTransmitter, cmdBindReceiver}
	}
	ceiling := 0.0
	if s.TPS > 0 {
		ceiling = float64(s.TPS) / float64(s.Binds)
	}
	p.slotsMu.Lock()
	for i := 0; i < s.Binds; i++ {
		for _, k := range kinds {
			sl := &slot{kind: k, index: i, first: make(chan struct{})}
			p.slots = append(p.slots, sl)
			p.wg.Add(1)
			go p.supervise(runCtx, sl, ceiling)
		}
	}
	slots := append([]*slot(nil), p.slots...)
	p.slotsMu.Unlock()
	p.logger.Info("smpp provider configured", "smsc", s.addr(), "tls", s.TLS, "system_id", s.SystemID,
		"bind_mode", s.BindMode, "binds", s.Binds, "window", s.Window, "tps", s.TPS,
		"long_message", s.LongMessage, "resp_id_format", s.RespIDFormat, "receipt_id_format", s.ReceiptIDFormat,
		"validity_period", s.ValidityPeriod)
	wait, stop := context.WithTimeout(ctx, 2*s.responseTimeout)
	defer stop()
	for _, sl := range slots {
		select {
		case <-sl.first:
		case <-wait.Done():
			return nil
		}
	}
	return nil
}

// supervise keeps one bind up: bind, run until the session dies, back off,
// bind again. Wrong credentials wait the longest backoff, since they only
// change when an operator acts.
func (p *Provider) supervise(ctx context.Context, sl *slot, ceiling float64) {
	defer p.wg.Done()
	backoff := p.cfg.reconnectBackoff
	firstDone := false
	markFirst := func() {
		if !firstDone {
			firstDone = true
			close(sl.first)
		}
	}
	defer markFirst()
	for {
		if ctx.Err() != nil {
			return
		}
		s, err := p.dial(ctx, sl.kind, ceiling)
		if err != nil {
			sl.mu.Lock()
			sl.lastErr, sl.sess = err, nil
			sl.attempts++
			sl.mu.Unlock()
			markFirst()
			wait := backoff
			var be bindError
			if errors.As(err, &be) && be.credentials() {
				wait = p.cfg.reconnectMax
			}
			p.logger.Error("smpp bind failed", "bind", bindName(sl), "error", err, "retry_in", wait.String())
			if !sleepCtx(ctx, wait) {
				return
			}
			backoff = min(backoff*2, p.cfg.reconnectMax)
			continue
		}
		backoff = p.cfg.reconnectBackoff
		sl.mu.Lock()
		sl.sess, sl.lastErr = s, nil
		sl.mu.Unlock()
		markFirst()
		p.logger.Info("smpp bound", "bind", bindName(sl), "smsc", p.cfg.addr())
		err = s.run(ctx)
		sl.mu.Lock()
		sl.sess, sl.lastErr = nil, err
		sl.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		p.logger.Warn("smpp session ended; binding again", "bind", bindName(sl), "error", err, "retry_in", backoff.String())
		if !sleepCtx(ctx, backoff) {
			return
		}
	}
}

func bindName(sl *slot) string {
	k := map[uint32]string{cmdBindTransceiver: "trx", cmdBindTransmitter: "tx", cmdBindReceiver: "rx"}[sl.kind]
	return fmt.Sprintf("%s-%d", k, sl.index+1)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Health reports whether a bind that can submit is up, and the last error of
// each bind that is not.
func (p *Provider) Health(ctx context.Context) (sdk.Health, error) {
	if !p.configured.Load() {
		return sdk.Health{}, errNotConfigured
	}
	p.slotsMu.Lock()
	slots := append([]*slot(nil), p.slots...)
	p.slotsMu.Unlock()
	up, canSend := 0, false
	var problems []string
	for _, sl := range slots {
		s, err := sl.state()
		switch {
		case s != nil:
			up++
			if s.transmits() {
				canSend = true
			}
			if limit, n := s.pacer.current(); n > 0 && limit > 0 {
				problems = append(problems, fmt.Sprintf("%s throttled by the SMSC %d times, pacing at %.0f/s", bindName(sl), n, limit))
			}
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s: %v", bindName(sl), err))
		default:
			problems = append(problems, bindName(sl)+": connecting")
		}
	}
	detail := fmt.Sprintf("bound %d/%d to %s", up, len(slots), p.cfg.addr())
	if len(problems) > 0 {
		detail += "; " + strings.Join(problems, "; ")
	}
	return sdk.Health{OK: canSend, Detail: detail}, nil
}

// canSend reports whether some bind may submit now, and why not.
func (p *Provider) canSend() (bool, error) {
	p.slotsMu.Lock()
	defer p.slotsMu.Unlock()
	var last error
	for _, sl := range p.slots {
		s, err := sl.state()
		if s != nil && s.transmits() {
			return true, nil
		}
		if err != nil {
			last = err
		}
	}
	return false, last
}

// Close unbinds every session (after their outstanding answers, bounded by
// ctx) and stops every goroutine.
func (p *Provider) Close(ctx context.Context) error {
	p.closeOnce.Do(func() {
		close(p.closing)
		if p.cancel == nil {
			return
		}
		p.slotsMu.Lock()
		slots := append([]*slot(nil), p.slots...)
		p.slotsMu.Unlock()
		unbindCtx, stop := context.WithTimeout(ctx, min(2*time.Second, p.cfg.responseTimeout))
		var wg sync.WaitGroup
		for _, sl := range slots {
			if s, _ := sl.state(); s != nil {
				wg.Add(1)
				go func() { defer wg.Done(); s.unbind(unbindCtx) }()
			}
		}
		wg.Wait()
		stop()
		p.cancel()
		p.wg.Wait()
	})
	return nil
}

// --- submission ---

// part is one submit_sm of a message.
type part struct {
	req   *request
	index int
	pdu   []byte // marshalled submit_sm; the sequence number is patched per send
	// vpAt is where the validity_period's 16 characters are in pdu, patched
	// per send; 0 when the submit carries none.
	vpAt int

	mu        sync.Mutex
	state     int // partQueued, partInflight, partDone, partCancelled
	abandoned bool
	transient int
	// throttles counts ESME_RTHROTTLED answers; notBefore is when the part
	// may be submitted again after the last one.
	throttles int
	notBefore time.Time
	// drops counts connections that ended while the part was in flight; a
	// part with drops goes out alone (see session.submitLoop).
	drops   int
	status  uint32
	id      string // canonical provider id when accepted
	outcome sdk.Outcome
	reason  string
	code    string // result code when not the command_status
}

const (
	partQueued = iota
	partInflight
	partDone
	partCancelled
)

// request is one message of a Send call.
type request struct {
	msg     sdk.Message
	parts   []*part
	b       *batch
	mu      sync.Mutex
	settled int
	counted bool // in groupTable.pending
}

// batch is one Send call waiting for its parts.
type batch struct {
	left atomic.Int64
	done chan struct{}
	// deadline is when Send gives up (queue_timeout or the host's
	// deadline, whichever comes first).
	deadline time.Time
}

func (pt *part) claim() bool {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	if pt.state != partQueued {
		return false
	}
	pt.state = partInflight
	return true
}

// frame copies the submit_sm with its sequence number and validity period
// (from validityPeriod, written only when the submit has room for one).
func (pt *part) frame(seq uint32, validity string) []byte {
	b := make([]byte, len(pt.pdu))
	copy(b, pt.pdu)
	b[12], b[13], b[14], b[15] = byte(seq>>24), byte(seq>>16), byte(seq>>8), byte(seq)
	if pt.vpAt > 0 && len(validity) == len(validityPlaceholder) {
		copy(b[pt.vpAt:], validity)
	}
	return b
}

// requeue puts a part that was sent but never answered back in line; a
// part whose Send already gave up is dropped instead.
func (p *Provider) requeue(pt *part) {
	if pt.backInLine(time.Time{}) {
		p.putBack(pt)
	}
}

// backInLine makes an unanswered part queued again, not before notBefore;
// false (and the part cancelled) when its Send already gave up on it.
func (pt *part) backInLine(notBefore time.Time) bool {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	if pt.state != partInflight || pt.abandoned {
		if pt.state == partInflight {
			pt.state = partCancelled
		}
		return false
	}
	pt.state, pt.notBefore = partQueued, notBefore
	return true
}

// suspect reports whether the part was in flight when a connection dropped.
func (pt *part) suspect() bool {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	return pt.drops > 0
}

// dropped handles a part that was in flight when its connection ended for
// cause: it is sent again, until it has been in flight for maxDrops drops;
// then it is answered Temporary so that the host can try another provider.
func (p *Provider) dropped(pt *part, cause error) {
	pt.mu.Lock()
	pt.drops++
	n := pt.drops
	if n >= maxDrops {
		pt.code = codeConnectionDropped
	}
	pt.mu.Unlock()
	if n < maxDrops {
		p.requeue(pt)
		return
	}
	p.logger.Warn("the SMSC dropped the connection each time this message was in flight; not sending it again on this provider",
		"message", pt.req.msg.ID, "part", pt.index+1, "drops", n, "last_error", cause)
	p.settle(pt, 0, sdk.Temporary, "", fmt.Sprintf("the connection to the SMSC ended %d times while this message was in flight (last: %v); "+
		"held back so that it does not bring the link down again", n, cause))
}

// putBack puts a queued part at the front of the line.
func (p *Provider) putBack(pt *part) {
	p.retryMu.Lock()
	p.retry = append(p.retry, pt)
	p.retryMu.Unlock()
	p.wakeSubmitter()
}

// wakeSubmitter tells one waiting submitter that a part is back in line.
func (p *Provider) wakeSubmitter() {
	select {
	case p.retrySig <- struct{}{}:
	default:
	}
}

// deferUntil puts a throttled part behind the line until at.
func (p *Provider) deferUntil(pt *part, at time.Time) {
	if !pt.backInLine(at) {
		return
	}
	p.retryMu.Lock()
	p.deferred = append(p.deferred, pt)
	p.retryMu.Unlock()
	p.wakeSubmitter()
}

// nextPart returns the next part to submit: parts whose bind died first,
// then throttled parts whose backoff has passed, then the line. A throttled
// part waiting for its backoff never holds up the others.
func (p *Provider) nextPart(dead <-chan struct{}) *part {
	var wake *time.Timer
	defer func() {
		if wake != nil {
			wake.Stop()
		}
	}()
	for {
		pt, next := p.takeRetry(time.Now())
		if pt != nil {
			return pt
		}
		var wakeC <-chan time.Time
		if !next.IsZero() {
			if wake == nil {
				wake = time.NewTimer(time.Until(next))
			} else {
				wake.Reset(time.Until(next))
			}
			wakeC = wake.C
		}
		select {
		case pt := <-p.queue:
			return pt
		case <-p.retrySig:
		case <-wakeC:
		case <-dead:
			return nil
		}
	}
}

// takeRetry takes the first part to send again, or reports when the
// earliest deferred part becomes due (zero when none waits).
func (p *Provider) takeRetry(now time.Time) (*part, time.Time) {
	p.retryMu.Lock()
	defer p.retryMu.Unlock()
	if len(p.retry) > 0 {
		pt := p.retry[0]
		p.retry[0] = nil
		p.retry = p.retry[1:]
		if len(p.retry) > 0 {
			p.wakeSubmitter()
		}
		return pt, time.Time{}
	}
	var next time.Time
	for i, pt := range p.deferred {
		pt.mu.Lock()
		at := pt.notBefore
		pt.mu.Unlock()
		if !at.After(now) {
			p.deferred = append(p.deferred[:i], p.deferred[i+1:]...)
			return pt, time.Time{}
		}
		if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	return nil, next
}

// answered applies a submit_sm_resp to its part.
func (p *Provider) answered(s *session, pt *part, status uint32, id string) {
	now := time.Now()
	switch status {
	case statusOK:
		s.pacer.succeeded(now)
		if id == "" {
			// Some SMSCs answer without an id; receipts cannot match then,
			// but the message was taken and must not be sent again.
			id = fmt.Sprintf("noid-%s-%d", pt.req.msg.ID, pt.index)
			p.logger.Warn("SMSC accepted a submit without a message_id; its receipt cannot be matched", "message", pt.req.msg.ID)
		} else {
			id = p.norm.fromResp(id)
		}
		p.settle(pt, status, sdk.Accepted, id, "")
		return
	case statusThrottled:
		pt.mu.Lock()
		pt.throttles++
		n := pt.throttles
		pt.mu.Unlock()
		// The link slows down once per part: an SMSC that refuses one
		// message over and over (a per-destination limit) must not drag
		// the bind's rate down with it.
		if n == 1 {
			s.pacer.throttled(now)
		}
		again := now.Add(throttleWait(n))
		if again.After(pt.req.b.deadline) {
			// Send would give up before the next try: say so now, with
			// what the SMSC answered.
			p.settle(pt, status, sdk.Temporary, "", fmt.Sprintf("%s to each of %d tries; the next try would come after Send gives up",
				describeStatus(status), n))
			return
		}
		p.deferUntil(pt, again)
		return
	case statusInvBindStat:
		p.requeue(pt)
		s.die(errors.New("SMSC says the session is not bound for submitting (ESME_RINVBNDSTS); binding again"))
		return
	case statusQueueFull, statusSysErr:
		s.pacer.pause(now, transientPause)
		pt.mu.Lock()
		pt.transient++
		again := pt.transient < maxTransientRetries
		pt.mu.Unlock()
		if again {
			p.requeue(pt)
			return
		}
		p.settle(pt, status, sdk.Temporary, "", describeStatus(status)+" after retries")
		return
	}
	p.settle(pt, status, sdk.Permanent, "", describeStatus(status))
}

// throttleWait is how long a part waits after its nth ESME_RTHROTTLED.
func throttleWait(n int) time.Duration {
	d := throttleBackoff
	for i := 1; i < n && d < throttleBackoffMax; i++ {
		d *= 2
	}
	return min(d, throttleBackoffMax)
}

// refusals classify the SMSC's permanent command_status values for
// failover_on (see sdk.Refusal); others are sdk.RefusalRejected.
var refusals = map[uint32]sdk.Refusal{
	0x01: sdk.RefusalInvalidMessage,     // ESME_RINVMSGLEN
	0x0A: sdk.RefusalInvalidSender,      // ESME_RINVSRCADR
	0x48: sdk.RefusalInvalidSender,      // ESME_RINVSRCTON
	0x49: sdk.RefusalInvalidSender,      // ESME_RINVSRCNPI
	0x0B: sdk.RefusalInvalidDestination, // ESME_RINVDSTADR
	0x50: sdk.RefusalInvalidDestination, // ESME_RINVDSTTON
	0x51: sdk.RefusalInvalidDestination, // ESME_RINVDSTNPI
}

func describeStatus(status uint32) string {
	st := data.CommandStatusType(status)
	return fmt.Sprintf("SMSC answered %s (0x%08X): %s", st, status, st.Desc())
}

// settle records a part's final answer.
func (p *Provider) settle(pt *part, status uint32, outcome sdk.Outcome, id, reason string) {
	pt.mu.Lock()
	if pt.state != partInflight {
		pt.mu.Unlock()
		return
	}
	pt.state = partDone
	pt.status, pt.outcome, pt.id, pt.reason = status, outcome, id, reason
	abandoned := pt.abandoned
	pt.mu.Unlock()
	r := pt.req
	if abandoned {
		if outcome == sdk.Accepted {
			p.logger.Warn("SMSC accepted a submit after Send had given up on it; the host may send the message again",
				"message", r.msg.ID, "provider_id", id, "part", pt.index+1, "parts", len(r.parts))
			if len(r.parts) == 1 {
				p.lateMu.Lock()
				if len(p.late) >= maxLateAccepted {
					clear(p.late)
				}
				p.late[r.msg.ID] = id
				p.lateMu.Unlock()
			}
		}
		return
	}
	r.mu.Lock()
	r.settled++
	complete := r.settled == len(r.parts)
	r.mu.Unlock()
	if complete && len(r.parts) > 1 {
		p.groups.register(r)
		p.groups.release(r)
	}
	if r.b.left.Add(-1) == 0 {
		close(r.b.done)
	}
}

// Send submits the batch over every bind, windowed and asynchronously, and
// waits for every part's submit_sm_resp. Throttled and briefly failing parts
// are tried again here; what is still unanswered when ctx ends or
// queue_timeout passes is answered Temporary.
func (p *Provider) Send(ctx context.Context, msgs []sdk.Message) ([]sdk.SendResult, error) {
	select {
	case <-p.closing:
		return nil, errClosed
	default:
	}
	if !p.configured.Load() {
		return nil, errNotConfigured
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("smpp send: %w", err)
	}
	if len(msgs) > p.cfg.MaxBatchSize {
		return nil, fmt.Errorf("smpp send: batch of %d messages exceeds max_batch_size %d", len(msgs), p.cfg.MaxBatchSize)
	}
	if ok, why := p.canSend(); !ok {
		if why == nil {
			why = errors.New("still connecting")
		}
		return nil, fmt.Errorf("smpp send: no bind to %s is up: %w", p.cfg.addr(), why)
	}
	results := make([]sdk.SendResult, len(msgs))
	b := &batch{done: make(chan struct{}), deadline: time.Now().Add(p.cfg.queueTimeout)}
	if d, ok := ctx.Deadline(); ok && d.Before(b.deadline) {
		b.deadline = d
	}
	reqs := make([]*request, len(msgs))
	var all []*part
	for i, m := range msgs {
		results[i].MessageID = m.ID
		if id, ok := p.takeLate(m.ID); ok {
			results[i].Outcome, results[i].ProviderMessageID, results[i].Code = sdk.Accepted, id, "0x00000000"
			continue
		}
		if _, ok := validityPeriod(p.cfg.ValidityPeriod, m.ValidUntil, p.now()); !ok {
			results[i] = sdk.Expired(m.ID, "validity period passed before the message could be submitted")
			continue
		}
		r, err := p.buildRequest(m, b)
		if err != nil {
			results[i].Outcome, results[i].Code, results[i].Reason = sdk.Permanent, "INVALID_MESSAGE", err.Error()
			results[i].Refusal = sdk.RefusalInvalidMessage
			continue
		}
		reqs[i] = r
		all = append(all, r.parts...)
		if len(r.parts) > 1 {
			r.counted = true
			p.groups.pending.Add(1)
		}
	}
	b.left.Store(int64(len(all)))
	if len(all) == 0 {
		close(b.done)
	}
	timer := time.NewTimer(p.cfg.queueTimeout)
	defer timer.Stop()
	why := ""
enqueue:
	for _, pt := range all {
		select {
		case p.queue <- pt:
		case <-ctx.Done():
			why = "the host cancelled the send"
			break enqueue
		case <-timer.C:
			why = "queue_timeout passed before a bind had room"
			break enqueue
		case <-p.closing:
			why = "the provider is closing"
			break enqueue
		}
	}
	if why == "" {
		select {
		case <-b.done:
		case <-ctx.Done():
			why = "the host cancelled the send before the SMSC answered"
		case <-timer.C:
			why = fmt.Sprintf("queue_timeout %s passed before the SMSC accepted every part", p.cfg.queueTimeout)
		case <-p.closing:
			why = "the provider is closing"
		}
	}
	for i, r := range reqs {
		if r != nil {
			results[i] = p.result(r, why)
			p.groups.release(r)
		}
	}
	return results, nil
}

func (p *Provider) takeLate(id string) (string, bool) {
	p.lateMu.Lock()
	defer p.lateMu.Unlock()
	pid, ok := p.late[id]
	if ok {
		delete(p.late, id)
	}
	return pid, ok
}

// result sums up a message's parts. Parts not answered yet are withdrawn
// (queued) or abandoned (in flight), and the message is Temporary.
func (p *Provider) result(r *request, why string) sdk.SendResult {
	res := sdk.SendResult{MessageID: r.msg.ID}
	var first, failed *part
	unanswered := false
	throttles := 0
	for _, pt := range r.parts {
		pt.mu.Lock()
		throttles = max(throttles, pt.throttles)
		switch pt.state {
		case partDone:
			if pt.index == 0 {
				first = pt
			}
			if pt.outcome != sdk.Accepted && (failed == nil || pt.outcome == sdk.Permanent && failed.outcome != sdk.Permanent) {
				failed = pt
			}
		case partQueued:
			pt.state = partCancelled
			unanswered = true
		case partInflight:
			pt.abandoned = true
			unanswered = true
		default:
			unanswered = true
		}
		pt.mu.Unlock()
	}
	switch {
	case failed != nil:
		res.Outcome, res.Code, res.Reason = failed.outcome, fmt.Sprintf("0x%08X", failed.status), failed.reason
		if failed.code != "" {
			res.Code = failed.code
		}
		if len(r.parts) > 1 {
			res.Reason = fmt.Sprintf("part %d of %d: %s", failed.index+1, len(r.parts), failed.reason)
		}
		if res.Outcome == sdk.Temporary {
			res.RetryAfter = time.Second
		}
		if res.Outcome == sdk.Permanent {
			res.Refusal = refusals[failed.status]
		}
	case unanswered && throttles > 0:
		// Every submit was answered; saying "no response" would send the
		// operator looking for a network problem.
		res.Outcome, res.Code = sdk.Temporary, fmt.Sprintf("0x%08X", statusThrottled)
		res.Reason = fmt.Sprintf("smpp: %s to each of %d tries, then %s", describeStatus(statusThrottled), throttles, why)
		res.RetryAfter = throttleBackoffMax
	case unanswered:
		res.Outcome, res.Code = sdk.Temporary, "NO_RESPONSE"
		res.Reason = "smpp: " + why
		res.RetryAfter = time.Second
	default:
		res.Outcome, res.Code, res.ProviderMessageID = sdk.Accepted, "0x00000000", first.id
	}
	return res
}

// buildRequest encodes a message into its submit_sm parts.
func (p *Provider) buildRequest(m sdk.Message, b *batch) (*request, error) {
	cfg := p.cfg
	to := strings.TrimPrefix(strings.TrimSpace(m.To), "+")
	if to == "" || len(to) > 20 || strings.Trim(to, "0123456789") != "" {
		return nil, fmt.Errorf("destination %q is not an international number (digits with a leading +, at most 20)", m.To)
	}
	from := m.From
	if from == "" {
		from = cfg.DefaultSender
	}
	srcTON, srcNPI, src := sourceAddress(from)
	if len(src) > 20 {
		return nil, fmt.Errorf("sender %q is longer than the 20 characters SMPP allows", from)
	}
	enc, err := encodeText(m.Text, cfg.DefaultDataCoding == "latin1", cfg.LongMessage == longPayload)
	if err != nil {
		return nil, fmt.Errorf("message text: %w", err)
	}
	r := &request{msg: m, b: b}
	total := len(enc.parts)
	if total > 255 {
		return nil, fmt.Errorf("message text needs %d parts; SMPP concatenation allows 255", total)
	}
	ref := byte(p.refNum.Add(1))
	for i, ud := range enc.parts {
		sm := pdu.NewSubmitSM().(*pdu.SubmitSM)
		sm.SourceAddr = pdu.NewAddressWithTonNpi(srcTON, srcNPI)
		_ = sm.SourceAddr.SetAddress(src)
		sm.DestAddr = pdu.NewAddressWithTonNpi(1, 1)
		_ = sm.DestAddr.SetAddress(to)
		sm.RegisteredDelivery = cfg.registeredDelivery
		withValidity := cfg.ValidityPeriod != validityNone && !m.ValidUntil.IsZero()
		if withValidity {
			sm.ValidityPeriod = validityPlaceholder
		}
		coding := data.FromDataCoding(enc.coding)
		switch {
		case cfg.LongMessage == longPayload:
			_ = sm.Message.SetMessageDataWithEncoding(nil, coding)
			sm.RegisterOptionalParam(pdu.Field{Tag: pdu.TagMessagePayload, Data: ud})
		case total > 1 && cfg.LongMessage == longSAR:
			_ = sm.Message.SetMessageDataWithEncoding(ud, coding)
			sm.RegisterOptionalParam(pdu.Field{Tag: pdu.TagSarMsgRefNum, Data: []byte{0, ref}})
			sm.RegisterOptionalParam(pdu.Field{Tag: pdu.TagSarTotalSegments, Data: []byte{byte(total)}})
			sm.RegisterOptionalParam(pdu.Field{Tag: pdu.TagSarSegmentSeqnum, Data: []byte{byte(i + 1)}})
		case total > 1:
			_ = sm.Message.SetMessageDataWithEncoding(ud, coding)
			sm.Message.SetUDH(pdu.UDH{pdu.NewIEConcatMessage(byte(total), byte(i+1), ref)})
			sm.EsmClass |= 0x40
		default:
			if err := sm.Message.SetMessageDataWithEncoding(ud, coding); err != nil {
				return nil, fmt.Errorf("message text: %w", err)
			}
		}
		buf := pdu.NewBuffer(make([]byte, 0, 64+len(ud)))
		sm.Marshal(buf)
		pt := &part{req: r, index: i, pdu: buf.Bytes()}
		if withValidity {
			pt.vpAt = validityOffset(sm)
			if b := pt.pdu; pt.vpAt+len(validityPlaceholder) >= len(b) ||
				string(b[pt.vpAt:pt.vpAt+len(validityPlaceholder)]) != validityPlaceholder {
				return nil, fmt.Errorf("internal error: validity_period not found where expected in the submit_sm (offset %d)", pt.vpAt)
			}
		}
		r.parts = append(r.parts, pt)
	}
	return r, nil
}

// sourceAddress picks the sender's TON/NPI: alphanumeric (5/0) if it has a
// letter, international (1/1) for an E.164 number or eight digits or more,
// short code (3/0) otherwise.
func sourceAddress(from string) (ton, npi byte, addr string) {
	from = strings.TrimSpace(from)
	digits := strings.TrimPrefix(from, "+")
	switch {
	case from == "":
		return 0, 0, ""
	case strings.Trim(digits, "0123456789") != "":
		return 5, 0, from
	case strings.HasPrefix(from, "+") || len(digits) >= 8:
		return 1, 1, digits
	}
	return 3, 0, digits
}
