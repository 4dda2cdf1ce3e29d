package phonetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/android-sms-gateway/client-go/smsgateway"
)

// SIM is one SIM card in a simulated phone. Slot numbers follow the order in
// Options.SIMs, from 1.
type SIM struct {
	Number   string // the SIM's own number, E.164, e.g. "+959250000001"
	Operator string // carrier name as Android reports it
	Country  string // ISO 3166 alpha-2, lower case as Android reports it
}

// Fate is what the radio does with a message for one recipient: the final
// state the phone reports (Sent, Delivered or Failed) and, for Failed, the
// app's error string.
type Fate struct {
	State smsgateway.ProcessingState
	Error string
}

// Common fates, with the app's own error strings.
var (
	FateDelivered = Fate{State: smsgateway.ProcessingStateDelivered}
	FateSent      = Fate{State: smsgateway.ProcessingStateSent}
	FateFailed    = Fate{State: smsgateway.ProcessingStateFailed, Error: "Send result: RESULT_ERROR_GENERIC_FAILURE (Generic failure cause)"}
	FateNoService = Fate{State: smsgateway.ProcessingStateFailed, Error: "Send result: RESULT_ERROR_NO_SERVICE (No service)"}
	FateExpired   = Fate{State: smsgateway.ProcessingStateFailed, Error: "TTL expired"}
)

// Identity is what registration gave a phone. Passing one in Options makes
// the phone start as a restarted app: PATCH /device instead of POST.
type Identity struct {
	ID       string
	Token    string
	Login    string
	Password string
}

// Options configure a simulated phone. The zero value is a registered,
// single-SIM phone that delivers everything at once.
type Options struct {
	// PrivateToken is the server's private token, sent on POST /device only.
	PrivateToken string
	// Name is the device name sent at registration (default "phonetest/N").
	Name string
	// SIMs are the phone's SIM cards (default one SIM without a number).
	SIMs []SIM
	// Identity, when set, makes the phone start as a restarted app.
	Identity *Identity
	// Battery level in percent (default 80) and whether it is charging,
	// reported in system:ping.
	Battery  int
	Charging bool
	// Latency is how long the phone takes before each step of a message:
	// taking it (Processed), the radio's answer (Sent or Failed) and the
	// delivery report. Zero answers at once.
	Latency time.Duration
	// Fate decides each recipient's outcome; nil delivers to every
	// recipient (or stops at Sent when the message asks for no delivery
	// report). Messages past their validUntil fail with "TTL expired" first.
	Fate func(m Message, recipient string) Fate
	// DuplicatePatches sends every PATCH /message that many extra times, as
	// the app's retries and reconnects do.
	DuplicatePatches int
	// PingInterval posts system:ping that often (and pulls, as the app does
	// on every ping); zero posts none.
	PingInterval time.Duration
	// PollInterval pulls GET /message that often besides the SSE
	// notifications (the app: every 15 min); zero never.
	PollInterval time.Duration
	// ReconnectDelay is the wait before reopening a lost SSE stream (the
	// app waits 5 s at first; default here 100 ms to keep tests short).
	ReconnectDelay time.Duration
	// Parallel is how many messages the phone works on at once (default 4).
	Parallel int
	// Location is the phone's time zone for webhook times (default UTC+7,
	// so that servers cannot mistake the phone's clock for their own).
	Location *time.Location
	// HTTPClient is the phone's HTTP client (default: a shared client with
	// keep-alives).
	HTTPClient *http.Client
}

// Phone is one simulated phone running the app.
type Phone struct {
	tb     testing.TB
	base   string
	opts   Options
	client *http.Client

	mu         sync.Mutex
	ident      Identity
	webhooks   []smsgateway.Webhook
	settings   smsgateway.DeviceSettings
	signingKey string
	msgs       map[string]*local
	patches    [][]byte // every PATCH /message body sent, for replays
	queued     []outgoing
	online     bool // network reachable: false while silent
	vanishing  bool // a silent trigger fired: only its own report still goes out
	powered    bool // app running: false while off
	connected  bool // SSE stream open
	connects   int
	pulls      int
	events     []string
	errs       []string
	changed    chan struct{}
	trigger    map[smsgateway.ProcessingState]trigger
	sctx       context.Context // the current session's, for flushing
	registered int             // HTTP status of the last POST /device

	received chan Message
	todo     []string      // messages with a step to do, in order
	todoWake chan struct{} // buffered 1: there is something in todo
	pullNow  chan struct{}

	session  context.CancelFunc // SSE, ping and poll loops
	power    context.CancelFunc // message workers
	loops    sync.WaitGroup
	workers  sync.WaitGroup
	closed   bool
	sessions int
}

// receivedCap bounds Received's buffer.
const receivedCap = 4096

var (
	defaultClientOnce sync.Once
	defaultClient     *http.Client
	phoneSeq          struct {
		sync.Mutex
		n int
	}
)

func sharedClient() *http.Client {
	defaultClientOnce.Do(func() {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns = 512
		t.MaxIdleConnsPerHost = 512
		defaultClient = &http.Client{Transport: t}
	})
	return defaultClient
}

// New starts a phone against baseURL, the URL typed into the app (ending in
// /mobile/v1; the phone appends /device, /events, /message, ...). It
// registers (or, with Options.Identity, sends PATCH /device), opens the SSE
// stream and works on every message it is given until the test ends. New
// fails the test if the phone cannot register.
func New(tb testing.TB, baseURL string, opts Options) *Phone {
	tb.Helper()
	p := newPhone(tb, baseURL, opts)
	tb.Cleanup(p.Close)
	if err := p.PowerOn(context.Background()); err != nil {
		tb.Fatalf("phonetest: phone %q could not start: %v", p.opts.Name, err)
	}
	return p
}

func newPhone(tb testing.TB, baseURL string, opts Options) *Phone {
	phoneSeq.Lock()
	phoneSeq.n++
	n := phoneSeq.n
	phoneSeq.Unlock()
	if opts.Name == "" {
		opts.Name = fmt.Sprintf("phonetest/%d", n)
	}
	if len(opts.SIMs) == 0 {
		opts.SIMs = []SIM{{}}
	}
	if opts.Battery == 0 {
		opts.Battery = 80
	}
	if opts.ReconnectDelay == 0 {
		opts.ReconnectDelay = 100 * time.Millisecond
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 4
	}
	if opts.Location == nil {
		opts.Location = time.FixedZone("UTC+7", 7*3600)
	}
	client := opts.HTTPClient
	if client == nil {
		client = sharedClient()
	}
	p := &Phone{
		tb:       tb,
		base:     strings.TrimRight(baseURL, "/"),
		opts:     opts,
		client:   client,
		msgs:     map[string]*local{},
		changed:  make(chan struct{}),
		trigger:  map[smsgateway.ProcessingState]trigger{},
		received: make(chan Message, receivedCap),
		todoWake: make(chan struct{}, 1),
		pullNow:  make(chan struct{}, 1),
		online:   true,
	}
	if opts.Identity != nil {
		p.ident = *opts.Identity
	}
	p.signingKey = randomHex(16)
	return p
}

// Name is the device name the phone registered with.
func (p *Phone) Name() string { return p.opts.Name }

// Identity is what registration gave the phone.
func (p *Phone) Identity() Identity {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ident
}

// SigningKey is the key the phone signs webhooks with: the one the server
// handed out in GET /settings, or the phone's own random one.
func (p *Phone) SigningKey() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.signingKey
}

// Received yields every message the phone took from the server, the first
// time it sees it. It holds receivedCap messages; past that, messages are
// not offered to it (the phone still works on them, and View sees them).
func (p *Phone) Received() <-chan Message { return p.received }

// SetBattery changes what the next system:ping reports.
func (p *Phone) SetBattery(level int, charging bool) {
	p.mu.Lock()
	p.opts.Battery, p.opts.Charging = level, charging
	p.mu.Unlock()
}

// PowerOn starts the app: POST /device (or PATCH /device when the phone has
// an identity), then webhooks and settings after a restart, then the SSE
// stream and the message workers. Messages the phone had taken before it
// was switched off are worked on again from where they stopped.
func (p *Phone) PowerOn(ctx context.Context) error {
	p.mu.Lock()
	if p.closed || p.powered {
		p.mu.Unlock()
		return nil
	}
	restart := p.ident.Token != ""
	p.mu.Unlock()

	if err := p.enrol(ctx, restart); err != nil {
		return err
	}
	if restart {
		// A restarted app fetches webhooks and settings; a first start
		// does not, and waits for WebhooksUpdated.
		p.fetchWebhooks(ctx)
		p.fetchSettings(ctx)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.powered, p.online = true, true
	wctx, cancel := context.WithCancel(context.Background())
	p.power = cancel
	for i := 0; i < p.opts.Parallel; i++ {
		p.workers.Add(1)
		go p.worker(wctx)
	}
	for id, m := range p.msgs {
		if !m.final() {
			p.enqueueLocked(id)
		}
	}
	p.startSessionLocked()
	p.flushLocked()
	p.changedLocked()
	return nil
}

// PowerOff switches the app off at once: the stream drops, work stops
// wherever it is (a message may be Processed and never Sent until PowerOn),
// and reports not yet posted wait.
func (p *Phone) PowerOff() {
	p.mu.Lock()
	if !p.powered {
		p.mu.Unlock()
		return
	}
	p.powered = false
	p.stopSessionLocked()
	p.power()
	p.changedLocked()
	p.mu.Unlock()
	p.workers.Wait()
	p.loops.Wait()
}

// GoSilent cuts the phone's network: the stream drops and nothing reaches
// the server, but the radio goes on, so messages already taken are still
// sent and their reports wait until Reconnect.
func (p *Phone) GoSilent() {
	p.mu.Lock()
	p.online = false
	p.stopSessionLocked()
	p.changedLocked()
	p.mu.Unlock()
	p.loops.Wait()
}

// Reconnect brings the network back (or, when online, drops the stream and
// opens it again, as a proxy cutting it would): the phone reopens the
// stream, pulls, and posts every report it held, in order.
func (p *Phone) Reconnect() {
	p.mu.Lock()
	p.stopSessionLocked()
	p.mu.Unlock()
	p.loops.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.powered || p.closed {
		return
	}
	p.online = true
	p.startSessionLocked()
	p.flushLocked()
	p.changedLocked()
}

// GoSilentAfter makes the phone go silent right after it next reports
// state for a message (e.g. Processed: it took the message, then vanished
// before the radio answered). From the moment that report is due, the
// phone's other workers hold theirs as if the network were already gone,
// so that message is the only one the server hears of in that state
// (reports already on their way still arrive). The returned channel
// yields that message's id once the phone is silent, then closes.
func (p *Phone) GoSilentAfter(state smsgateway.ProcessingState) <-chan string {
	return p.after(state, true)
}

// PowerOffAfter switches the phone off right after it next reaches state
// for a message, before reporting it: the report and the rest of the work
// wait for PowerOn. The returned channel yields that message's id, then
// closes.
func (p *Phone) PowerOffAfter(state smsgateway.ProcessingState) <-chan string {
	return p.after(state, false)
}

// trigger is a fault armed for the next time a message reaches a state.
type trigger struct {
	silent bool        // go silent after reporting; otherwise power off before
	done   chan string // buffered 1
}

// fire hands the message id to whoever armed the trigger.
func (t trigger) fire(id string) {
	t.done <- id
	close(t.done)
}

func (p *Phone) after(state smsgateway.ProcessingState, silent bool) <-chan string {
	t := trigger{silent: silent, done: make(chan string, 1)}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.trigger[state] = t
	return t.done
}

// goSilentLocked is GoSilent for callers that hold p.mu; the loops notice
// their cancelled context and leave on their own.
func (p *Phone) goSilentLocked() {
	p.online = false
	p.stopSessionLocked()
	p.changedLocked()
}

// powerOffLocked is PowerOff for a worker that holds p.mu: it cannot wait
// for itself, so it only cancels.
func (p *Phone) powerOffLocked() {
	if !p.powered {
		return
	}
	p.powered = false
	p.stopSessionLocked()
	p.power()
	p.changedLocked()
}

// Close switches the phone off for good. Tests need not call it: New
// registers it as a cleanup.
func (p *Phone) Close() {
	p.PowerOff()
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.workers.Wait()
	p.loops.Wait()
}

func (p *Phone) startSessionLocked() {
	ctx, cancel := context.WithCancel(context.Background())
	p.session = cancel
	p.sctx = ctx
	p.sessions++
	p.loops.Add(2)
	go p.streamLoop(ctx)
	go p.pullLoop(ctx)
	if p.opts.PingInterval > 0 {
		p.loops.Add(1)
		go p.every(ctx, p.opts.PingInterval, p.pingOnce)
	}
	if p.opts.PollInterval > 0 {
		p.loops.Add(1)
		go p.every(ctx, p.opts.PollInterval, func(context.Context) { p.requestPull() })
	}
}

func (p *Phone) stopSessionLocked() {
	if p.session != nil {
		p.session()
		p.session = nil
	}
	p.connected = false
}

// changedLocked wakes everyone waiting in WaitFor.
func (p *Phone) changedLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *Phone) errorf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.mu.Lock()
	if len(p.errs) < 1000 {
		p.errs = append(p.errs, msg)
	}
	p.changedLocked()
	p.mu.Unlock()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
