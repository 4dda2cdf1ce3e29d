package store_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
)

// TestSentShowsTheSenderUsedAndNoErrorCode is the regression test for
// message.sent webhooks that carried the provider's acceptance code as
// "error_code":"OK", and for "from" left empty when the provider's default
// sender was used: a sent message records the sender the provider reports
// (never over the application's own) and its message.sent has no error code.
func TestSentShowsTheSenderUsedAndNoErrorCode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		setWebhook(t, s, msgAccount, "https://app.example/hooks")
		msgs := newMessages(3, []string{"a"}, msgStart)
		msgs[1].Sender = "MyShop"
		ids := insert(t, s, msgs...)
		claim(t, s, msgStart, 10, time.Minute)
		at := msgStart.Add(time.Second)
		record(t, s,
			message.Attempt{MessageID: ids[0], Provider: "a", Status: message.Sent, ProviderMessageID: "p0", Code: "OK", Sender: "SANDBOX", At: at},
			message.Attempt{MessageID: ids[1], Provider: "a", Status: message.Sent, ProviderMessageID: "p1", Code: "OK", Sender: "SANDBOX", At: at},
			message.Attempt{MessageID: ids[2], Provider: "a", Status: message.Sent, ProviderMessageID: "p2", Code: "200", At: at},
		)
		wantFrom := map[string]string{ids[0]: "SANDBOX", ids[1]: "MyShop", ids[2]: ""}
		for _, d := range outboxRows(t, s) {
			if strings.Contains(d.Payload, `"error_code"`) {
				t.Errorf("message.sent of %s carries an error code: %s", d.MessageID, d.Payload)
			}
			var ev struct {
				Data store.MessageEventData `json:"data"`
			}
			if err := json.Unmarshal([]byte(d.Payload), &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Data.From != wantFrom[d.MessageID] {
				t.Errorf("message.sent of %s has from %q, want %q", d.MessageID, ev.Data.From, wantFrom[d.MessageID])
			}
		}
		for id, want := range wantFrom {
			m, err := s.GetMessage(ctx, msgAccount, id)
			if err != nil {
				t.Fatal(err)
			}
			if m.Sender != want || m.ErrorCode != "" {
				t.Errorf("message %s: sender %q, error code %q; want sender %q and no code", id, m.Sender, m.ErrorCode, want)
			}
		}
	})
}
