package android_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/plugins/android"
	"github.com/smsrouter/smsrouter/sdk"
	"github.com/smsrouter/smsrouter/sdk/hooktest"
)

// TestPhoneWebhooks checks what the kit cannot: a webhook signed with an
// old timestamp, another phone's key or for an unknown phone is refused
// without events, and each kind of event is read.
func TestPhoneWebhooks(t *testing.T) {
	p := android.New()
	settings := fmt.Sprintf(`{"private_token":%q,"state_file":%q}`, privateToken, kitState(t))
	if err := p.Configure(context.Background(), sdk.Config{Name: "a", Settings: json.RawMessage(settings), HookURL: kitHookURL}); err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	received := map[string]any{"messageId": "m1", "message": "hi", "phoneNumber": "+959791111111", "receivedAt": "2026-12-07T13:00:00+07:00"}
	tests := []struct {
		name    string
		req     func() sdk.HookRequest
		status  int
		inbound int
	}{
		{"signed now", func() sdk.HookRequest { return signedWebhook(t, "sms:received", received) }, 204, 1},
		{"signed ten minutes ago (a replay)", func() sdk.HookRequest {
			return signedWebhookAt(t, time.Now().Add(-10*time.Minute), "sms:received", received)
		}, 401, 0},
		{"timestamp changed after signing", func() sdk.HookRequest {
			r := signedWebhook(t, "sms:received", received)
			r.Header.Set("X-Timestamp", strconv.FormatInt(time.Now().Unix()+1, 10))
			return r
		}, 401, 0},
		{"signature of other bytes", func() sdk.HookRequest {
			r := signedWebhook(t, "sms:received", received)
			r.Body = append(r.Body[:len(r.Body)-1], ' ', '}')
			return r
		}, 401, 0},
		{"unknown phone", func() sdk.HookRequest {
			r := signedWebhook(t, "sms:received", received)
			var body map[string]any
			_ = json.Unmarshal(r.Body, &body)
			body["deviceId"] = "nobody"
			r.Body, _ = json.Marshal(body)
			return r
		}, 401, 0},
		{"payload of the wrong shape", func() sdk.HookRequest { return signedWebhook(t, "sms:received", []int{1}) }, 400, 0},
		{"inbound without a sender", func() sdk.HookRequest {
			return signedWebhook(t, "sms:received", map[string]any{"message": "hi"})
		}, 400, 0},
		{"an event not asked for", func() sdk.HookRequest { return signedWebhook(t, "mms:received", map[string]any{}) }, 204, 0},
		{"GET", func() sdk.HookRequest {
			r := signedWebhook(t, "system:ping", map[string]any{})
			r.Method = http.MethodGet
			return r
		}, 405, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req()
			rec := hooktest.NewRecorder()
			if err := p.HandleHook(context.Background(), &req, rec); err != nil {
				t.Fatal(err)
			}
			if rec.Err != nil {
				t.Fatal(rec.Err)
			}
			if rec.Code != tc.status || len(rec.Events) != tc.inbound {
				t.Errorf("answered %d with %d events (%s), want %d with %d", rec.Code, len(rec.Events), rec.Body.String(), tc.status, tc.inbound)
			}
		})
	}
}

func TestFailureWords(t *testing.T) {
	tests := []struct {
		err    string
		status sdk.Status
		code   string
	}{
		{"Send result: RESULT_ERROR_GENERIC_FAILURE (Generic failure cause)", sdk.StatusFailed, "RESULT_ERROR_GENERIC_FAILURE"},
		{"Send result: RESULT_ERROR_NO_SERVICE", sdk.StatusFailed, "RESULT_ERROR_NO_SERVICE"},
		{"TTL expired", sdk.StatusExpired, "EXPIRED"},
		{"Message expired", sdk.StatusExpired, "EXPIRED"},
		{"", sdk.StatusFailed, ""},
		{"something new", sdk.StatusFailed, ""},
	}
	for _, tc := range tests {
		st, code := android.Failure(tc.err)
		if st != tc.status || code != tc.code {
			t.Errorf("%q → %s %q, want %s %q", tc.err, st, code, tc.status, tc.code)
		}
	}
}
