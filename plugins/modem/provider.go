package modem

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nyaruka/phonenumbers"

	"github.com/smsrouter/smsrouter/sdk"
)

// Version is the plugin's own version, reported in Info.
const Version = "0.1.0"

// MetadataOperator is the message metadata key that pins a message to the
// ports of one operator ("Telenor"): no other port sends it.
const MetadataOperator = "modem_operator"

// eventBuffer is how many events wait for the host before new ones are
// dropped (stored messages stay on the SIM and are read again at start).
const eventBuffer = 4096

var (
	_ sdk.Provider          = (*Provider)(nil)
	_ sdk.EventSource       = (*Provider)(nil)
	_ sdk.HealthChecker     = (*Provider)(nil)
	_ sdk.SettingsValidator = (*Provider)(nil)

	errNotConfigured = errors.New("modem provider is not configured: Configure must be called first")
)

// Provider is a pool of GSM modems on serial ports. Use New.
type Provider struct {
	cfg  settings
	name string
	log  hclog.Logger

	configured atomic.Bool
	maxBatch   atomic.Int64 // Info may be called while Configure runs
	closeOnce  sync.Once
	cancel     context.CancelFunc
	wg         sync.WaitGroup

	ports   []*port
	reports *reportBook
	mo      *assembler
	events  chan pending
	encoder *encoder

	// open opens a serial port; tests replace it.
	open func(path string, baud int) (io.ReadWriteCloser, error)

	changeMu sync.Mutex
	changed  chan struct{} // closed and replaced whenever a port's status changes
}

// notify wakes whoever waits for a port's status to change.
func (p *Provider) notify() {
	p.changeMu.Lock()
	defer p.changeMu.Unlock()
	close(p.changed)
	p.changed = make(chan struct{})
}

// changes returns a channel closed at the next change of a port's status.
func (p *Provider) changes() <-chan struct{} {
	p.changeMu.Lock()
	defer p.changeMu.Unlock()
	return p.changed
}

// pending is an event on its way to the host, and what to do once stored.
type pending struct {
	ev    sdk.Event
	after func()
}

// New returns an unconfigured modem provider.
func New() *Provider {
	p := &Provider{
		cfg:     defaultSettings(),
		log:     hclog.NewNullLogger(),
		events:  make(chan pending, eventBuffer),
		open:    openSerial,
		encoder: newEncoder(),
		changed: make(chan struct{}),
	}
	p.maxBatch.Store(int64(p.cfg.MaxBatch))
	return p
}

// Info describes the plugin.
func (p *Provider) Info() sdk.Info {
	return sdk.Info{Name: "modem", Version: Version, MaxBatchSize: int(p.maxBatch.Load())}
}

func parseSettings(raw []byte) (settings, error) {
	s := defaultSettings()
	err := sdk.DecodeSettings(raw, &s)
	return s, err
}

// ValidateSettings checks settings as Configure does, without opening a port.
func (p *Provider) ValidateSettings(_ context.Context, cfg sdk.Config) error {
	_, err := parseSettings(cfg.Settings)
	return err
}

// Configure checks the settings and starts a supervisor per port. It waits
// for each port's first attempt (bounded by ctx and configureWait), so a
// Send right after it finds the ports ready, but a port that is missing or
// refuses its init does not fail it: Health reports the port, which is
// reopened with backoff while the others work.
func (p *Provider) Configure(ctx context.Context, cfg sdk.Config) error {
	s, err := parseSettings(cfg.Settings)
	if err != nil {
		return fmt.Errorf("configure modem provider %q: %w", cfg.Name, err)
	}
	if !p.configured.CompareAndSwap(false, true) {
		return fmt.Errorf("configure modem provider %q: already configured", cfg.Name)
	}
	p.cfg, p.name, p.log = s, cfg.Name, cfg.Log()
	p.maxBatch.Store(int64(s.MaxBatch))
	p.reports = newReportBook(s.ReportWindow.D())
	p.reports.logErr = func(msg string, err error) { p.log.Error(msg, "error", err) }
	if s.StateFile != "" {
		j, live, err := loadJournal(s.StateFile, s.ReportWindow.D(), time.Now())
		if err != nil {
			p.configured.Store(false)
			return fmt.Errorf("configure modem provider %q: %w", cfg.Name, sdk.BadSetting("state_file", "%v", err))
		}
		for _, ev := range p.reports.restore(j, live) {
			id := ev.Status.ProviderMessageID
			p.emit(ev, func() { p.reports.ended(id) })
		}
	}
	runCtx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.mo = newAssembler(s.Reassembly.D(), p.inboundDone)
	for _, pc := range s.resolvePorts() {
		pt := newPort(p, pc)
		p.ports = append(p.ports, pt)
	}
	for _, pt := range p.ports {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			pt.run(runCtx)
		}()
	}
	p.log.Info("modem provider configured", "ports", len(p.ports), "status_reports", s.StatusReports,
		"send_interval", s.SendInterval, "health_interval", s.HealthInterval)
	wait, stop := context.WithTimeout(ctx, configureWait)
	defer stop()
	for _, pt := range p.ports {
		select {
		case <-pt.first:
		case <-wait.Done():
			return nil
		}
	}
	return nil
}

// configureWait bounds Configure's wait for the ports' first attempt, well
// inside the host's 30 s for Configure.
const configureWait = 20 * time.Second

// Close stops every port and goroutine.
func (p *Provider) Close(context.Context) (err error) {
	p.closeOnce.Do(func() {
		if p.cancel != nil {
			p.cancel()
		}
		p.wg.Wait()
		if p.mo != nil {
			p.mo.stop()
		}
		if p.reports != nil {
			err = p.reports.close()
		}
	})
	if err != nil {
		return fmt.Errorf("modem provider %q: closing the status report journal: %w", p.name, err)
	}
	return nil
}

// Send gives each message to a port and waits for its outcome. Messages
// still waiting for a port when ctx ends are answered Temporary.
func (p *Provider) Send(ctx context.Context, msgs []sdk.Message) ([]sdk.SendResult, error) {
	if !p.configured.Load() {
		return nil, errNotConfigured
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("send not attempted: %w", err)
	}
	results := make([]sdk.SendResult, len(msgs))
	jobs := make([]*job, len(msgs))
	deadline, _ := ctx.Deadline()
	now := time.Now()
	lookup := p.operatorMatters()
	for i, m := range msgs {
		if !m.ValidUntil.IsZero() && !m.ValidUntil.After(now) {
			results[i] = sdk.Expired(m.ID, "validity passed before a modem took it")
			continue
		}
		j := &job{msg: m, deadline: deadline, done: make(chan sdk.SendResult, 1), tried: map[*port]bool{}}
		j.want, j.strict = p.operatorFor(m, lookup)
		if !p.dispatch(j) {
			results[i] = p.noPort(j)
			continue
		}
		jobs[i] = j
	}
	for i, j := range jobs {
		if j == nil {
			continue
		}
		select {
		case r := <-j.done:
			results[i] = r
		case <-ctx.Done():
			if j.withdraw() {
				results[i] = sdk.SendResult{MessageID: j.msg.ID, Outcome: sdk.Temporary, Code: "TIMEOUT",
					Reason: "no modem port was free before the send was cancelled"}
				continue
			}
			// On the line already: its answer is the truth, and it comes
			// before the deadline (see partTimeout).
			results[i] = <-j.done
		}
	}
	return results, nil
}

// operatorFor is the operator a message should go out with: the one its
// metadata pins, else the operator_prefixes entry for its number, else the
// recipient's operator as libphonenumber knows it (what routing rules see
// as operator), so a message goes on-net when a SIM of that operator is
// ready. The libphonenumber lookup, the plugin's costliest step, is made
// only when lookup says the choice of port can depend on it.
func (p *Provider) operatorFor(m sdk.Message, lookup bool) (op string, strict bool) {
	if op := strings.TrimSpace(m.Metadata[MetadataOperator]); op != "" {
		return op, true
	}
	if op := p.cfg.wantedOperator(m.To); op != "" {
		return op, false
	}
	if !lookup {
		return "", false
	}
	return carrierOf(m.To), false
}

// operatorMatters reports whether the recipient's operator can change
// which port a message takes: some eligible port's operator is known and
// the eligible ports are not all on it. With one port, no operator known,
// or every port on one operator, the least busy port wins either way.
func (p *Provider) operatorMatters() bool {
	known, unknown := "", false
	for _, pt := range p.ports {
		st := pt.snapshot()
		if !st.eligible(pt.cfg.MaxPerDay) {
			continue
		}
		op := strings.ToLower(strings.TrimSpace(st.Operator))
		switch {
		case op == "":
			unknown = true
		case known == "":
			known = op
		case known != op:
			return true
		}
	}
	return known != "" && unknown
}

// carrierOf is the operator libphonenumber gives a number, or "".
func carrierOf(number string) string {
	n, err := phonenumbers.Parse(number, "")
	if err != nil {
		return ""
	}
	op, _ := phonenumbers.GetCarrierForNumber(n, "en")
	return op
}

// sameOperator reports whether a port's network (as +COPS names it, "Telenor"
// or "Telenor N") is the operator wanted ("telenor norge" as libphonenumber
// names it): equal, or one the start of the other, ignoring case.
func sameOperator(network, want string) bool {
	a, b := strings.ToLower(strings.TrimSpace(network)), strings.ToLower(strings.TrimSpace(want))
	if a == "" || b == "" {
		return false
	}
	return strings.HasPrefix(a, b) || strings.HasPrefix(b, a)
}

// dispatch gives a job to the least busy eligible port it was not on yet,
// one of the wanted operator's when there is one.
func (p *Provider) dispatch(j *job) bool {
	for range len(p.ports) {
		pt := p.pick(j)
		if pt == nil {
			return false
		}
		if pt.enqueue(j) {
			return true
		}
		j.tried[pt] = true
	}
	return false
}

func (p *Provider) pick(j *job) *port {
	var best, bestOp *port
	bestLoad, bestOpLoad := 0, 0
	for _, pt := range p.ports {
		st := pt.snapshot()
		if j.tried[pt] || !st.eligible(pt.cfg.MaxPerDay) {
			continue
		}
		load := pt.load()
		if best == nil || load < bestLoad {
			best, bestLoad = pt, load
		}
		if j.want != "" && sameOperator(st.Operator, j.want) && (bestOp == nil || load < bestOpLoad) {
			bestOp, bestOpLoad = pt, load
		}
	}
	if bestOp != nil {
		return bestOp
	}
	if j.strict {
		return nil
	}
	return best
}

// redispatch moves a job off a port that stopped to another, or answers it.
func (p *Provider) redispatch(j *job, why string) {
	if !j.withdrawable() {
		return
	}
	if !p.dispatch(j) {
		r := p.noPort(j)
		r.Reason = why + "; " + r.Reason
		j.done <- r
	}
}

// withdrawable reports whether nobody started or withdrew the job.
func (j *job) withdrawable() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return !j.taken && !j.gone
}

func (p *Provider) noPort(j *job) sdk.SendResult {
	if j.strict {
		return sdk.Unavailable(j.msg.ID, fmt.Sprintf("no ready modem port on operator %q", j.want)).WithCode("NO_PORT")
	}
	return sdk.Unavailable(j.msg.ID, "no modem port is ready and registered: "+p.summary()).WithCode("NO_PORT")
}

// submit encodes a message and sends its parts on one port, recording each
// part's message reference for the status reports.
func (p *Provider) submit(c *conn, pt *port, m sdk.Message, deadline time.Time) (sdk.SendResult, blame) {
	tpdus, err := p.encoder.encode(m, p.cfg.StatusReports, time.Now())
	if err != nil {
		return sdk.SendResult{MessageID: m.ID, Outcome: sdk.Permanent, Code: "ENCODE", Refusal: sdk.RefusalInvalidMessage,
			Reason: fmt.Sprintf("cannot encode the message as SMS PDUs: %v", err)}, blameMessage
	}
	mrs := make([]int, 0, len(tpdus))
	for i, tp := range tpdus {
		timeout, ok := partTimeout(p.cfg.SendTimeout.D(), deadline)
		if !ok {
			return sdk.SendResult{MessageID: m.ID, Outcome: sdk.Temporary, Code: "DEADLINE",
				Reason: fmt.Sprintf("port %s, part %d/%d: not sent, the host's deadline for the send was too near (%d earlier part(s) went out)",
					pt.cfg.Path, i+1, len(tpdus), i)}, blameNetwork
		}
		mr, err := c.submit(tp, timeout)
		if err != nil && c.gone() {
			// A write to a port that closed under it fails with whatever
			// the OS says (EBADF, EIO); it is still the port going away.
			err = fmt.Errorf("%w: %w", errPortGone, err)
		}
		if err != nil {
			return submitOutcome(m.ID, pt.cfg.Path, i+1, len(tpdus), i, err)
		}
		mrs = append(mrs, mr)
	}
	id := newProviderID()
	if p.cfg.StatusReports {
		p.reports.add(id, pt.cfg.Path, m.To, mrs)
	}
	return sdk.SendResult{MessageID: m.ID, Outcome: sdk.Accepted, ProviderMessageID: id, Sender: pt.sender()}, blameNetwork
}

// Send answers within the host's deadline: a part's wait for +CMGS ends
// deadlineMargin before it, and a part is not started with less than
// minPartWindow left.
const (
	deadlineMargin = 500 * time.Millisecond
	minPartWindow  = time.Second
)

// partTimeout is how long one part may wait for +CMGS: send_timeout, cut
// to what the deadline (zero: none) leaves; false when too little is left.
func partTimeout(sendTimeout time.Duration, deadline time.Time) (time.Duration, bool) {
	if deadline.IsZero() {
		return sendTimeout, true
	}
	left := time.Until(deadline) - deadlineMargin
	if left < minPartWindow {
		return 0, false
	}
	return min(sendTimeout, left), true
}

func newProviderID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// emit queues an event for the host; after runs once it is stored. When
// the host is far behind the event is dropped and logged: a stored
// message then stays on the SIM and is read again at the next start.
func (p *Provider) emit(ev sdk.Event, after func()) {
	select {
	case p.events <- pending{ev: ev, after: after}:
	default:
		p.log.Error("event dropped: the host is not taking events", "event", ev.ID)
	}
}

// Events hands queued events to the host until ctx ends.
func (p *Provider) Events(ctx context.Context, emit sdk.EmitFunc) error {
	if !p.configured.Load() {
		return errNotConfigured
	}
	const workers = 4
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case pe := <-p.events:
					p.deliver(ctx, emit, pe)
				}
			}
		}()
	}
	wg.Wait()
	return nil
}

// deliver emits one event until the host stored it or ctx ends; an event
// not stored goes back to the queue for the next Events stream.
func (p *Provider) deliver(ctx context.Context, emit sdk.EmitFunc, pe pending) {
	wait := 50 * time.Millisecond
	for {
		err := emit(ctx, pe.ev)
		if err == nil {
			if pe.after != nil {
				pe.after()
			}
			return
		}
		p.log.Warn("event not stored, offering it again", "event", pe.ev.ID, "error", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			p.emit(pe.ev, pe.after)
			return
		case <-t.C:
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// Health is OK while at least one port is ready and registered; the detail
// lists every port.
func (p *Provider) Health(context.Context) (sdk.Health, error) {
	if !p.configured.Load() {
		return sdk.Health{}, errNotConfigured
	}
	ok := false
	for _, pt := range p.ports {
		if pt.snapshot().eligible(0) {
			ok = true
		}
	}
	return sdk.Health{OK: ok, Detail: p.summary()}, nil
}

// summary describes every port in one line each, for the providers list.
func (p *Provider) summary() string {
	ready := 0
	var lines []string
	for _, pt := range p.ports {
		st := pt.snapshot()
		if st.eligible(0) {
			ready++
		}
		lines = append(lines, describePort(pt.cfg, st))
	}
	return fmt.Sprintf("%d/%d ports ready; %s", ready, len(p.ports), strings.Join(lines, "; "))
}

func describePort(cfg portConfig, st portStatus) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", cfg.Path, st.State)
	if st.Err != "" {
		fmt.Fprintf(&b, " (%s)", st.Err)
	}
	if st.State != stateReady {
		return b.String()
	}
	fmt.Fprintf(&b, ", %s", st.Reg)
	if st.Operator != "" {
		fmt.Fprintf(&b, ", operator %s", st.Operator)
	}
	if st.Country != "" {
		fmt.Fprintf(&b, " (%s)", st.Country)
	}
	if d, ok := dBm(st.RSSI); ok {
		fmt.Fprintf(&b, ", signal %d dBm", d)
	} else {
		b.WriteString(", signal unknown")
	}
	for _, kv := range [][2]string{{"number", st.Number}, {"IMEI", st.IMEI}, {"IMSI", st.IMSI}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, ", %s %s", kv[0], kv[1])
		}
	}
	today := st.SentToday
	if st.day != time.Now().Format(time.DateOnly) {
		today = 0
	}
	fmt.Fprintf(&b, ", sent today %d", today)
	if cfg.MaxPerDay > 0 {
		fmt.Fprintf(&b, "/%d", cfg.MaxPerDay)
	}
	return b.String()
}

// countryOf is the ISO region of a SIM's own number, or "".
func countryOf(number string) string {
	if !strings.HasPrefix(number, "+") {
		return ""
	}
	n, err := phonenumbers.Parse(number, "")
	if err != nil {
		return ""
	}
	return phonenumbers.GetRegionCodeForNumber(n)
}
