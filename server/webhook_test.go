package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
	"github.com/smsrouter/smsrouter/sdk"
)

func TestWebhookSettings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newAPI(t, st)[0]
		for _, tt := range []struct{ method, body string }{{"GET", ""}, {"PUT", `{"url":"https://app.example/hooks"}`}, {"DELETE", ""}} {
			if a := e.call(t, tt.method, "/api/v1/webhook", "sms", tt.body); a.code != 403 || !strings.Contains(a.raw, "receive_sms") {
				t.Errorf("%s /webhook with a send_sms key: HTTP %d %s, want 403 naming receive_sms", tt.method, a.code, a.raw)
			}
		}
		if a := e.call(t, "GET", "/api/v1/webhook", "read", ""); a.code != 404 || !strings.Contains(a.raw, "PUT /api/v1/webhook") {
			t.Errorf("GET before any: HTTP %d %s, want 404 saying how to set one", a.code, a.raw)
		}
		for _, body := range []string{`{}`, `{"url":"ftp://app.example/"}`, `{"url":"/hooks"}`, `{"url":"https://"}`,
			`{"url":"https://user:pw@app.example/"}`, `{"url":"https://app.example/%zz"}`, `{"url":42}`} {
			if a := e.call(t, "PUT", "/api/v1/webhook", "read", body); a.code != 422 || !strings.Contains(a.raw, "url") {
				t.Errorf("PUT %s: HTTP %d %s, want 422 about the url", body, a.code, a.raw)
			}
		}

		a := e.call(t, "PUT", "/api/v1/webhook", "read", `{"url":"https://app.example/hooks"}`)
		secret, _ := a.body["secret"].(string)
		if a.code != 200 || !strings.HasPrefix(secret, "whsec_") || a.body["url"] != "https://app.example/hooks" {
			t.Fatalf("first PUT: HTTP %d %s, want the URL and a new secret", a.code, a.raw)
		}
		a = e.call(t, "GET", "/api/v1/webhook", "read", "")
		if a.code != 200 || strings.Contains(a.raw, "whsec_") || a.body["url"] != "https://app.example/hooks" || a.body["created_at"] == nil {
			t.Errorf("GET: HTTP %d %s, want the URL and times without the secret", a.code, a.raw)
		}
		a = e.call(t, "PUT", "/api/v1/webhook", "admin", `{"url":"https://app.example/v2"}`)
		if a.code != 200 || a.body["secret"] != nil || a.body["url"] != "https://app.example/v2" {
			t.Errorf("changing the URL: HTTP %d %s, want no secret shown", a.code, a.raw)
		}
		a = e.call(t, "PUT", "/api/v1/webhook", "read", `{"url":"https://app.example/v2","rotate_secret":true}`)
		if rotated, _ := a.body["secret"].(string); a.code != 200 || !strings.HasPrefix(rotated, "whsec_") || rotated == secret {
			t.Errorf("rotating: HTTP %d %s, want a new secret", a.code, a.raw)
		}
		if w, err := st.GetWebhook(context.Background(), e.acc); err != nil || w.Secret == secret {
			t.Errorf("stored webhook %+v (%v), want the rotated secret", w, err)
		}
		if a := e.call(t, "DELETE", "/api/v1/webhook", "read", ""); a.code != 204 {
			t.Errorf("DELETE: HTTP %d %s", a.code, a.raw)
		}
		if a := e.call(t, "DELETE", "/api/v1/webhook", "read", ""); a.code != 404 {
			t.Errorf("second DELETE: HTTP %d %s, want 404", a.code, a.raw)
		}
	})
}

func TestSendWithCallbackURL(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newAPI(t, st)[0]
		const send = `{"to":"+959123456789","message":"hi","callback_url":%q}`
		body := func(url string) string { return strings.Replace(send, "%q", `"`+url+`"`, 1) }

		a := e.call(t, "POST", "/api/v1/sms/send", "admin", body("https://app.example/cb"))
		if a.code != 422 || !strings.Contains(a.raw, "PUT /api/v1/webhook") {
			t.Errorf("callback_url without a webhook secret: HTTP %d %s, want 422 saying to set one up", a.code, a.raw)
		}
		bulk := `{"to":["+959123456789","+959123456780"],"message":"hi","callback_url":"https://app.example/cb"}`
		if a := e.call(t, "POST", "/api/v1/sms/bulk", "admin", bulk); a.code != 422 || !strings.Contains(a.raw, "PUT /api/v1/webhook") {
			t.Errorf("bulk callback_url without a secret: HTTP %d %s, want 422", a.code, a.raw)
		}
		// A secret without an account URL: per-message callbacks only.
		if a := e.call(t, "PUT", "/api/v1/webhook", "read", `{"url":""}`); a.code != 200 || a.body["secret"] == nil {
			t.Fatalf("PUT with an empty url: HTTP %d %s", a.code, a.raw)
		}
		for _, bad := range []string{"ftp://app.example/cb", "app.example/cb", "https://app.example/cb#frag"} {
			if a := e.call(t, "POST", "/api/v1/sms/send", "admin", body(bad)); a.code != 422 || !strings.Contains(a.raw, "callback_url") {
				t.Errorf("callback_url %q: HTTP %d %s, want 422", bad, a.code, a.raw)
			}
		}
		a = e.call(t, "POST", "/api/v1/sms/send", "admin", body("https://app.example/cb"))
		if a.code != 202 {
			t.Fatalf("send with callback_url: HTTP %d %s", a.code, a.raw)
		}
		id, _ := a.body["message_id"].(string)
		a = e.call(t, "POST", "/api/v1/sms/bulk", "admin", bulk)
		if a.code != 202 || a.body["queued"] != float64(2) {
			t.Fatalf("bulk with callback_url: HTTP %d %s", a.code, a.raw)
		}
		msgs, _, err := st.ListMessages(context.Background(), e.acc, store.MessageFilter{Limit: 10})
		if err != nil || len(msgs) != 3 {
			t.Fatalf("stored %d messages (%v), want 3", len(msgs), err)
		}
		for _, m := range msgs {
			if m.CallbackURL != "https://app.example/cb" {
				t.Errorf("message %s stored callback_url %q", m.ID, m.CallbackURL)
			}
		}

		// The message is sent: its webhook shows, pending, with its URL.
		ctx := context.Background()
		claimed, err := st.ClaimDue(ctx, time.Now().Add(time.Minute), 10, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		var results []store.AttemptResult
		for _, m := range claimed {
			results = append(results, store.AttemptResult{MessageID: m.ID, Provider: "fast", Status: sdk.StatusSent,
				ProviderMessageID: "p-" + m.ID, At: time.Now()})
		}
		if err := st.RecordAttempts(ctx, results); err != nil {
			t.Fatal(err)
		}
		a = e.call(t, "GET", "/api/v1/sms/"+id+"/webhooks", "sms", "")
		hooks, _ := a.body["webhooks"].([]any)
		if a.code != 200 || len(hooks) != 1 {
			t.Fatalf("GET webhooks: HTTP %d %s, want one delivery", a.code, a.raw)
		}
		h := hooks[0].(map[string]any)
		if h["type"] != "message.sent" || h["state"] != "pending" || h["url"] != "https://app.example/cb" ||
			!strings.HasPrefix(h["event_id"].(string), "evt_") || h["next_attempt_at"] == nil || len(h["attempts"].([]any)) != 0 {
			t.Errorf("delivery %v, want a pending message.sent to the callback_url", h)
		}
		if a := e.call(t, "GET", "/api/v1/sms/msg_000000000000000000000000/webhooks", "sms", ""); a.code != 404 {
			t.Errorf("webhooks of an unknown message: HTTP %d %s, want 404", a.code, a.raw)
		}
	})
}
