package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/smsrouter/smsrouter/core/outbox"
	"github.com/smsrouter/smsrouter/core/recordid"
)

// EventWebhookTest is the type of the event "send test event" sends: an
// application can tell it from real events and answer it with 2xx.
const EventWebhookTest = "webhook.test"

// WebhookTrier sends one webhook now, the way the deliverer sends every
// webhook (signed, through the egress policy, with its timeout), and
// records nothing; *webhook.Deliverer is one.
type WebhookTrier interface {
	Try(ctx context.Context, d outbox.Delivery) outbox.Result
}

// ErrNoWebhookTrier means the service was built without a WebhookTrier.
var ErrNoWebhookTrier = errors.New("this server cannot send test webhooks")

// WebhookTest is the outcome of one test event.
type WebhookTest struct {
	EventID    string
	URL        string
	Delivered  bool
	HTTPStatus int
	// Error says why the event was not delivered, as the message's
	// webhook attempts say it.
	Error    string
	Duration time.Duration
}

// testEvent is the test event's body, shaped like every other event.
type testEvent struct {
	ID        string        `json:"id"`
	Type      string        `json:"type"`
	CreatedAt time.Time     `json:"created_at"`
	Data      testEventData `json:"data"`
}

type testEventData struct {
	AccountID string `json:"account_id"`
	Note      string `json:"note"`
}

// TestWebhook sends a signed test event to the account's webhook URL at
// once and reports what the receiver answered. Nothing is stored and the
// event is not retried: the answer is the result. account.ErrNotFound
// when the account has no webhook URL.
func (s *Service) TestWebhook(ctx context.Context, accountID string) (WebhookTest, error) {
	if s.webhooks == nil {
		return WebhookTest{}, ErrNoWebhookTrier
	}
	hook, err := s.store.GetWebhook(ctx, accountID)
	if err != nil {
		return WebhookTest{}, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	ev := testEvent{ID: recordid.New("evt_"), Type: EventWebhookTest, CreatedAt: now,
		Data: testEventData{AccountID: accountID, Note: "a test event sent from the console or POST /api/v1/webhook/test; answer it with 2xx"}}
	body, err := json.Marshal(ev)
	if err != nil {
		return WebhookTest{}, fmt.Errorf("encode the test event: %w", err)
	}
	r := s.webhooks.Try(ctx, outbox.Delivery{EventID: ev.ID, AccountID: accountID, Type: EventWebhookTest, Payload: string(body),
		Attempts: 1, CreatedAt: now, URL: hook.URL, Secret: hook.Secret})
	s.log.Info("test webhook sent", "account", accountID, "event", ev.ID, "http_status", r.HTTPStatus, "delivered", r.Error == "")
	return WebhookTest{EventID: ev.ID, URL: hook.URL, Delivered: r.Error == "", HTTPStatus: r.HTTPStatus, Error: r.Error, Duration: r.Duration}, nil
}
