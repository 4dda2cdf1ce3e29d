package server_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/egress"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
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
		var results []message.Attempt
		for _, m := range claimed {
			results = append(results, message.Attempt{MessageID: m.ID, Provider: "fast", Status: message.Sent,
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

// refusedURLHosts are URL hosts naming addresses webhooks may not go to by
// default, every spelling of them the issue met or a resolver accepts,
// with the kind of address the refusal names.
var refusedURLHosts = []struct{ host, kind string }{
	{"127.0.0.1", "loopback"},
	{"localhost", "loopback"},
	{"LOCALHOST.", "loopback"},
	{"hooks.localhost", "loopback"},
	{"[::1]", "loopback"},
	{"0.0.0.0", "unspecified"},
	{"[::]", "unspecified"},
	{"2130706433", "loopback"},
	{"0x7f000001", "loopback"},
	{"0177.0.0.1", "loopback"},
	{"127.1", "loopback"},
	{"10.0.0.1", "private"},
	{"172.16.0.1", "private"},
	{"192.168.0.1", "private"},
	{"100.64.0.1", "carrier-grade NAT"},
	{"169.254.169.254", "metadata"},
	{"[fd00:ec2::254]", "metadata"},
	{"169.254.10.1", "link-local"},
	{"[fe80::1]", "link-local"},
	{"[fc00::1]", "unique-local"},
	{"224.0.0.1", "multicast"},
	{"[ff02::1]", "multicast"},
	{"[::ffff:127.0.0.1]", "loopback"},
	{"[::ffff:a00:1]", "private"},
	{"[64:ff9b::7f00:1]", "NAT64"},
	{"[2002:a9fe:a9fe::]", "6to4"},
}

// Webhook URLs and callback_url pointing to refused addresses are refused
// when set, with the reason; an operator's allowed network is accepted.
func TestWebhookURLsKeepToEgressPolicy(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newAPI(t, st)[0]
		if a := e.call(t, "PUT", "/api/v1/webhook", "read", `{"url":""}`); a.code != 200 {
			t.Fatalf("PUT with an empty url: HTTP %d %s", a.code, a.raw)
		}
		for _, tt := range refusedURLHosts {
			t.Run(tt.host, func(t *testing.T) {
				url := "http://" + tt.host + ":8080/hooks?token=x"
				a := e.call(t, "PUT", "/api/v1/webhook", "read", fmt.Sprintf(`{"url":%q}`, url))
				if a.code != 422 || !strings.Contains(a.raw, "url must not point to") || !strings.Contains(a.raw, tt.kind) ||
					!strings.Contains(a.raw, "public addresses only") {
					t.Errorf("PUT %s: HTTP %d %s, want 422 naming a %s address", url, a.code, a.raw, tt.kind)
				}
				send := fmt.Sprintf(`{"to":"+959123456789","message":"hi","callback_url":%q}`, url)
				a = e.call(t, "POST", "/api/v1/sms/send", "admin", send)
				if a.code != 422 || !strings.Contains(a.raw, "callback_url must not point to") || !strings.Contains(a.raw, tt.kind) {
					t.Errorf("send with callback_url %s: HTTP %d %s, want 422 naming a %s address", url, a.code, a.raw, tt.kind)
				}
				bulk := fmt.Sprintf(`{"to":["+959123456789"],"message":"hi","callback_url":%q}`, url)
				if a := e.call(t, "POST", "/api/v1/sms/bulk", "admin", bulk); a.code != 422 || !strings.Contains(a.raw, "callback_url must not point to") {
					t.Errorf("bulk with callback_url %s: HTTP %d %s, want 422", url, a.code, a.raw)
				}
			})
		}
		if w, err := st.GetWebhook(context.Background(), e.acc); err != nil || w.URL != "" {
			t.Errorf("stored webhook %+v (%v), want the empty URL kept", w, err)
		}
	})
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		allowed := egress.New(egress.Options{Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.20.0.0/16")}})
		e := newAPIWith(t, allowed, st)[0]
		for _, url := range []string{"http://127.0.0.1:8080/hooks", "http://2130706433/hooks", "http://localhost:9000/", "http://10.20.0.5/hooks"} {
			if a := e.call(t, "PUT", "/api/v1/webhook", "read", fmt.Sprintf(`{"url":%q}`, url)); a.code != 200 || a.body["url"] != url {
				t.Errorf("PUT %s in an allowed network: HTTP %d %s, want 200", url, a.code, a.raw)
			}
			send := fmt.Sprintf(`{"to":"+959123456789","message":"hi %s","callback_url":%q}`, url, url)
			if a := e.call(t, "POST", "/api/v1/sms/send", "admin", send); a.code != 202 {
				t.Errorf("send with callback_url %s in an allowed network: HTTP %d %s, want 202", url, a.code, a.raw)
			}
		}
		for _, url := range []string{"http://10.21.0.1/hooks", "http://169.254.169.254/latest/meta-data/", "http://[::1]/"} {
			if a := e.call(t, "PUT", "/api/v1/webhook", "read", fmt.Sprintf(`{"url":%q}`, url)); a.code != 422 {
				t.Errorf("PUT %s outside the allowed networks: HTTP %d %s, want 422", url, a.code, a.raw)
			}
		}
	})
}

// After DELETE /api/v1/webhook, a send with a callback_url is refused at
// once, on the server that deleted it and on another sharing its database,
// even when that one accepted such a send just before.
func TestCallbackURLRefusedRightAfterDelete(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		nodes := newAPI(t, st, st)
		a, b := nodes[0], nodes[1]
		send := func(i int) string {
			return fmt.Sprintf(`{"to":"+959123456789","message":"hi %d","callback_url":"https://app.example/cb"}`, i)
		}
		const bulk = `{"to":["+959123456789","+959123456780"],"message":"hi all","callback_url":"https://app.example/cb"}`
		if r := a.call(t, "PUT", "/api/v1/webhook", "read", `{"url":""}`); r.code != 200 {
			t.Fatalf("PUT: HTTP %d %s", r.code, r.raw)
		}
		for i, n := range nodes {
			if r := n.call(t, "POST", "/api/v1/sms/send", "admin", send(i)); r.code != 202 {
				t.Fatalf("send with a secret: HTTP %d %s", r.code, r.raw)
			}
		}
		if r := a.call(t, "DELETE", "/api/v1/webhook", "read", ""); r.code != 204 {
			t.Fatalf("DELETE: HTTP %d %s", r.code, r.raw)
		}
		for i, n := range []*apiEnv{a, b} {
			for _, req := range []struct{ path, body string }{{"/api/v1/sms/send", send(10 + i)}, {"/api/v1/sms/bulk", bulk}} {
				r := n.call(t, "POST", req.path, "admin", req.body)
				if r.code != 422 || !strings.Contains(r.raw, "callback_url needs the account's webhook signing secret") ||
					!strings.Contains(r.raw, "PUT /api/v1/webhook") {
					t.Errorf("server %d: %s with callback_url after DELETE: HTTP %d %s, want the documented 422", i, req.path, r.code, r.raw)
				}
			}
		}
		// Sends without a callback_url go on.
		if r := b.call(t, "POST", "/api/v1/sms/send", "admin", `{"to":"+959123456789","message":"hi there"}`); r.code != 202 {
			t.Errorf("send without callback_url after DELETE: HTTP %d %s", r.code, r.raw)
		}
	})
}
