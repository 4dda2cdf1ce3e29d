package twilio_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/plugins/twilio"
	"github.com/smsrouter/smsrouter/plugins/twilio/twiliotest"
	"github.com/smsrouter/smsrouter/sdk"
	"github.com/smsrouter/smsrouter/sdk/hooktest"
)

// badSettings are configurations Configure must refuse, with the text the
// error has to contain.
var badSettings = []struct {
	name, settings, field string
}{
	{"empty", ``, "account_sid and auth_token"},
	{"unknown key", `{"account_sid":"AC1","auth_token":"t","token":"x"}`, "setting token: unknown setting"},
	{"no account", `{"auth_token":"t"}`, "account_sid"},
	{"account with slash", `{"account_sid":"AC1/../x","auth_token":"t"}`, "account_sid"},
	{"no token", `{"account_sid":"AC1"}`, "auth_token"},
	{"base url not http", `{"account_sid":"AC1","auth_token":"t","base_url":"ftp://x"}`, "base_url"},
	{"base url no host", `{"account_sid":"AC1","auth_token":"t","base_url":"http://"}`, "base_url"},
	{"base url with credentials", `{"account_sid":"AC1","auth_token":"t","base_url":"http://u:p@x"}`, "base_url"},
	{"timeout not a duration", `{"account_sid":"AC1","auth_token":"t","request_timeout":"soon"}`, "request_timeout"},
	{"timeout too long", `{"account_sid":"AC1","auth_token":"t","request_timeout":"1h"}`, "request_timeout"},
	{"validity too long", `{"account_sid":"AC1","auth_token":"t","validity_period":"11h"}`, "validity_period"},
	{"batch zero", `{"account_sid":"AC1","auth_token":"t","max_batch_size":0}`, "max_batch_size"},
	{"concurrency huge", `{"account_sid":"AC1","auth_token":"t","max_concurrency":1000}`, "max_concurrency"},
	{"hook auth unknown", `{"account_sid":"AC1","auth_token":"t","hook_auth":"maybe"}`, "hook_auth"},
	{"shared secret short", `{"account_sid":"AC1","auth_token":"t","hook_auth":"shared_secret","hook_secret":"abc"}`, "hook_secret"},
	{"secret without mode", `{"account_sid":"AC1","auth_token":"t","hook_secret":"0123456789abcdef"}`, "hook_secret"},
	{"trailing data", `{"account_sid":"AC1","auth_token":"t"} {}`, "after the settings object"},
}

func TestConfigureRejectsBadSettings(t *testing.T) {
	for _, tc := range badSettings {
		t.Run(tc.name, func(t *testing.T) {
			p := twilio.New()
			defer p.Close(context.Background())
			err := p.Configure(t.Context(), sdk.Config{Name: "tw", Settings: json.RawMessage(tc.settings)})
			if err == nil {
				t.Fatalf("settings %s accepted", tc.settings)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error %q does not name %s", err, tc.field)
			}
		})
	}
}

func TestConfigureNeverEchoesTheToken(t *testing.T) {
	p := twilio.New()
	defer p.Close(context.Background())
	err := p.Configure(t.Context(), sdk.Config{Name: "tw", Settings: json.RawMessage(`{"account_sid":"AC1","auth_token":"s3cr3t-token-value","max_batch_size":-1}`)})
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error %v", err)
	}
}

func TestSendRequestShape(t *testing.T) {
	f := fake(t, twiliotest.Options{})
	p := configured(t, settingsFor(t, f, map[string]any{"messaging_service_sid": "MG123", "validity_period": "1h"}), "https://sms.example.com/api/v1/providers/tw/hooks/")
	res, err := p.Send(t.Context(), []sdk.Message{
		{ID: "msg_a", To: "+15558675310", Text: "Hello ✓ & more"},
		{ID: "msg_b", To: "+15558675311", From: "ACME", Text: "From a name"},
	})
	if err != nil {
		t.Fatal(err)
	}
	sent := f.Messages()
	if len(sent) != 2 || len(res) != 2 {
		t.Fatalf("results %+v, fake saw %+v", res, sent)
	}
	byTo := map[string]twiliotest.Message{}
	for _, m := range sent {
		byTo[m.To] = m
	}
	for i, want := range []struct{ to, from, body string }{
		{"+15558675310", "+15017122661", "Hello ✓ & more"},
		{"+15558675311", "ACME", "From a name"},
	} {
		m := byTo[want.to]
		if res[i].Outcome != sdk.Accepted || res[i].ProviderMessageID != m.SID || !strings.HasPrefix(m.SID, "SM") {
			t.Errorf("result %d %+v, fake sid %q", i, res[i], m.SID)
		}
		if m.From != want.from || m.Body != want.body || m.MessagingServiceSID != "MG123" || m.ValidityPeriod != "3600" {
			t.Errorf("fake got %+v", m)
		}
		if m.StatusCallback != "https://sms.example.com/api/v1/providers/tw/hooks/status" {
			t.Errorf("StatusCallback %q", m.StatusCallback)
		}
	}
}

// TestSendErrorClassification checks how each kind of upstream answer
// becomes an outcome.
func TestSendErrorClassification(t *testing.T) {
	cases := []struct {
		name        string
		answer      *twiliotest.Answer
		to          string
		want        sdk.Outcome
		code        string
		reason      string
		retryAfter  time.Duration
		unhealthy   bool
		noSender    bool
		wantRequest bool
	}{
		{name: "invalid number (fake's own check)", to: "12345", want: sdk.Permanent, code: "21211", reason: "invalid To number"},
		{name: "not a mobile", answer: &twiliotest.Answer{HTTPStatus: 400, Code: 21614, Message: "not a mobile number"}, want: sdk.Permanent, code: "21614", reason: "not a mobile number"},
		{name: "unsubscribed", answer: &twiliotest.Answer{HTTPStatus: 400, Code: 21610, Message: "Attempt to send to unsubscribed recipient"}, want: sdk.Permanent, code: "21610", reason: "unsubscribed"},
		{name: "unknown 400", answer: &twiliotest.Answer{HTTPStatus: 400, Code: 21999, Message: "odd"}, want: sdk.Permanent, code: "21999", reason: "HTTP 400: odd"},
		{name: "throttled with retry-after", answer: &twiliotest.Answer{HTTPStatus: 429, Code: 20429, Message: "Too Many Requests", RetryAfter: "7"}, want: sdk.Temporary, code: "20429", reason: "too many requests", retryAfter: 7 * time.Second},
		{name: "throttled without retry-after", answer: &twiliotest.Answer{HTTPStatus: 429, Code: 20429, Message: "Too Many Requests"}, want: sdk.Temporary, code: "20429", retryAfter: time.Second},
		{name: "sender queue full", answer: &twiliotest.Answer{HTTPStatus: 400, Code: 21611, Message: "queue full"}, want: sdk.Temporary, code: "21611", reason: "queue is full", retryAfter: time.Second},
		{name: "server error", answer: &twiliotest.Answer{HTTPStatus: 503, RawBody: "<html>down</html>", RetryAfter: "2"}, want: sdk.OutcomeUnavailable, code: "503", reason: "down", retryAfter: 2 * time.Second},
		{name: "bad gateway empty", answer: &twiliotest.Answer{HTTPStatus: 502, RawBody: " "}, want: sdk.OutcomeUnavailable, code: "502", reason: "empty body"},
		{name: "credentials", answer: &twiliotest.Answer{HTTPStatus: 401, Code: 20003, Message: "Authenticate"}, want: sdk.OutcomeAccountError, code: "20003", reason: "credentials", unhealthy: true},
		{name: "created without sid", answer: &twiliotest.Answer{HTTPStatus: 201, RawBody: `{"status":"queued"}`}, want: sdk.Temporary, code: "201", reason: "without a message sid"},
		{name: "created not json", answer: &twiliotest.Answer{HTTPStatus: 201, RawBody: `<Response/>`}, want: sdk.Temporary, code: "201", reason: "may duplicate"},
		{name: "no sender", noSender: true, want: sdk.Permanent, code: "NO_SENDER", reason: "no sender"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := fake(t, twiliotest.Options{})
			extra := map[string]any{}
			if tc.noSender {
				extra["from"] = nil
			}
			p := configured(t, settingsFor(t, f, extra), "")
			if tc.answer != nil {
				f.AnswerNext(*tc.answer)
			}
			to := tc.to
			if to == "" {
				to = "+15558675310"
			}
			res, err := p.Send(t.Context(), []sdk.Message{{ID: "msg_x", To: to, Text: "hi"}})
			if err != nil {
				t.Fatal(err)
			}
			r := res[0]
			if r.MessageID != "msg_x" || r.Outcome != tc.want || r.Code != tc.code || !strings.Contains(r.Reason, tc.reason) {
				t.Errorf("result %+v, want %s code %s reason containing %q", r, tc.want, tc.code, tc.reason)
			}
			if tc.retryAfter != 0 && r.RetryAfter != tc.retryAfter {
				t.Errorf("RetryAfter %s, want %s", r.RetryAfter, tc.retryAfter)
			}
			if tc.unhealthy {
				// The fake itself accepts our credentials; check with a
				// provider whose token is wrong.
				bad := configured(t, settingsFor(t, f, map[string]any{"auth_token": "wrong"}), "")
				h, err := bad.Health(t.Context())
				if err != nil || h.OK || !strings.Contains(h.Detail, "credentials") {
					t.Errorf("Health with wrong credentials = %+v, %v", h, err)
				}
			}
		})
	}
}

func TestSendTransportFailures(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		p := configured(t, json.RawMessage(fmt.Sprintf(`{"account_sid":"AC1","auth_token":"t","from":"+15017122661","base_url":"http://%s"}`, addr)), "")
		res, err := p.Send(t.Context(), []sdk.Message{{ID: "m", To: "+15558675310", Text: "x"}})
		if err != nil {
			t.Fatal(err)
		}
		if res[0].Outcome != sdk.Temporary || !strings.Contains(res[0].Reason, "unreachable") {
			t.Errorf("result %+v, want Temporary unreachable", res[0])
		}
		h, _ := p.Health(t.Context())
		if h.OK || !strings.Contains(h.Detail, "unreachable") {
			t.Errorf("Health %+v", h)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		f := fake(t, twiliotest.Options{})
		f.SetLatency(time.Minute)
		p := configured(t, settingsFor(t, f, map[string]any{"request_timeout": "1s"}), "")
		res, err := p.Send(t.Context(), []sdk.Message{{ID: "m", To: "+15558675310", Text: "x"}})
		if err != nil {
			t.Fatal(err)
		}
		if res[0].Outcome != sdk.Temporary || !strings.Contains(res[0].Reason, "did not answer in time") {
			t.Errorf("result %+v, want Temporary timeout", res[0])
		}
	})
	t.Run("cancelled in flight", func(t *testing.T) {
		f := fake(t, twiliotest.Options{})
		f.SetLatency(time.Minute)
		p := configured(t, settingsFor(t, f, map[string]any{"max_concurrency": 1}), "")
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan []sdk.SendResult, 1)
		go func() {
			res, _ := p.Send(ctx, []sdk.Message{{ID: "a", To: "+15558675310", Text: "x"}, {ID: "b", To: "+15558675311", Text: "y"}})
			done <- res
		}()
		if err := f.AwaitRequests(ctx, 1); err != nil {
			t.Fatal(err)
		}
		cancel()
		select {
		case res := <-done:
			if len(res) != 2 || res[0].Outcome != sdk.Temporary || res[1].Outcome != sdk.Temporary || res[1].MessageID != "b" {
				t.Errorf("results %+v, want both Temporary in order", res)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Send did not return after cancel")
		}
	})
}

// TestBatchRunsConcurrentlyInOrder checks that a batch is sent with up to
// max_concurrency requests at a time and the results keep message order.
func TestBatchRunsConcurrentlyInOrder(t *testing.T) {
	f := fake(t, twiliotest.Options{})
	f.SetLatency(50 * time.Millisecond)
	p := configured(t, settingsFor(t, f, map[string]any{"max_batch_size": 40, "max_concurrency": 20}), "")
	msgs := make([]sdk.Message, 40)
	for i := range msgs {
		msgs[i] = sdk.Message{ID: fmt.Sprintf("msg_%02d", i), To: fmt.Sprintf("+1555867%04d", i), Text: "x"}
	}
	msgs[7].To = "bad" // one refusal in the middle keeps its place
	start := time.Now()
	res, err := p.Send(t.Context(), msgs)
	if err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed > 40*50*time.Millisecond/2 {
		t.Errorf("40 messages at 50ms each took %s; they were not sent concurrently", elapsed)
	}
	sidTo := map[string]string{}
	for _, m := range f.Messages() {
		sidTo[m.SID] = m.To
	}
	for i, r := range res {
		if r.MessageID != msgs[i].ID {
			t.Fatalf("result %d is for %s, want %s", i, r.MessageID, msgs[i].ID)
		}
		if i == 7 {
			if r.Outcome != sdk.Permanent {
				t.Errorf("result 7 %+v, want Permanent", r)
			}
			continue
		}
		if r.Outcome != sdk.Accepted || sidTo[r.ProviderMessageID] != msgs[i].To {
			t.Errorf("result %d %+v does not match the send to %s", i, r, msgs[i].To)
		}
	}
	if _, err := p.Send(t.Context(), make([]sdk.Message, 41)); err == nil {
		t.Error("a batch over max_batch_size was attempted")
	}
}

func TestHealthBalanceAndStatusQuery(t *testing.T) {
	f := fake(t, twiliotest.Options{Balance: "12.34", Currency: "eur", Reports: func(string) []twiliotest.Report { return nil }})
	p := configured(t, settingsFor(t, f, nil), "http://127.0.0.1:1/hooks")

	h, err := p.Health(t.Context())
	if err != nil || !h.OK {
		t.Errorf("Health %+v, %v", h, err)
	}
	b, err := p.Balance(t.Context())
	if err != nil || b.Amount != 12.34 || b.Currency != "EUR" {
		t.Errorf("Balance %+v, %v", b, err)
	}
	res, err := p.Send(t.Context(), []sdk.Message{{ID: "m1", To: "+15558675310", Text: "x"}, {ID: "m2", To: "+15558675311", Text: "y"}})
	if err != nil {
		t.Fatal(err)
	}
	// The callback URL is unreachable, so this report only shows in a query.
	if _, err := f.Report(t.Context(), res[1].ProviderMessageID, twiliotest.Report{Status: "failed", ErrorCode: "30036"}); err == nil {
		t.Fatal("report to an unreachable callback URL succeeded")
	}
	evs, err := p.QueryStatus(t.Context(), []string{res[0].ProviderMessageID, "SMunknown", res[1].ProviderMessageID})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]sdk.StatusEvent{}
	for _, ev := range evs {
		got[ev.ProviderMessageID] = ev
	}
	if len(evs) != 2 || got[res[0].ProviderMessageID].Status != sdk.StatusQueued ||
		got[res[1].ProviderMessageID].Status != sdk.StatusExpired || got[res[1].ProviderMessageID].ErrorCode != "30036" {
		t.Errorf("QueryStatus = %+v", evs)
	}

	bad := configured(t, settingsFor(t, f, map[string]any{"auth_token": "wrong"}), "")
	if _, err := bad.Balance(t.Context()); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("Balance with wrong credentials: %v", err)
	}
	if _, err := bad.QueryStatus(t.Context(), []string{res[0].ProviderMessageID}); err == nil {
		t.Error("QueryStatus with wrong credentials succeeded")
	}
}

func TestNotConfiguredAndClosed(t *testing.T) {
	p := twilio.New()
	if _, err := p.Send(t.Context(), nil); err == nil {
		t.Error("Send before Configure succeeded")
	}
	rec := hooktest.NewRecorder()
	if err := p.HandleHook(t.Context(), &sdk.HookRequest{Method: http.MethodPost, Path: "/status"}, rec); err == nil {
		t.Error("HandleHook before Configure succeeded")
	}
	if err := p.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := p.Configure(t.Context(), sdk.Config{Settings: json.RawMessage(`{"account_sid":"AC1","auth_token":"t"}`)}); err == nil {
		t.Error("Configure after Close succeeded")
	}
	if h, _ := p.Health(t.Context()); h.OK {
		t.Error("closed provider reports healthy")
	}
}

// TestAcceptedReportsTheSenderUsed: a message without a sender goes out
// from the configured default, and the result says so for the host.
func TestAcceptedReportsTheSenderUsed(t *testing.T) {
	f := fake(t, twiliotest.Options{Reports: func(string) []twiliotest.Report { return nil }})
	p := configured(t, settingsFor(t, f, nil), "")
	res, err := p.Send(t.Context(), []sdk.Message{{ID: "m1", To: "+15558675310", Text: "hi"}, {ID: "m2", To: "+15558675311", From: "+15017122662", Text: "hi"}})
	if err != nil || res[0].Outcome != sdk.Accepted || res[1].Outcome != sdk.Accepted {
		t.Fatalf("Send = %+v, %v", res, err)
	}
	if res[0].Sender != "+15017122661" || res[1].Sender != "" {
		t.Errorf("senders %q and %q, want +15017122661 (the default used) and none (the message's own)", res[0].Sender, res[1].Sender)
	}
}
