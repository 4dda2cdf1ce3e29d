package phonetest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/android-sms-gateway/client-go/smsgateway"
)

// Message is a message as the server lists it in GET /message.
type Message = smsgateway.MobileMessage

// SIMCard is one SIM as the app reports it in POST and PATCH /device. The
// app's own registration types in client-go predate SIM reporting, so this
// shape is the simulator's: simNumber is the 1-based slot that a message's
// simNumber selects.
type SIMCard struct {
	SIMNumber   int    `json:"simNumber"`
	PhoneNumber string `json:"phoneNumber,omitempty"`
	CarrierName string `json:"carrierName,omitempty"`
	CountryISO  string `json:"countryIso,omitempty"`
}

// RegisterRequest is the body of POST /device. The app omits pushToken when
// it has none (SSE-only phones, which is what the simulator is).
type RegisterRequest struct {
	Name      string    `json:"name"`
	PushToken *string   `json:"pushToken,omitempty"`
	SIMCards  []SIMCard `json:"simCards"`
}

// UpdateRequest is the body of PATCH /device, sent on every later start.
type UpdateRequest struct {
	ID        string    `json:"id"`
	PushToken *string   `json:"pushToken,omitempty"`
	SIMCards  []SIMCard `json:"simCards"`
}

// Webhook event names the app posts.
const (
	EventSmsReceived  = smsgateway.WebhookEventSmsReceived
	EventSmsSent      = smsgateway.WebhookEventSmsSent
	EventSmsDelivered = smsgateway.WebhookEventSmsDelivered
	EventSmsFailed    = smsgateway.WebhookEventSmsFailed
	EventSystemPing   = smsgateway.WebhookEventSystemPing
)

// WebhookEvent is the body the app posts to a webhook URL.
type WebhookEvent struct {
	DeviceID  string          `json:"deviceId"`
	Event     string          `json:"event"`
	ID        string          `json:"id"`
	Payload   json.RawMessage `json:"payload"`
	WebhookID string          `json:"webhookId"`
}

// SentPayload is the payload of sms:sent.
type SentPayload struct {
	MessageID   string `json:"messageId"`
	PhoneNumber string `json:"phoneNumber"`
	SIMNumber   *int   `json:"simNumber"`
	PartsCount  int    `json:"partsCount"`
	SentAt      string `json:"sentAt"`
}

// DeliveredPayload is the payload of sms:delivered.
type DeliveredPayload struct {
	MessageID   string `json:"messageId"`
	PhoneNumber string `json:"phoneNumber"`
	SIMNumber   *int   `json:"simNumber"`
	DeliveredAt string `json:"deliveredAt"`
}

// FailedPayload is the payload of sms:failed.
type FailedPayload struct {
	MessageID   string `json:"messageId"`
	PhoneNumber string `json:"phoneNumber"`
	SIMNumber   *int   `json:"simNumber"`
	FailedAt    string `json:"failedAt"`
	Reason      string `json:"reason"`
}

// ReceivedPayload is the payload of sms:received. Its messageId is derived
// from the content, as the app's is, so it is not unique.
type ReceivedPayload struct {
	MessageID   string `json:"messageId"`
	Message     string `json:"message"`
	PhoneNumber string `json:"phoneNumber"`
	SIMNumber   *int   `json:"simNumber"`
	ReceivedAt  string `json:"receivedAt"`
}

// PingPayload is the payload of system:ping.
type PingPayload struct {
	Health smsgateway.HealthResponse `json:"health"`
}

// appTime is how the app writes times in webhook payloads: the phone's local
// time with its offset, to the millisecond.
const appTime = "2006-01-02T15:04:05.000Z07:00"

// encodeLikeApp marshals v the way the app's JSON library does: besides the
// & < > that encoding/json escapes already, it escapes = and ' as \u003d and
// \u0027. Both can only occur inside strings in JSON, so replacing them in
// the encoded bytes is safe. Servers must verify signatures on the raw bytes.
func encodeLikeApp(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	b = bytes.ReplaceAll(b, []byte("="), []byte(`\u003d`))
	b = bytes.ReplaceAll(b, []byte("'"), []byte(`\u0027`))
	return b, nil
}

// Sign is the app's webhook signature: hex HMAC-SHA256 over the raw body
// followed by the X-Timestamp value.
func Sign(key string, body []byte, timestamp string) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write(body)
	mac.Write([]byte(timestamp))
	return hex.EncodeToString(mac.Sum(nil))
}

// stateRank orders the states a recipient moves through; Failed is handled
// apart because the message-level state ignores failed recipients unless all
// failed.
var stateRank = map[smsgateway.ProcessingState]int{
	smsgateway.ProcessingStatePending:   0,
	smsgateway.ProcessingStateProcessed: 1,
	smsgateway.ProcessingStateSent:      2,
	smsgateway.ProcessingStateDelivered: 3,
}

// messageState derives the message-level state from the recipients as the
// app does: the least advanced of the recipients that did not fail, or
// Failed when every recipient failed. So a message can be Delivered while
// one recipient Failed.
func messageState(recipients []smsgateway.RecipientState) smsgateway.ProcessingState {
	best := smsgateway.ProcessingState("")
	for _, r := range recipients {
		if r.State == smsgateway.ProcessingStateFailed {
			continue
		}
		if best == "" || stateRank[r.State] < stateRank[best] {
			best = r.State
		}
	}
	if best == "" {
		return smsgateway.ProcessingStateFailed
	}
	return best
}

// nowIn is the phone's clock reading in its own zone.
func nowIn(loc *time.Location) time.Time { return time.Now().In(loc) }
