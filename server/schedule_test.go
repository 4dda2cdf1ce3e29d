package server_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/pluginhost"
	"github.com/smsrouter/smsrouter/core/recordid"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
	"github.com/smsrouter/smsrouter/routing"
	"github.com/smsrouter/smsrouter/server"
)

func TestScheduledSendAndValidity(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newAPI(t, st)[0]
		ctx := context.Background()
		at := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
		a := e.call(t, "POST", "/api/v1/sms/send", "admin",
			fmt.Sprintf(`{"to":"+959123456789","message":"later","send_at":%q,"validity":600}`, at.Format(time.RFC3339)))
		if a.code != 202 || a.body["status"] != "queued" {
			t.Fatalf("scheduled send: HTTP %d %s, want 202 queued", a.code, a.raw)
		}
		id := a.body["message_id"].(string)
		m, err := st.GetMessage(ctx, e.acc, id)
		if err != nil {
			t.Fatal(err)
		}
		if !m.NextAttemptAt.Equal(at) || m.SendAt == nil || !m.SendAt.Equal(at) || !m.ExpiresAt.Equal(at.Add(10*time.Minute)) {
			t.Errorf("stored due %v send_at %v expires %v, want due and send_at %v, expiry 10 minutes later", m.NextAttemptAt, m.SendAt, m.ExpiresAt, at)
		}
		s := e.call(t, "GET", "/api/v1/sms/status/"+id, "admin", "")
		if s.code != 200 || s.body["send_at"] != at.Format(time.RFC3339) || s.body["status"] != "queued" {
			t.Errorf("status: HTTP %d %s, want queued with send_at %s", s.code, s.raw, at.Format(time.RFC3339))
		}
		b := e.call(t, "POST", "/api/v1/sms/status", "admin", `{"ids":["`+id+`"]}`)
		msgs, _ := b.body["messages"].([]any)
		if len(msgs) != 1 {
			t.Fatalf("batch status: %s", b.raw)
		}
		got := msgs[0].(map[string]any)
		if got["send_at"] != at.Format(time.RFC3339) || got["expires_at"] != at.Add(10*time.Minute).Format(time.RFC3339) {
			t.Errorf("message JSON send_at %v expires_at %v, want %s and 10 minutes later", got["send_at"], got["expires_at"], at.Format(time.RFC3339))
		}

		// Not scheduled: send_at is null (and absent from the guide's
		// status answer), expiry the configured default of 24h.
		a = e.call(t, "POST", "/api/v1/sms/send", "admin", `{"to":"+959123456789","message":"now"}`)
		now, _ := st.GetMessage(ctx, e.acc, a.body["message_id"].(string))
		if now.SendAt != nil || now.ExpiresAt.Sub(now.CreatedAt) != 24*time.Hour {
			t.Errorf("unscheduled message: send_at %v, validity %v; want none and 24h", now.SendAt, now.ExpiresAt.Sub(now.CreatedAt))
		}
		if s := e.call(t, "GET", "/api/v1/sms/status/"+now.ID, "admin", ""); strings.Contains(s.raw, "send_at") {
			t.Errorf("unscheduled status answer %s carries send_at", s.raw)
		}

		// Bulk: every recipient gets the schedule.
		a = e.call(t, "POST", "/api/v1/sms/bulk", "admin",
			fmt.Sprintf(`{"to":["+959123456789","+66812345678"],"message":"bulk later","send_at":%q}`, at.Format(time.RFC3339)))
		if a.code != 202 || a.body["queued"] != float64(2) {
			t.Fatalf("scheduled bulk: HTTP %d %s", a.code, a.raw)
		}
		for _, r := range a.body["results"].([]any) {
			m, _ := st.GetMessage(ctx, e.acc, r.(map[string]any)["message_id"].(string))
			if m.SendAt == nil || !m.SendAt.Equal(at) || !m.NextAttemptAt.Equal(at) {
				t.Errorf("bulk message %s send_at %v due %v, want %v", m.ID, m.SendAt, m.NextAttemptAt, at)
			}
		}
	})
}

func TestScheduleValidation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newAPI(t, st)[0]
		now := time.Now().UTC()
		rfc := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
		tests := []struct {
			name, path, body, want string
		}{
			{"send_at not a time", "send", `"send_at":"tomorrow"`, `send_at "tomorrow" is not an RFC 3339 time`},
			{"send_at in the past", "send", `"send_at":"` + rfc(-time.Hour) + `"`, "is in the past"},
			{"send_at beyond the horizon", "send", `"send_at":"` + rfc(31*24*time.Hour) + `"`, "messages can be scheduled at most 30 days ahead"},
			{"validity zero", "send", `"validity":0`, "validity is seconds the message may wait for a provider and must be positive"},
			{"validity too short", "send", `"validity":5`, "validity must be from 10 to 259200 seconds, got 5"},
			{"validity too long", "send", `"validity":259201`, "validity must be from 10 to 259200 seconds, got 259201"},
			{"validity not a number", "send", `"validity":"1h"`, "validity must be a whole number"},
			{"bulk send_at in the past", "bulk", `"send_at":"` + rfc(-time.Hour) + `"`, "is in the past"},
		}
		for i, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				to := `"+959123456789"`
				if tc.path == "bulk" {
					to = "[" + to + "]"
				}
				a := e.call(t, "POST", "/api/v1/sms/"+tc.path, "admin", fmt.Sprintf(`{"to":%s,"message":"m %d",%s}`, to, i, tc.body))
				if a.code != 422 || !strings.Contains(fmt.Sprint(a.body["error"]), tc.want) {
					t.Errorf("HTTP %d %s, want 422 with %q", a.code, a.raw, tc.want)
				}
			})
		}
		// A send_at a few seconds late (clock skew) goes at once.
		a := e.call(t, "POST", "/api/v1/sms/send", "admin", `{"to":"+959123456789","message":"skewed","send_at":"`+rfc(-10*time.Second)+`"}`)
		if a.code != 202 {
			t.Fatalf("send_at 10s in the past: HTTP %d %s, want 202", a.code, a.raw)
		}
		if m, _ := st.GetMessage(context.Background(), e.acc, a.body["message_id"].(string)); m.SendAt != nil {
			t.Errorf("a send_at in the past within the skew is kept as %v, want none (at once)", m.SendAt)
		}
	})
}

func TestCancel(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newAPI(t, st)[0]
		ctx := context.Background()
		send := func(text string) string {
			t.Helper()
			a := e.call(t, "POST", "/api/v1/sms/send", "admin", `{"to":"+959123456789","message":"`+text+`","send_at":"`+
				time.Now().Add(time.Hour).UTC().Format(time.RFC3339)+`"}`)
			if a.code != 202 {
				t.Fatalf("send: HTTP %d %s", a.code, a.raw)
			}
			return a.body["message_id"].(string)
		}

		if _, _, err := st.SetWebhook(ctx, e.acc, "https://app.example.com/sms-events", false); err != nil {
			t.Fatal(err)
		}
		balance := func() any { return e.call(t, "GET", "/api/v1/balance", "sms", "").body["balance"] }
		before := balance()
		id := send("cancel me")
		if charged := balance(); charged == before {
			t.Fatalf("balance %v after a send, want it charged", charged)
		}
		a := e.call(t, "DELETE", "/api/v1/sms/"+id, "sms", "")
		if a.code != 200 || a.body["status"] != "failed" || a.body["error_code"] != store.CancelledCode || a.body["failed_at"] == nil || a.body["message_id"] != id {
			t.Fatalf("cancel: HTTP %d %s, want 200 failed with error_code %s", a.code, a.raw, store.CancelledCode)
		}
		if got := balance(); got != before {
			t.Errorf("balance %v after the cancel, want the charge refunded (%v)", got, before)
		}
		hooks, err := st.MessageWebhooks(ctx, e.acc, id)
		if err != nil || len(hooks) != 1 || hooks[0].Type != "message.failed" {
			t.Errorf("webhooks of the cancelled message: %+v, %v; want one message.failed", hooks, err)
		}
		if s := e.call(t, "GET", "/api/v1/sms/status/"+id, "sms", ""); s.body["status"] != "failed" {
			t.Errorf("status after cancel: %s", s.raw)
		}
		a = e.call(t, "DELETE", "/api/v1/sms/"+id, "sms", "")
		if a.code != 409 || a.body["code"] != "not_cancellable" || a.body["status"] != "failed" || !strings.Contains(fmt.Sprint(a.body["error"]), "already final") {
			t.Errorf("second cancel: HTTP %d %s, want 409 not_cancellable", a.code, a.raw)
		}

		// Being sent right now: a dispatcher holds it.
		busy := e.call(t, "POST", "/api/v1/sms/send", "admin", `{"to":"+959123456789","message":"busy"}`).body["message_id"].(string)
		if got, err := st.ClaimDue(ctx, time.Now(), 10, time.Minute); err != nil || len(got) != 1 || got[0].ID != busy {
			t.Fatalf("ClaimDue = %v, %v", got, err)
		}
		a = e.call(t, "DELETE", "/api/v1/sms/"+busy, "sms", "")
		if a.code != 409 || a.body["code"] != "sending" || a.body["status"] != "queued" {
			t.Errorf("cancel while sending: HTTP %d %s, want 409 sending", a.code, a.raw)
		}
		// Accepted by a provider.
		if err := st.RecordAttempts(ctx, []message.Attempt{{MessageID: busy, Provider: "fast", Status: "sent", ProviderMessageID: "p-1", At: time.Now()}}); err != nil {
			t.Fatal(err)
		}
		a = e.call(t, "DELETE", "/api/v1/sms/"+busy, "sms", "")
		if a.code != 409 || a.body["code"] != "not_cancellable" || !strings.Contains(fmt.Sprint(a.body["error"]), "already accepted by a provider") {
			t.Errorf("cancel after sending: HTTP %d %s, want 409 not_cancellable", a.code, a.raw)
		}

		for name, c := range map[string]struct {
			key, id string
			code    int
		}{
			"unknown id":            {"sms", "msg_doesnotexist", 404},
			"without send_sms":      {"read", send("no permission"), 403},
			"another account's one": {"sms", foreignMessage(t, st), 404},
		} {
			if a := e.call(t, "DELETE", "/api/v1/sms/"+c.id, c.key, ""); a.code != c.code {
				t.Errorf("%s: HTTP %d %s, want %d", name, a.code, a.raw, c.code)
			}
		}
	})
}

// foreignMessage stores a queued message of another account.
func foreignMessage(t *testing.T, st *store.Store) string {
	t.Helper()
	acc, err := st.CreateAccount(context.Background(), "other")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	m := &store.Message{ID: recordid.New("msg_"), AccountID: acc.ID, Recipient: "+959123456789", Text: "theirs", Encoding: "gsm7",
		Segments: 1, Kind: "sms", Status: "queued", Plan: `["fast"]`, NextAttemptAt: now.Add(time.Hour), ExpiresAt: now.Add(2 * time.Hour),
		CreatedAt: now, UpdatedAt: now}
	if err := storetest.InsertMessages(context.Background(), st, []*store.Message{m}); err != nil {
		t.Fatal(err)
	}
	return m.ID
}

type fixedStates []pluginhost.ProviderStatus

func (f fixedStates) Statuses() []pluginhost.ProviderStatus { return f }

func TestAdminProvidersShowLimits(t *testing.T) {
	st := storetest.Open(t, store.DriverSQLite)
	ctx := context.Background()
	acc, err := st.CreateAccount(ctx, "ops")
	if err != nil {
		t.Fatal(err)
	}
	raw, _, err := st.CreateAPIKey(ctx, acc.ID, "admin", []string{account.PermSystemAdmin})
	if err != nil {
		t.Fatal(err)
	}
	svc := core.NewService(st, routing.NewRouter(nil, nil), nil, core.Options{})
	ts := httptest.NewServer(server.New(server.Options{Keys: st, Accounts: svc,
		Providers: fixedStates{{Name: "fast", Plugin: "sandbox", State: "running", Healthy: true}, {Name: "slow", Plugin: "sandbox"}},
		ProviderLimits: func() map[string]config.Limits {
			return map[string]config.Limits{"slow": {TPS: 2.5, Concurrency: 4}}
		}}))
	defer ts.Close()
	e := &apiEnv{url: ts.URL, keys: map[string]string{"admin": raw}}
	a := e.call(t, "GET", "/api/v1/admin/providers", "admin", "")
	list, _ := a.body["providers"].([]any)
	if a.code != 200 || len(list) != 2 {
		t.Fatalf("HTTP %d %s", a.code, a.raw)
	}
	for i, want := range []string{`"limits":{"tps":null,"concurrency":null}`, `"limits":{"tps":2.5,"concurrency":4}`} {
		if p := list[i].(map[string]any); p["state"] == nil || !strings.Contains(a.raw, want) {
			t.Errorf("provider %v: %s, want %s beside its plugin state", p["name"], a.raw, want)
		}
	}
}
