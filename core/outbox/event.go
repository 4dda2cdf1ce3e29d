package outbox

import "github.com/smsrouter/smsrouter/core/message"

// EventType names a webhook event as applications receive it (X-Event-Type,
// the body's "type") and as deliveries are stored.
type EventType string

// Webhook event types.
const (
	EventMessageSent      EventType = "message.sent"
	EventMessageDelivered EventType = "message.delivered"
	EventMessageFailed    EventType = "message.failed"
	EventMessageReceived  EventType = "message.received"
	// EventBalanceLow is sent when a charge takes an account's balance
	// below its low-balance threshold.
	EventBalanceLow EventType = "balance.low"
	// EventOTPReceived is sent when a message to a number an account
	// leased (core/numbers) carries a one-time code. Its body is the
	// virtual-number API's (seed 001): {"event": "otp_received", "data":
	// {...}}, without the id, type and created_at of the others.
	EventOTPReceived EventType = "otp_received"
	// EventOTPCode is sent with EventOTPReceived, in the project's own
	// shape (id, type, created_at, data) for applications that parse the
	// other events: data has the message id, from, to, code, text and
	// provider.
	EventOTPCode EventType = "otp.received"
)

// EventTypeFor names the webhook event a message's move to status causes,
// or "" for statuses applications are not told about (queued, pending).
// unknown counts as a failure to report: the provider stopped telling us,
// and a later delivered report still sends message.delivered.
func EventTypeFor(status message.Status) EventType {
	switch status {
	case message.Sent:
		return EventMessageSent
	case message.Delivered:
		return EventMessageDelivered
	case message.Failed, message.Expired, message.Rejected, message.Undeliverable, message.Unknown:
		return EventMessageFailed
	}
	return ""
}
