package android

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/android-sms-gateway/client-go/smsgateway"

	"github.com/smsrouter/smsrouter/sdk"
)

// maxPending bounds one GET /message answer. The app pulls only when told
// (MessageEnqueued), on reconnect, on ping and on its slow poll, not after
// reporting what it took, so a phone left with more waiting is sent
// another MessageEnqueued (see wakeIfWaiting).
const maxPending = 100

// pending answers GET /message: the messages given to the phone and not
// yet taken, oldest first (newest first with ?order=lifo, as the app
// asks). Messages the phone has not pulled yet come before ones it pulled
// and not yet reported, so a queue longer than one answer drains instead
// of handing the same hundred out again.
func (p *Provider) pending(req *sdk.HookRequest, d *device, w sdk.HookResponseWriter) error {
	lifo := strings.EqualFold(query(req).Get("order"), "lifo")
	p.mu.Lock()
	order := make([]*job, 0, len(d.queue))
	for _, pulled := range []bool{false, true} {
		for k := range d.queue {
			i := k
			if lifo {
				i = len(d.queue) - 1 - k
			}
			if d.queue[i].fetched == pulled {
				order = append(order, d.queue[i])
			}
		}
	}
	list := make(smsgateway.MobileGetMessagesResponse, 0, min(len(order), maxPending))
	for _, j := range order[:min(len(order), maxPending)] {
		j.fetched = true
		list = append(list, p.mobileMessage(j))
	}
	p.wakeIfWaiting(d)
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, list)
	return nil
}

// wakeIfWaiting sends phone d one more MessageEnqueued when messages it
// has not pulled are still waiting for it: an answer capped at maxPending
// left them behind, and nothing else would make the app ask again before
// their lease runs out. Only a pull calls it: each wake then lists up to
// maxPending messages more, so it ends, and a phone that does not pull is
// not woken again and again. Called with the pool's mutex held.
func (p *pool) wakeIfWaiting(d *device) {
	for _, j := range d.queue {
		if !j.fetched {
			d.notify()
			return
		}
	}
}

// mobileMessage is j as the phone reads it. The message id is the host's,
// so a phone handed the same message again (after a lost answer) knows it.
func (p *pool) mobileMessage(j *job) smsgateway.MobileMessage {
	report := p.s.DeliveryReports
	m := smsgateway.MobileMessage{
		Message: smsgateway.Message{
			ID:                 j.msg.ID,
			TextMessage:        &smsgateway.TextMessage{Text: j.msg.Text},
			PhoneNumbers:       []string{j.msg.To},
			WithDeliveryReport: &report,
		},
		CreatedAt: j.assignedAt.UTC(),
	}
	if j.sim != nil {
		slot := uint8(j.sim.Slot)
		m.SimNumber = &slot
	}
	if !j.msg.ValidUntil.IsZero() {
		until := j.msg.ValidUntil.UTC()
		m.ValidUntil = &until
	}
	return m
}

// patchMessages answers PATCH /message: the phone's progress on messages
// it was given. Taking a message (Processed or further) answers its Send;
// Sent, Delivered and Failed become status events, stored before the
// phone hears 204, so a lost answer makes the phone report again and
// replays change nothing.
func (p *Provider) patchMessages(req *sdk.HookRequest, d *device, w sdk.HookResponseWriter) error {
	var items smsgateway.MobilePatchMessageRequest
	if !decode(req, &items, w) {
		return nil
	}
	if len(items) > maxPatchItems {
		fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("at most %d messages per PATCH", maxPatchItems))
		return nil
	}
	for i, it := range items {
		if it.ID == "" {
			fail(w, http.StatusBadRequest, fmt.Sprintf("field [%d].id: required", i))
			return nil
		}
	}
	var events []sdk.Event
	p.mu.Lock()
	for _, it := range items {
		events = append(events, p.applyPatchLocked(d, it)...)
	}
	p.mu.Unlock()
	if len(events) > 0 {
		if err := w.Emit(events...); err != nil {
			return fmt.Errorf("storing the phone's reports: %w", err)
		}
		p.markStored(events)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// applyPatchLocked applies one message's report from phone d and returns
// the status events it makes.
func (p *pool) applyPatchLocked(d *device, it smsgateway.MobilePatchMessageItem) []sdk.Event {
	state, errText := recipientState(it)
	j := p.jobs[it.ID]
	if j != nil && j.dev == d {
		if state != smsgateway.ProcessingStatePending || j.fetched {
			p.take(j, string(state))
		} else {
			return nil
		}
	}
	g := p.recent.get(it.ID)
	if g == nil || g.deviceID != d.ID {
		p.logf("phone reported a message it was not given; ignored", "device_id", d.ID, "message_id", it.ID, "state", string(state))
		return nil
	}
	events := reportEvents(it.ID, state, errText, it.States, p.now())
	for _, ev := range events {
		p.trackLocked(d, g, ev.Status.Status)
	}
	return unstoredLocked(g, events)
}

// trackLocked counts a phone's sent messages and those still in flight.
func (p *pool) trackLocked(d *device, g *given, st sdk.Status) {
	if st == sdk.StatusSent && !g.sent {
		g.sent = true
		d.countSent(p.now())
	}
	if !g.final && (st.Final() || (st == sdk.StatusSent && !p.s.DeliveryReports)) {
		g.final = true
		d.inFlight = max(d.inFlight-1, 0)
	}
}

// recipientState is the message's state as its recipient has it (the app
// derives the message state from its recipients; the message has one),
// and the recipient's error.
func recipientState(it smsgateway.MobilePatchMessageItem) (smsgateway.ProcessingState, string) {
	state := it.State
	errText := ""
	for _, r := range it.Recipients {
		state = r.State
		if r.Error != nil {
			errText = *r.Error
		}
		break
	}
	return state, errText
}

// reportEvents turns a phone's report into status events: one for each of
// Sent, Delivered and Failed that the report or its cumulative history
// reached, with stable ids, so replays and out-of-order snapshots are
// harmless. Pending and Processed mean the phone holds it (queued), which
// the host already counts as sent: no event.
func reportEvents(id string, state smsgateway.ProcessingState, errText string, history map[string]time.Time, now time.Time) []sdk.Event {
	reached := map[smsgateway.ProcessingState]bool{state: true}
	for k := range history {
		reached[smsgateway.ProcessingState(k)] = true
	}
	at := func(s smsgateway.ProcessingState) time.Time {
		if t, ok := history[string(s)]; ok {
			return t
		}
		return now
	}
	var out []sdk.Event
	add := func(s smsgateway.ProcessingState, st sdk.Status, code, word string) {
		out = append(out, sdk.Event{ID: id + "/" + strings.ToLower(string(s)),
			Status: &sdk.StatusEvent{ProviderMessageID: id, Status: st, ProviderStatus: word, ErrorCode: code, At: at(s)}})
	}
	if reached[smsgateway.ProcessingStateSent] || reached[smsgateway.ProcessingStateDelivered] {
		add(smsgateway.ProcessingStateSent, sdk.StatusSent, "", string(smsgateway.ProcessingStateSent))
	}
	switch {
	case reached[smsgateway.ProcessingStateFailed]:
		st, code := failure(errText)
		add(smsgateway.ProcessingStateFailed, st, code, truncate("Failed: "+errText, 200))
	case reached[smsgateway.ProcessingStateDelivered]:
		add(smsgateway.ProcessingStateDelivered, sdk.StatusDelivered, "", string(smsgateway.ProcessingStateDelivered))
	}
	return out
}

var (
	resultCode = regexp.MustCompile(`RESULT_[A-Z_]+`)
	expiry     = regexp.MustCompile(`(?i)\b(ttl|expired?|validity)\b`)
)

// failure maps the app's error text: a TTL or expiry error is expired,
// anything else failed; the Android result code, when the text has one,
// is the error code.
func failure(errText string) (sdk.Status, string) {
	code := resultCode.FindString(errText)
	if expiry.MatchString(errText) {
		if code == "" {
			code = "EXPIRED"
		}
		return sdk.StatusExpired, code
	}
	return sdk.StatusFailed, code
}

// logf logs at Warn through the provider's logger.
func (p *pool) logf(msg string, kv ...any) {
	if p.log != nil {
		p.log.Warn(msg, kv...)
	}
}
