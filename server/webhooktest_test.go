package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/core/egress"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
	"github.com/smsrouter/smsrouter/core/webhook"
)

// A test event goes to the account's webhook at once, signed with its
// secret, and the answer says what the receiver said; the egress policy
// applies to it as to every webhook.
func TestWebhookTestEvent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		type got struct {
			typ, sigOK string
			body       map[string]any
		}
		seen := make(chan got, 4)
		var secret string
		answer := http.StatusNoContent
		recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			ts, _ := strconv.ParseInt(r.Header.Get(webhook.HeaderTimestamp), 10, 64)
			var m map[string]any
			_ = json.Unmarshal(body, &m)
			seen <- got{r.Header.Get(webhook.HeaderEventType), strconv.FormatBool(r.Header.Get(webhook.HeaderSignature) == webhook.Sign(secret, ts, body)), m}
			w.WriteHeader(answer)
		}))
		t.Cleanup(recv.Close)
		allowed := egress.New(egress.Options{Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
		e := newAPIWith(t, allowed, st)[0]

		if a := e.call(t, "POST", "/api/v1/webhook/test", "sms", `{}`); a.code != 403 {
			t.Errorf("a send-only key: HTTP %d %s, want 403", a.code, a.raw)
		}
		if a := e.call(t, "POST", "/api/v1/webhook/test", "read", `{}`); a.code != 404 || !strings.Contains(a.raw, "PUT /api/v1/webhook") {
			t.Errorf("without a webhook: HTTP %d %s, want 404 saying how to set one", a.code, a.raw)
		}
		a := e.call(t, "PUT", "/api/v1/webhook", "read", fmt.Sprintf(`{"url":%q}`, recv.URL+"/hooks"))
		secret, _ = a.body["secret"].(string)

		a = e.call(t, "POST", "/api/v1/webhook/test", "read", `{}`)
		if a.code != 200 || a.body["delivered"] != true || a.body["http_status"] != float64(204) || a.body["error"] != nil ||
			!strings.HasPrefix(fmt.Sprint(a.body["event_id"]), "evt_") {
			t.Fatalf("test event: HTTP %d %s, want delivered with HTTP 204", a.code, a.raw)
		}
		g := <-seen
		if g.typ != "webhook.test" || g.sigOK != "true" || g.body["type"] != "webhook.test" || g.body["id"] != a.body["event_id"] {
			t.Errorf("the receiver got type %q, signature valid %s, body %v", g.typ, g.sigOK, g.body)
		}

		answer = http.StatusUnauthorized
		a = e.call(t, "POST", "/api/v1/webhook/test", "read", `{}`)
		if a.code != 200 || a.body["delivered"] != false || a.body["http_status"] != float64(401) || !strings.Contains(fmt.Sprint(a.body["error"]), "HTTP 401") {
			t.Errorf("a receiver answering 401: HTTP %d %s, want delivered false with the status", a.code, a.raw)
		}
		<-seen
		var n int64
		if err := st.DB().Table("webhook_deliveries").Count(&n).Error; err != nil || n != 0 {
			t.Errorf("%d deliveries stored (%v), want none: test events are not queued", n, err)
		}
	})
	// An installation with public webhooks only refuses a loopback URL
	// (stored before the policy changed) at dial time, as for any event.
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		e := newAPI(t, st)[0]
		if _, _, err := st.SetWebhook(context.Background(), e.acc, "http://127.0.0.1:9/hooks", false); err != nil {
			t.Fatal(err)
		}
		a := e.call(t, "POST", "/api/v1/webhook/test", "read", `{}`)
		if a.code != 200 || a.body["delivered"] != false || a.body["http_status"] != nil || !strings.Contains(fmt.Sprint(a.body["error"]), "refused") {
			t.Errorf("loopback under a public-only policy: HTTP %d %s, want refused", a.code, a.raw)
		}
	})
}
