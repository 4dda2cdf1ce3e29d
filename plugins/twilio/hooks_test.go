package twilio_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/smsrouter/smsrouter/plugins/twilio"
	"github.com/smsrouter/smsrouter/plugins/twilio/twiliotest"
	"github.com/smsrouter/smsrouter/sdk"
	"github.com/smsrouter/smsrouter/sdk/hooktest"
)

const (
	hookToken = "hook-test-auth-token"
	hookBase  = "https://sms.example.com/api/v1/providers/twilio-1/hooks"
)

func hookProvider(t *testing.T, extra map[string]any) *twilio.Provider {
	t.Helper()
	doc := map[string]any{"account_sid": "AC00000000000000000000000000000000", "auth_token": hookToken, "base_url": "http://127.0.0.1:1"}
	for k, v := range extra {
		doc[k] = v
	}
	b, _ := json.Marshal(doc)
	return configured(t, b, hookBase)
}

// signedRequest is a POST of body to hookBase+path signed with token.
func signedRequest(t *testing.T, path, body, token string) *sdk.HookRequest {
	t.Helper()
	form, err := url.ParseQuery(body)
	if err != nil {
		t.Fatal(err)
	}
	u := hookBase + path
	return &sdk.HookRequest{Method: http.MethodPost, URL: u, Path: path, Body: []byte(body),
		Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "X-Twilio-Signature": {twilio.Signature(token, u, form)}}}
}

type hookFixture struct {
	Name      string `json:"name"`
	Path      string `json:"path"`
	Body      string `json:"body"`
	WantHTTP  int    `json:"want_http"`
	WantBody  string `json:"want_body"`
	WantEvent *struct {
		ID                string `json:"id"`
		ProviderMessageID string `json:"provider_message_id"`
		Status            string `json:"status"`
		ProviderStatus    string `json:"provider_status"`
		ErrorCode         string `json:"error_code"`
		At                string `json:"at"`
		From              string `json:"from"`
		To                string `json:"to"`
		Text              string `json:"text"`
	} `json:"want_event"`
}

// TestHookFixtures runs recorded callback bodies, signed, through the
// handler and compares the events with the golden ones in testdata.
func TestHookFixtures(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "hooks.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fixtures []hookFixture
	if err := json.Unmarshal(raw, &fixtures); err != nil {
		t.Fatal(err)
	}
	p := hookProvider(t, nil)
	for _, fx := range fixtures {
		t.Run(fx.Name, func(t *testing.T) {
			rec := hooktest.NewRecorder()
			if err := p.HandleHook(t.Context(), signedRequest(t, fx.Path, fx.Body, hookToken), rec); err != nil {
				t.Fatalf("HandleHook: %v", err)
			}
			if rec.Code != fx.WantHTTP {
				t.Errorf("HTTP %d (%s), want %d", rec.Code, rec.Body.String(), fx.WantHTTP)
			}
			if fx.WantBody != "" {
				if rec.Body.String() != fx.WantBody || rec.HeaderMap.Get("Content-Type") != "text/xml" {
					t.Errorf("answer %q (%s), want %q as text/xml", rec.Body.String(), rec.HeaderMap.Get("Content-Type"), fx.WantBody)
				}
			}
			if rec.Err != nil {
				t.Errorf("handler broke the hook writer's contract: %v", rec.Err)
			}
			if fx.WantEvent == nil {
				if len(rec.Events) != 0 {
					t.Errorf("events %+v, want none", rec.Events)
				}
				return
			}
			if len(rec.Events) != 1 {
				t.Fatalf("events %+v, want one", rec.Events)
			}
			ev, w := rec.Events[0], fx.WantEvent
			if ev.ID != w.ID {
				t.Errorf("event id %q, want %q", ev.ID, w.ID)
			}
			switch {
			case w.Status != "":
				st := ev.Status
				if st == nil || ev.Inbound != nil {
					t.Fatalf("event %+v is not a status event", ev)
				}
				if st.ProviderMessageID != w.ProviderMessageID || string(st.Status) != w.Status ||
					st.ProviderStatus != w.ProviderStatus || st.ErrorCode != w.ErrorCode {
					t.Errorf("status event %+v, want %+v", *st, *w)
				}
				if w.At != "" && st.At.Format(time.RFC3339) != w.At {
					t.Errorf("status event at %s, want %s", st.At.Format(time.RFC3339), w.At)
				}
			default:
				in := ev.Inbound
				if in == nil || ev.Status != nil {
					t.Fatalf("event %+v is not an inbound event", ev)
				}
				if in.ProviderMessageID != w.ProviderMessageID || in.From != w.From || in.To != w.To || in.Text != w.Text {
					t.Errorf("inbound event %+v, want %+v", *in, *w)
				}
			}
		})
	}
}

func TestStatusMapping(t *testing.T) {
	p := hookProvider(t, nil)
	cases := []struct {
		status, code string
		want         sdk.Status
	}{
		{"accepted", "", sdk.StatusQueued},
		{"scheduled", "", sdk.StatusQueued},
		{"queued", "", sdk.StatusQueued},
		{"sending", "", sdk.StatusQueued},
		{"sent", "", sdk.StatusSent},
		{"delivered", "", sdk.StatusDelivered},
		{"read", "", sdk.StatusDelivered},
		{"partially_delivered", "", sdk.StatusUndeliverable},
		{"undelivered", "30003", sdk.StatusUndeliverable},
		{"undelivered", "30005", sdk.StatusUndeliverable},
		{"undelivered", "30006", sdk.StatusUndeliverable},
		{"undelivered", "30008", sdk.StatusUndeliverable},
		{"undelivered", "30004", sdk.StatusRejected},
		{"undelivered", "30007", sdk.StatusRejected},
		{"failed", "30007", sdk.StatusRejected},
		{"failed", "30036", sdk.StatusExpired},
		{"failed", "30008", sdk.StatusFailed},
		{"failed", "", sdk.StatusFailed},
		{"canceled", "", sdk.StatusFailed},
		{"DELIVERED", "", sdk.StatusDelivered},
		{"something_new", "", sdk.StatusUnknown},
	}
	for _, tc := range cases {
		t.Run(tc.status+"/"+tc.code, func(t *testing.T) {
			body := url.Values{"MessageSid": {"SM1"}, "MessageStatus": {tc.status}}
			if tc.code != "" {
				body.Set("ErrorCode", tc.code)
			}
			rec := hooktest.NewRecorder()
			if err := p.HandleHook(t.Context(), signedRequest(t, "/status", body.Encode(), hookToken), rec); err != nil {
				t.Fatal(err)
			}
			if rec.Code != http.StatusOK || len(rec.Events) != 1 || rec.Events[0].Status == nil {
				t.Fatalf("HTTP %d, events %+v", rec.Code, rec.Events)
			}
			st := rec.Events[0].Status
			if st.Status != tc.want || st.ErrorCode != tc.code {
				t.Errorf("%s (%s) mapped to %s with code %q, want %s", tc.status, tc.code, st.Status, st.ErrorCode, tc.want)
			}
			if want := "SM1/" + strings.ToLower(tc.status); rec.Events[0].ID != want {
				t.Errorf("event id %q, want %q", rec.Events[0].ID, want)
			}
		})
	}
}

// TestHookAuthentication checks that every request failing authentication
// gets 403 and emits nothing, under each hook_auth mode.
func TestHookAuthentication(t *testing.T) {
	const body = "MessageSid=SM1&MessageStatus=delivered"
	const secret = "0123456789abcdef-secret"
	signed := func(mut func(r *sdk.HookRequest)) func(t *testing.T) *sdk.HookRequest {
		return func(t *testing.T) *sdk.HookRequest {
			r := signedRequest(t, "/status", body, hookToken)
			if mut != nil {
				mut(r)
			}
			return r
		}
	}
	plain := func(mut func(r *sdk.HookRequest)) func(t *testing.T) *sdk.HookRequest {
		return func(t *testing.T) *sdk.HookRequest {
			r := &sdk.HookRequest{Method: http.MethodPost, URL: hookBase + "/delivery-notification", Path: "/delivery-notification",
				Body: []byte("MessageSid=SM1&SmsStatus=delivered"), Header: http.Header{}}
			if mut != nil {
				mut(r)
			}
			return r
		}
	}
	cases := []struct {
		name     string
		settings map[string]any
		req      func(t *testing.T) *sdk.HookRequest
		want     int
	}{
		{"signed", nil, signed(nil), http.StatusOK},
		{"signed with the secondary token", map[string]any{"auth_token": "rotated-new-token", "secondary_auth_token": hookToken}, signed(nil), http.StatusOK},
		{"missing signature", nil, signed(func(r *sdk.HookRequest) { r.Header.Del("X-Twilio-Signature") }), http.StatusForbidden},
		{"garbage signature", nil, signed(func(r *sdk.HookRequest) { r.Header.Set("X-Twilio-Signature", "AAAA") }), http.StatusForbidden},
		{"signed by another token", nil, func(t *testing.T) *sdk.HookRequest { return signedRequest(t, "/status", body, "other-token") }, http.StatusForbidden},
		{"body tampered", nil, signed(func(r *sdk.HookRequest) { r.Body = []byte("MessageSid=SM1&MessageStatus=failed") }), http.StatusForbidden},
		{"url tampered", nil, signed(func(r *sdk.HookRequest) { r.URL = strings.Replace(r.URL, "twilio-1", "twilio-2", 1) }), http.StatusForbidden},
		{"query added", nil, signed(func(r *sdk.HookRequest) { r.URL += "?x=1" }), http.StatusForbidden},
		{"connector unsigned under twilio_signature", nil, plain(nil), http.StatusForbidden},
		{"connector with header secret", map[string]any{"hook_auth": "shared_secret", "hook_secret": secret},
			plain(func(r *sdk.HookRequest) { r.Header.Set("X-Hook-Secret", secret) }), http.StatusOK},
		{"connector with query secret", map[string]any{"hook_auth": "shared_secret", "hook_secret": secret},
			plain(func(r *sdk.HookRequest) { r.URL += "?secret=" + secret }), http.StatusOK},
		{"connector with the callback token", map[string]any{"hook_auth": "shared_secret", "hook_secret": secret},
			plain(func(r *sdk.HookRequest) { r.URL += "?token=" + twilio.CallbackToken(secret, "twilio-test") }), http.StatusOK},
		{"connector with the secret as token", map[string]any{"hook_auth": "shared_secret", "hook_secret": secret},
			plain(func(r *sdk.HookRequest) { r.URL += "?token=" + secret }), http.StatusForbidden},
		{"connector with wrong secret", map[string]any{"hook_auth": "shared_secret", "hook_secret": secret},
			plain(func(r *sdk.HookRequest) { r.Header.Set("X-Hook-Secret", secret+"x") }), http.StatusForbidden},
		{"connector without secret", map[string]any{"hook_auth": "shared_secret", "hook_secret": secret}, plain(nil), http.StatusForbidden},
		{"twilio signature is no shared secret", map[string]any{"hook_auth": "shared_secret", "hook_secret": secret}, signed(nil), http.StatusForbidden},
		{"verification off", map[string]any{"hook_auth": "none"}, plain(nil), http.StatusOK},
		{"GET refused", nil, signed(func(r *sdk.HookRequest) { r.Method = http.MethodGet }), http.StatusMethodNotAllowed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := hookProvider(t, tc.settings)
			rec := hooktest.NewRecorder()
			if err := p.HandleHook(t.Context(), tc.req(t), rec); err != nil {
				t.Fatalf("HandleHook: %v", err)
			}
			if rec.Code != tc.want {
				t.Errorf("HTTP %d (%s), want %d", rec.Code, strings.TrimSpace(rec.Body.String()), tc.want)
			}
			if tc.want != http.StatusOK && len(rec.Events) != 0 {
				t.Errorf("refused request emitted %+v", rec.Events)
			}
			if tc.want == http.StatusOK && len(rec.Events) != 1 {
				t.Errorf("accepted request emitted %+v, want one event", rec.Events)
			}
		})
	}
}

// TestFakeCallbacksOverHTTP runs the whole loop over real HTTP: the
// provider sends to the fake API with our hook URL as StatusCallback, the
// fake posts signed callbacks there, and they become status events; a
// forged one is refused. Then a signed inbound message.
func TestFakeCallbacksOverHTTP(t *testing.T) {
	f := fake(t, twiliotest.Options{Reports: func(to string) []twiliotest.Report {
		if to == "+15558675399" {
			return []twiliotest.Report{{Status: "sent"}, {Status: "undelivered", ErrorCode: "30003"}}
		}
		return []twiliotest.Report{{Status: "queued"}, {Status: "sent"}, {Status: "delivered"}}
	}})
	var p *twilio.Provider
	var hh *hookHost
	hh = newHookHost(t, hookFunc(func(ctx context.Context, r *sdk.HookRequest, w sdk.HookResponseWriter) error {
		return p.HandleHook(ctx, r, w)
	}))
	p = configured(t, settingsFor(t, f, nil), hh.hookURL())

	res, err := p.Send(t.Context(), []sdk.Message{
		{ID: "msg_1", To: "+15558675310", Text: "Hello ✓"},
		{ID: "msg_2", To: "+15558675399", Text: "Hello again"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Outcome != sdk.Accepted {
			t.Fatalf("result %+v, want accepted", r)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	deliveries, err := f.AwaitDeliveries(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range deliveries {
		if d.Err != nil || d.HTTPStatus != http.StatusOK {
			t.Errorf("callback %+v was not answered 200", d)
		}
		if d.URL != hh.hookURL()+"/status" {
			t.Errorf("callback went to %s, want %s", d.URL, hh.hookURL()+"/status")
		}
	}
	final := map[string]sdk.Status{}
	for _, ev := range hh.events() {
		if ev.Status != nil && ev.Status.Status.Final() {
			final[ev.Status.ProviderMessageID] = ev.Status.Status
		}
	}
	if final[res[0].ProviderMessageID] != sdk.StatusDelivered || final[res[1].ProviderMessageID] != sdk.StatusUndeliverable {
		t.Errorf("final statuses %v, want %s delivered and %s undeliverable", final, res[0].ProviderMessageID, res[1].ProviderMessageID)
	}

	// A forged report: right shape, signed with a guessed token.
	before := len(hh.events())
	form := f.StatusForm(twiliotest.Message{SID: res[0].ProviderMessageID, To: "+15558675310"}, twiliotest.Report{Status: "failed"})
	code, _, err := f.PostWithSignature(ctx, hh.hookURL()+"/status", form, twiliotest.Sign("guessed", hh.hookURL()+"/status", form))
	if err != nil || code != http.StatusForbidden {
		t.Errorf("forged callback answered %d, %v; want 403", code, err)
	}
	code, _, err = f.PostWithSignature(ctx, hh.hookURL()+"/status", form, "")
	if err != nil || code != http.StatusForbidden {
		t.Errorf("unsigned callback answered %d, %v; want 403", code, err)
	}
	if got := len(hh.events()); got != before {
		t.Errorf("refused callbacks produced %d events", got-before)
	}

	sid, code, answer, err := f.Inbound(ctx, hh.hookURL()+"/receive", "+15558675310", "+15017122661", "Hi there")
	if err != nil || code != http.StatusOK || !strings.Contains(answer, "<Response></Response>") {
		t.Fatalf("inbound answered %d %q, %v", code, answer, err)
	}
	evs := hh.events()
	if in := evs[len(evs)-1].Inbound; in == nil || in.ProviderMessageID != sid || in.Text != "Hi there" || in.From != "+15558675310" {
		t.Errorf("last event %+v, want the inbound message %s", evs[len(evs)-1], sid)
	}
}

type hookFunc func(ctx context.Context, r *sdk.HookRequest, w sdk.HookResponseWriter) error

func (f hookFunc) HandleHook(ctx context.Context, r *sdk.HookRequest, w sdk.HookResponseWriter) error {
	return f(ctx, r, w)
}

// TestRefusedCallbackLogKeepsSecretsOut checks that the warning about a
// refused callback names the URL without the shared secret in it.
func TestRefusedCallbackLogKeepsSecretsOut(t *testing.T) {
	const secret = "0123456789abcdef-secret"
	var logs bytes.Buffer
	p := twilio.New()
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	settings := `{"account_sid":"AC1","auth_token":"the-auth-token","hook_auth":"shared_secret","hook_secret":"` + secret + `"}`
	logger := hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Debug})
	if err := p.Configure(t.Context(), sdk.Config{Name: "tw", Settings: json.RawMessage(settings), HookURL: hookBase, Logger: logger}); err != nil {
		t.Fatal(err)
	}
	rec := hooktest.NewRecorder()
	req := &sdk.HookRequest{Method: http.MethodPost, URL: hookBase + "/status?secret=" + secret + "-almost", Path: "/status",
		Body: []byte("MessageSid=SM1&MessageStatus=delivered"), Header: http.Header{}}
	if err := p.HandleHook(t.Context(), req, rec); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusForbidden {
		t.Fatalf("HTTP %d, want 403", rec.Code)
	}
	for _, leak := range []string{secret, "the-auth-token"} {
		if strings.Contains(logs.String(), leak) || strings.Contains(rec.Body.String(), leak) {
			t.Errorf("log or answer contains a secret:\n%s\n%s", logs.String(), rec.Body.String())
		}
	}
	if !strings.Contains(logs.String(), "refused a callback") {
		t.Errorf("no warning about the refused callback:\n%s", logs.String())
	}
}

// TestSharedSecretCallbackURLIsAccepted is the regression test for a
// gateway with hook_auth = "shared_secret" that posts reports back to the
// StatusCallback URL exactly as handed out (it knows no X-Hook-Secret
// header): they are accepted, the URL carries a token derived from the
// secret and never the secret itself, and a wrong token is refused.
func TestSharedSecretCallbackURLIsAccepted(t *testing.T) {
	const secret = "0123456789abcdef-secret"
	f := fake(t, twiliotest.Options{Reports: func(string) []twiliotest.Report {
		return []twiliotest.Report{{Status: "sent"}, {Status: "delivered"}}
	}})
	var p *twilio.Provider
	hh := newHookHost(t, hookFunc(func(ctx context.Context, r *sdk.HookRequest, w sdk.HookResponseWriter) error {
		return p.HandleHook(ctx, r, w)
	}))
	p = configured(t, settingsFor(t, f, map[string]any{"hook_auth": "shared_secret", "hook_secret": secret}), hh.hookURL())

	res, err := p.Send(t.Context(), []sdk.Message{{ID: "msg_1", To: "+15558675310", Text: "Hello"}})
	if err != nil || res[0].Outcome != sdk.Accepted {
		t.Fatalf("Send = %+v, %v; want accepted", res, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	deliveries, err := f.AwaitDeliveries(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	handedOut := f.Messages()[0].StatusCallback
	wantURL := hh.hookURL() + "/status?token=" + twilio.CallbackToken(secret, "twilio-test")
	if handedOut != wantURL || strings.Contains(handedOut, secret) {
		t.Errorf("StatusCallback = %s, want %s (a token, never the secret)", handedOut, wantURL)
	}
	for _, d := range deliveries {
		if d.Err != nil || d.HTTPStatus != http.StatusOK || d.URL != handedOut {
			t.Errorf("report %+v posted to the URL handed out was not answered 200", d)
		}
	}
	if evs := hh.events(); len(evs) != 2 || evs[1].Status == nil || evs[1].Status.Status != sdk.StatusDelivered {
		t.Errorf("events %+v, want sent then delivered", evs)
	}

	form := f.StatusForm(f.Messages()[0], twiliotest.Report{Status: "failed"})
	for name, target := range map[string]string{
		"wrong token":            hh.hookURL() + "/status?token=" + twilio.CallbackToken(secret+"x", "twilio-test"),
		"another provider token": hh.hookURL() + "/status?token=" + twilio.CallbackToken(secret, "twilio-other"),
		"empty token":            hh.hookURL() + "/status?token=",
	} {
		before := len(hh.events())
		if code, body, err := f.PostWithSignature(ctx, target, form, ""); err != nil || code != http.StatusForbidden {
			t.Errorf("%s: answered %d %q, %v; want 403", name, code, body, err)
		}
		if got := len(hh.events()); got != before {
			t.Errorf("%s: a refused report emitted %d events", name, got-before)
		}
	}
}
