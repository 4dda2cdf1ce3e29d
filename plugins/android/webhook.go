package android

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/android-sms-gateway/client-go/smsgateway"

	"github.com/smsrouter/smsrouter/sdk"
)

// timestampTolerance is how far a webhook's X-Timestamp may be from now.
const timestampTolerance = 5 * time.Minute

// webhookBody is what the phone posts: the client module has the event
// names but not the envelope.
type webhookBody struct {
	DeviceID  string          `json:"deviceId"`
	Event     string          `json:"event"`
	ID        string          `json:"id"`
	WebhookID string          `json:"webhookId"`
	Payload   json.RawMessage `json:"payload"`
}

// smsPayload covers the sms:* payloads.
type smsPayload struct {
	MessageID   string    `json:"messageId"`
	Message     string    `json:"message"`
	PhoneNumber string    `json:"phoneNumber"`
	SimNumber   *int      `json:"simNumber"`
	ReceivedAt  time.Time `json:"receivedAt"`
	SentAt      time.Time `json:"sentAt"`
	DeliveredAt time.Time `json:"deliveredAt"`
	FailedAt    time.Time `json:"failedAt"`
	Reason      string    `json:"reason"`
}

// pingPayload is system:ping's health report, read for the battery.
type pingPayload struct {
	Health struct {
		Checks map[string]struct {
			ObservedValue float64 `json:"observedValue"`
		} `json:"checks"`
	} `json:"health"`
}

// phoneWebhook answers a webhook a phone posts: signed with its own key
// (X-Signature, hex HMAC-SHA256 of the raw body and X-Timestamp).
func (p *Provider) phoneWebhook(req *sdk.HookRequest, w sdk.HookResponseWriter) error {
	if req.Method != http.MethodPost {
		fail(w, http.StatusMethodNotAllowed, "webhooks are POSTed")
		return nil
	}
	var body webhookBody
	if !decode(req, &body, w) {
		return nil
	}
	d := p.verifyWebhook(req, body.DeviceID)
	if d == nil {
		fail(w, http.StatusUnauthorized, "webhook signature, timestamp or device id is wrong")
		return nil
	}
	events, status, msg := p.webhookEvents(d, body)
	if status != 0 {
		fail(w, status, msg)
		return nil
	}
	if len(events) > 0 {
		if err := w.Emit(events...); err != nil {
			return err
		}
		p.markStored(events)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// verifyWebhook returns the phone that signed req, or nil.
func (p *Provider) verifyWebhook(req *sdk.HookRequest, deviceID string) *device {
	ts, sig := req.Header.Get("X-Timestamp"), req.Header.Get("X-Signature")
	if ts == "" || sig == "" || sdk.CheckTimestamp(ts, p.now(), timestampTolerance) != nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.devices[deviceID]
	if d == nil {
		return nil
	}
	signed := append(append([]byte{}, req.Body...), ts...)
	if !sdk.VerifyHMAC(sha256.New, []byte(p.signingKey(d.ID)), signed, sig) {
		return nil
	}
	p.seenLocked(d)
	return d
}

// webhookEvents turns one webhook into events, or says why it is refused.
func (p *Provider) webhookEvents(d *device, body webhookBody) ([]sdk.Event, int, string) {
	switch body.Event {
	case smsgateway.WebhookEventSystemPing:
		var ping pingPayload
		_ = json.Unmarshal(body.Payload, &ping) // the heartbeat counts even when its health is unreadable
		p.mu.Lock()
		if c, ok := ping.Health.Checks["battery:level"]; ok {
			d.battery = int(c.ObservedValue)
		}
		if c, ok := ping.Health.Checks["battery:charging"]; ok {
			d.charging = c.ObservedValue != 0
		}
		p.mu.Unlock()
		return nil, 0, ""
	case smsgateway.WebhookEventSmsReceived, smsgateway.WebhookEventSmsSent,
		smsgateway.WebhookEventSmsDelivered, smsgateway.WebhookEventSmsFailed:
	default:
		return nil, 0, "" // events this server did not ask for: taken and dropped
	}
	var pl smsPayload
	if err := json.Unmarshal(body.Payload, &pl); err != nil {
		return nil, http.StatusBadRequest, "payload: " + err.Error()
	}
	if body.Event == smsgateway.WebhookEventSmsReceived {
		ev, ok := p.inbound(d, pl)
		if !ok {
			return nil, http.StatusBadRequest, "payload: phoneNumber and message are required"
		}
		return []sdk.Event{ev}, 0, ""
	}
	return p.smsStatus(d, body.Event, pl), 0, ""
}

// inbound is an SMS the phone received. Its id is made from the content
// (the app's messageId is content-derived and not unique): the host drops
// repeats within the dedup window only, so the same text sent again later
// is a new message.
func (p *Provider) inbound(d *device, pl smsPayload) (sdk.Event, bool) {
	if pl.PhoneNumber == "" || pl.Message == "" {
		return sdk.Event{}, false
	}
	p.mu.Lock()
	to := ""
	switch {
	case pl.SimNumber != nil && d.sim(*pl.SimNumber) != nil:
		to = d.sim(*pl.SimNumber).Number
	case len(d.SIMs) == 1:
		to = d.SIMs[0].Number
	}
	window := p.s.InboundDedupWindow.D()
	p.mu.Unlock()
	sum := sha256.Sum256([]byte(strings.Join([]string{d.ID, pl.ReceivedAt.UTC().Format(time.RFC3339Nano), pl.PhoneNumber, pl.Message}, "\x00")))
	return sdk.Event{ID: "in/" + hex.EncodeToString(sum[:16]), DuplicateWindow: window,
		Inbound: &sdk.InboundEvent{ProviderMessageID: pl.MessageID, From: pl.PhoneNumber, To: to, Text: pl.Message, At: pl.ReceivedAt}}, true
}

// smsStatus turns sms:sent, sms:delivered and sms:failed into the same
// events the PATCH reports make (same ids), for messages the phone was
// given.
func (p *Provider) smsStatus(d *device, event string, pl smsPayload) []sdk.Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	g := p.recent.get(pl.MessageID)
	if g == nil || g.deviceID != d.ID {
		p.logf("phone reported a message it was not given; ignored", "device_id", d.ID, "message_id", pl.MessageID, "event", event)
		return nil
	}
	state, at := smsgateway.ProcessingStateSent, pl.SentAt
	switch event {
	case smsgateway.WebhookEventSmsDelivered:
		state, at = smsgateway.ProcessingStateDelivered, pl.DeliveredAt
	case smsgateway.WebhookEventSmsFailed:
		state, at = smsgateway.ProcessingStateFailed, pl.FailedAt
	}
	history := map[string]time.Time{}
	if !at.IsZero() {
		history[string(state)] = at
	}
	events := reportEvents(pl.MessageID, state, pl.Reason, history, p.now())
	for _, ev := range events {
		p.trackLocked(d, g, ev.Status.Status)
	}
	return unstoredLocked(g, events)
}
