package phonetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/android-sms-gateway/client-go/smsgateway"
)

// Steps of a message on the phone.
const (
	stepTaken     = iota // in the phone's store, not yet handed to the radio
	stepProcessed        // handed to SmsManager
	stepAnswered         // the radio answered Sent or Failed per recipient
	stepDone             // delivery reports in; nothing more will happen
)

// local is the phone's own record of a message, like the app's database row.
type local struct {
	msg        Message
	recipients []smsgateway.RecipientState
	states     map[string]time.Time
	fates      []Fate
	step       int
	busy       bool
	reported   bool
}

func newLocal(m Message, loc *time.Location) *local {
	// The app's history starts with Pending, when it stores the message.
	l := &local{msg: m, states: map[string]time.Time{string(smsgateway.ProcessingStatePending): time.Now().In(loc)}}
	for _, n := range m.PhoneNumbers {
		l.recipients = append(l.recipients, smsgateway.RecipientState{PhoneNumber: n, State: smsgateway.ProcessingStatePending})
	}
	return l
}

func (l *local) final() bool { return l.step >= stepDone }

// outgoing is a report the phone could not post yet: a PATCH /message body
// or a webhook event.
type outgoing struct {
	patch   []byte
	event   string
	id      string
	payload json.RawMessage
	at      time.Time
}

// enqueueLocked puts a message at the back of the phone's work: it gets
// one step done each time it comes to the front, so every message pulled
// is taken (Processed) before the radio answers for earlier ones, as with
// the app, which reports Processed on handing a message to Android and the
// radio's answers as they come.
func (p *Phone) enqueueLocked(id string) {
	p.todo = append(p.todo, id)
	select {
	case p.todoWake <- struct{}{}:
	default:
	}
}

// worker does steps of queued messages until the app is switched off.
func (p *Phone) worker(ctx context.Context) {
	defer p.workers.Done()
	for {
		p.mu.Lock()
		if len(p.todo) == 0 {
			p.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-p.todoWake:
			}
			continue
		}
		id := p.todo[0]
		p.todo[0] = ""
		p.todo = p.todo[1:]
		if len(p.todo) > 0 {
			select { // pass the wake-up on to another worker
			case p.todoWake <- struct{}{}:
			default:
			}
		}
		p.mu.Unlock()
		p.process(ctx, id)
	}
}

// process does the next step of one message and queues it again for the
// step after.
func (p *Phone) process(ctx context.Context, id string) {
	p.mu.Lock()
	m, ok := p.msgs[id]
	if !ok || m.busy || m.final() {
		p.mu.Unlock()
		return
	}
	m.busy = true
	p.mu.Unlock()
	more := p.wait(ctx, p.opts.Latency) && p.step(ctx, m)
	p.mu.Lock()
	m.busy = false
	if more && !m.final() && p.powered {
		p.enqueueLocked(id)
	}
	p.mu.Unlock()
}

// wait is the phone's answer latency; false when the phone was switched off.
func (p *Phone) wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// change is one recipient's move, as the app reports it: a PATCH per
// change, and a webhook for the radio's and the network's answers.
type change struct {
	recipient int
	state     smsgateway.ProcessingState
	err       string
}

// step takes a message one step on and reports it. It returns false when
// the phone was switched off on the way.
func (p *Phone) step(ctx context.Context, m *local) bool {
	p.mu.Lock()
	changes := p.nextChangesLocked(m)
	p.mu.Unlock()
	for _, c := range changes {
		p.mu.Lock()
		if ctx.Err() != nil {
			p.mu.Unlock()
			return false
		}
		t, armed := p.trigger[c.state]
		if armed && !t.silent {
			// Switched off on reaching the state, before telling anyone.
			delete(p.trigger, c.state)
			p.apply(m, c)
			p.powerOffLocked()
			t.fire(m.msg.ID)
			p.mu.Unlock()
			return false
		}
		// A silent trigger is claimed before this report goes out, in
		// the critical section where the other workers decide whether
		// theirs may go: from here only this message's report and
		// webhook leave the phone, so the server hears of exactly this
		// message before the phone vanishes, however many workers were
		// reporting at the time.
		vanish := armed && t.silent && !p.vanishing
		if vanish {
			delete(p.trigger, c.state)
			p.vanishing = true
		}
		item := p.apply(m, c)
		p.mu.Unlock()
		p.report(ctx, item, vanish)
		p.announce(ctx, m, c, vanish)
		if vanish {
			p.mu.Lock()
			p.vanishing = false
			p.goSilentLocked()
			t.fire(m.msg.ID)
			p.mu.Unlock()
		}
	}
	p.mu.Lock()
	m.step++
	p.changedLocked()
	p.mu.Unlock()
	return true
}

// nextChangesLocked works out what the next step changes.
func (p *Phone) nextChangesLocked(m *local) []change {
	var out []change
	switch m.step {
	case stepTaken:
		for i := range m.recipients {
			out = append(out, change{recipient: i, state: smsgateway.ProcessingStateProcessed})
		}
	case stepProcessed:
		m.fates = make([]Fate, len(m.recipients))
		for i, r := range m.recipients {
			f := p.fateLocked(m.msg, r.PhoneNumber)
			m.fates[i] = f
			if f.State == smsgateway.ProcessingStateFailed {
				out = append(out, change{recipient: i, state: f.State, err: f.Error})
			} else {
				out = append(out, change{recipient: i, state: smsgateway.ProcessingStateSent})
			}
		}
	case stepAnswered:
		for i, f := range m.fates {
			if f.State == smsgateway.ProcessingStateDelivered && m.recipients[i].State == smsgateway.ProcessingStateSent {
				out = append(out, change{recipient: i, state: f.State})
			}
		}
	}
	return out
}

func (p *Phone) fateLocked(m Message, recipient string) Fate {
	if m.ValidUntil != nil && time.Now().After(*m.ValidUntil) {
		return FateExpired
	}
	f := FateDelivered
	if p.opts.Fate != nil {
		f = p.opts.Fate(m, recipient)
	}
	if f.State == smsgateway.ProcessingStateDelivered && m.WithDeliveryReport != nil && !*m.WithDeliveryReport {
		f = FateSent
	}
	return f
}

// apply records a change in the phone's store and returns the PATCH item
// the app sends for it: every recipient, the derived message state and the
// cumulative history.
func (p *Phone) apply(m *local, c change) smsgateway.MobilePatchMessageItem {
	r := &m.recipients[c.recipient]
	r.State = c.state
	if c.err != "" {
		e := c.err
		r.Error = &e
	}
	st := messageState(m.recipients)
	if _, ok := m.states[string(st)]; !ok {
		m.states[string(st)] = nowIn(p.opts.Location)
	}
	m.reported = true
	p.changedLocked()
	item, _ := p.snapshotOf(m)
	return item
}

func (p *Phone) snapshotLocked(id string) (smsgateway.MobilePatchMessageItem, bool) {
	m, ok := p.msgs[id]
	if !ok {
		return smsgateway.MobilePatchMessageItem{}, false
	}
	return p.snapshotOf(m)
}

func (p *Phone) snapshotOf(m *local) (smsgateway.MobilePatchMessageItem, bool) {
	states := make(map[string]time.Time, len(m.states))
	for k, v := range m.states {
		states[k] = v
	}
	return smsgateway.MobilePatchMessageItem{
		ID:         m.msg.ID,
		State:      messageState(m.recipients),
		Recipients: append([]smsgateway.RecipientState(nil), m.recipients...),
		States:     states,
	}, true
}

// holdsLocked reports whether a report or webhook must wait for the
// network: the phone is off or silent, or is about to vanish and this is
// not the last word it gets out (last).
func (p *Phone) holdsLocked(last bool) bool {
	return !p.online || !p.powered || (p.vanishing && !last)
}

// report sends one PATCH /message, or keeps it for later while the phone
// cannot reach the server; last marks the report a silent trigger lets
// out before the phone vanishes.
func (p *Phone) report(ctx context.Context, item smsgateway.MobilePatchMessageItem, last bool) {
	body, err := json.Marshal(smsgateway.MobilePatchMessageRequest{item})
	if err != nil {
		p.errorf("encoding a PATCH /message: %v", err)
		return
	}
	p.mu.Lock()
	if p.holdsLocked(last) {
		p.queued = append(p.queued, outgoing{patch: body})
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	if err := p.sendPatch(ctx, body); err != nil {
		p.mu.Lock()
		p.queued = append(p.queued, outgoing{patch: body})
		p.mu.Unlock()
		if ctx.Err() == nil {
			p.errorf("reporting message %s: %v", item.ID, err)
		}
		return
	}
	p.mu.Lock()
	if len(p.patches) < 100000 {
		p.patches = append(p.patches, body)
	}
	p.mu.Unlock()
}

// announce posts the webhook the app posts for a change, if the server
// registered one for that event (last: as for report).
func (p *Phone) announce(ctx context.Context, m *local, c change, last bool) {
	p.mu.Lock()
	number := m.recipients[c.recipient].PhoneNumber
	sim := m.msg.SimNumber
	p.mu.Unlock()
	var simNumber *int
	if sim != nil {
		n := int(*sim)
		simNumber = &n
	}
	at := nowIn(p.opts.Location)
	var event string
	var payload any
	switch c.state {
	case smsgateway.ProcessingStateSent:
		event = EventSmsSent
		payload = SentPayload{MessageID: m.msg.ID, PhoneNumber: number, SIMNumber: simNumber, PartsCount: 1, SentAt: at.Format(appTime)}
	case smsgateway.ProcessingStateDelivered:
		event = EventSmsDelivered
		payload = DeliveredPayload{MessageID: m.msg.ID, PhoneNumber: number, SIMNumber: simNumber, DeliveredAt: at.Format(appTime)}
	case smsgateway.ProcessingStateFailed:
		event = EventSmsFailed
		payload = FailedPayload{MessageID: m.msg.ID, PhoneNumber: number, SIMNumber: simNumber, FailedAt: at.Format(appTime), Reason: c.err}
	default:
		return
	}
	if !p.hasWebhook(event) {
		return
	}
	_ = p.emitAs(ctx, event, payload, at, last)
}

func (p *Phone) hasWebhook(event string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, h := range p.webhooks {
		if h.Event == event {
			return true
		}
	}
	return false
}

// emit posts an event now, or keeps it while the phone is offline.
func (p *Phone) emit(ctx context.Context, event string, payload any, at time.Time) error {
	return p.emitAs(ctx, event, payload, at, false)
}

// emitAs is emit; last marks the webhook a silent trigger lets out before
// the phone vanishes.
func (p *Phone) emitAs(ctx context.Context, event string, payload any, at time.Time, last bool) error {
	raw, err := encodeLikeApp(payload)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", event, err)
	}
	ev := outgoing{event: event, id: randomHex(10), payload: raw, at: at}
	p.mu.Lock()
	if p.holdsLocked(last) {
		p.queued = append(p.queued, ev)
		p.mu.Unlock()
		return nil
	}
	p.mu.Unlock()
	if err := p.postWebhook(ctx, ev); err != nil {
		p.mu.Lock()
		p.queued = append(p.queued, ev)
		p.mu.Unlock()
		if ctx.Err() == nil {
			p.errorf("posting %s: %v", event, err)
		}
		return err
	}
	return nil
}

// flushLocked posts everything held while offline, in order, on the
// session's context. What the server refuses is tried again later, as the
// app's background worker does (a webhook signed before the phone fetched
// its settings again is refused until it has), with the rest behind it.
func (p *Phone) flushLocked() {
	if len(p.queued) == 0 || p.sctx == nil {
		return
	}
	ctx := p.sctx
	p.loops.Add(1)
	go func() {
		defer p.loops.Done()
		wait := 20 * time.Millisecond
		for !p.flushOnce(ctx) {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			wait = min(2*wait, time.Second)
		}
		p.mu.Lock()
		p.changedLocked()
		p.mu.Unlock()
	}()
}

// flushOnce posts what is held, in order, until one fails; that one and
// those after it are held again. It reports whether all went.
func (p *Phone) flushOnce(ctx context.Context) bool {
	p.mu.Lock()
	held := p.queued
	p.queued = nil
	p.mu.Unlock()
	for i, o := range held {
		var err error
		if o.patch != nil {
			if err = p.sendPatch(ctx, o.patch); err == nil {
				p.mu.Lock()
				p.patches = append(p.patches, o.patch)
				p.mu.Unlock()
			}
		} else {
			err = p.postWebhook(ctx, o)
		}
		if err != nil {
			p.mu.Lock()
			p.queued = append(append([]outgoing(nil), held[i:]...), p.queued...)
			p.mu.Unlock()
			if ctx.Err() == nil {
				p.errorf("posting what was held offline: %v", err)
			}
			return false
		}
	}
	return true
}

// Inbound is an SMS arriving at the phone.
type Inbound struct {
	From string    // sender, as the network gives it
	Text string    // message text
	SIM  int       // receiving SIM slot, from 1 (0: the first)
	At   time.Time // when it arrived (default now)
}

// Inject makes an SMS arrive at the phone: the phone posts sms:received to
// its webhooks. Offline, the event waits for Reconnect and Inject returns
// nil; online, Inject returns the webhook's refusal, if any.
func (p *Phone) Inject(ctx context.Context, in Inbound) error {
	if in.At.IsZero() {
		in.At = time.Now()
	}
	sim := in.SIM
	if sim == 0 {
		sim = 1
	}
	sum := sha256.Sum256([]byte(in.From + "\x00" + in.Text))
	payload := ReceivedPayload{
		MessageID:   hex.EncodeToString(sum[:])[:16],
		Message:     in.Text,
		PhoneNumber: in.From,
		SIMNumber:   &sim,
		ReceivedAt:  in.At.In(p.opts.Location).Format(appTime),
	}
	p.mu.Lock()
	offline := !p.online || !p.powered
	p.mu.Unlock()
	if !offline && !p.hasWebhook(EventSmsReceived) {
		return fmt.Errorf("phone %s has no webhook for %s: the server has not handed one out", p.opts.Name, EventSmsReceived)
	}
	return p.emit(ctx, EventSmsReceived, payload, in.At)
}

// Ping posts system:ping with the phone's health, as the app does every
// ping interval.
func (p *Phone) Ping(ctx context.Context) error {
	p.mu.Lock()
	level, charging := p.opts.Battery, p.opts.Charging
	p.mu.Unlock()
	charge := 0
	if charging {
		charge = 1
	}
	health := smsgateway.HealthResponse{
		Status: smsgateway.HealthStatusPass,
		Checks: smsgateway.HealthChecks{
			"battery:level":     {Description: "Battery level in percent", ObservedUnit: "percent", ObservedValue: level, Status: smsgateway.HealthStatusPass},
			"battery:charging":  {Description: "Is the phone charging", ObservedUnit: "boolean", ObservedValue: charge, Status: smsgateway.HealthStatusPass},
			"connection:status": {Description: "Internet connection status", ObservedUnit: "boolean", ObservedValue: 1, Status: smsgateway.HealthStatusPass},
		},
	}
	if !p.hasWebhook(EventSystemPing) {
		return fmt.Errorf("phone %s has no webhook for %s", p.opts.Name, EventSystemPing)
	}
	return p.emit(ctx, EventSystemPing, PingPayload{Health: health}, time.Now())
}
