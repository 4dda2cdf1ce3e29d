package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/android-sms-gateway/client-go/smsgateway"

	"github.com/smsrouter/smsrouter/core/store/storetest"
	"github.com/smsrouter/smsrouter/core/webhook"
	"github.com/smsrouter/smsrouter/plugins/android/phonetest"
)

const (
	androidE2EToken    = "e2e-private-token-0123456789abcdef"
	androidE2ETokenEnv = "SMSROUTER_E2E_ANDROID_PRIVATE_TOKEN"
)

// writeAndroidConfig is a host with one android provider. The plugin's
// lease and ping interval are short so that a phone that vanished is noticed
// within the test: a message it did not take goes to the other phone after
// the lease (5s), and it counts offline three pings (3s) after its stream
// dropped. With a lease of 1s a loaded machine could take longer than the
// lease to carry a healthy phone's report back, so its message was taken
// back and its report ignored.
func writeAndroidConfig(t *testing.T, dir string, port int, database string, extra ...string) string {
	t.Helper()
	cfg := fmt.Sprintf(`
server {
  listen     = "127.0.0.1:%[1]d"
  public_url = "http://127.0.0.1:%[1]d"
}
%[2]s
provider "android-1" {
  plugin = "android"
  config = {
    private_token = env(%[3]q)
    lease         = "5s"
    keepalive     = "1s"
    ping_interval = "1s"
    rate_limit    = 1000
    rate_period   = "1s"
%[4]s
  }
}
route "default" {
  default    = true
  candidates = ["android-1"]
}
# The phones' SIM numbers join the numbers inventory; a message to one
# that nobody leases belongs to the account a rule names.
inbound "phones" {
  match   = "provider == 'android-1'"
  account = "default"
}
api {
  sms_per_minute = 0
}
webhooks {
  allowed_networks = ["127.0.0.0/8"]
}
`, port, database, androidE2ETokenEnv, strings.Join(extra, "\n"))
	path := filepath.Join(dir, "smsrouter.hcl")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// finalEvents is the application's webhook endpoint: it verifies each
// event and counts, per message, the final ones (message.delivered,
// message.failed) it was told of.
type finalEvents struct {
	t      *testing.T
	mu     sync.Mutex
	secret string
	final  map[string][]string // message id → final event types, in order
}

func (f *finalEvents) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := webhook.Verify(f.secret, r.Header.Get("X-Signature"), r.Header.Get("X-Timestamp"), body, 5*time.Minute, time.Now()); err != nil {
		f.t.Errorf("webhook: %v", err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var ev struct {
		Type string `json:"type"`
		Data struct {
			MessageID string `json:"message_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		f.t.Errorf("webhook body %s: %v", body, err)
	}
	if ev.Type == "message.delivered" || ev.Type == "message.failed" {
		f.final[ev.Data.MessageID] = append(f.final[ev.Data.MessageID], ev.Type)
	}
	w.WriteHeader(http.StatusOK)
}

// TestAndroidTwoPhonesOneVanishes runs `smsrouter serve` with the android
// plugin and two simulated phones speaking the app's mobile API through the
// host's hook forwarding. Phone B vanishes in the middle of a message (it
// took it, then its network went), so the messages offered to it and not
// taken go to phone A after the lease; when B comes back it reports what it
// sent while away, replaying each report twice. Every accepted message ends
// delivered, told once to the application, and no SMS left two phones.
func TestAndroidTwoPhonesOneVanishes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			dir := t.TempDir()
			database := fmt.Sprintf("database {\n  driver = \"sqlite\"\n  path   = %q\n}", filepath.Join(dir, "data", "smsrouter.db"))
			if db == "postgres" {
				database = fmt.Sprintf("database {\n  driver = \"postgres\"\n  dsn    = %q\n}", storetest.PostgresDSN(t))
			}
			twoPhonesOneVanishes(t, dir, database)
		})
	}
}

func twoPhonesOneVanishes(t *testing.T, dir, database string) {
	t.Setenv(androidE2ETokenEnv, androidE2EToken)
	port := freeLoopbackPort(t)
	h := startHost(t, writeAndroidConfig(t, dir, port, database))
	base := fmt.Sprintf("http://127.0.0.1:%d/api/v1/providers/android-1/hooks/mobile/v1", port)

	events := &finalEvents{t: t, final: map[string][]string{}}
	recv := httptest.NewServer(events)
	t.Cleanup(recv.Close)
	code, body := h.call(t, "PUT", "/api/v1/webhook", fmt.Sprintf(`{"url":%q}`, recv.URL+"/events"))
	if code != http.StatusOK {
		t.Fatalf("PUT /webhook: HTTP %d %v", code, body)
	}
	events.mu.Lock()
	events.secret, _ = body["secret"].(string)
	events.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a := phonetest.New(t, base, phonetest.Options{PrivateToken: androidE2EToken, Name: "phone-a",
		SIMs: []phonetest.SIM{{Number: "+959790000001", Operator: "ATOM", Country: "mm"}}})
	b := phonetest.New(t, base, phonetest.Options{PrivateToken: androidE2EToken, Name: "phone-b", DuplicatePatches: 1,
		SIMs: []phonetest.SIM{{Number: "+959250000002", Operator: "MPT", Country: "mm"}}})
	for _, ph := range []*phonetest.Phone{a, b} {
		if err := ph.WaitWebhooks(ctx, phonetest.EventSmsSent, phonetest.EventSmsDelivered, phonetest.EventSmsReceived); err != nil {
			t.Fatalf("%v; host log:\n%s", err, h.stderr)
		}
	}

	// B takes its first message, reports Processed, and vanishes.
	vanished := b.GoSilentAfter(smsgateway.ProcessingStateProcessed)
	const n = 30
	ids := make([]string, 0, n)
	for i := range n {
		ids = append(ids, h.sendTo(t, fmt.Sprintf("+9597%08d", 10000000+i), fmt.Sprintf("e2e android %d", i)))
	}
	var taken string
	select {
	case taken = <-vanished:
	case <-ctx.Done():
		t.Fatalf("phone B never took a message; host log:\n%s", h.stderr)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("B vanished after taking %s; the messages as each phone has them:\nA: %v\nB: %v",
				taken, phoneStates(a, ids), phoneStates(b, ids))
		}
	})

	// The message B took is sent, and stays so while B is away; every other
	// one ends delivered through A, among them those B had pulled but not
	// reported taken (the plugin gives them to A after the lease).
	rest := without(ids, []string{taken})
	if got := h.awaitFinal(t, rest, 45*time.Second); got["delivered"] != len(rest) {
		t.Fatalf("messages other than B's ended %v, want %d delivered", got, len(rest))
	}
	if st := h.statusOf(t, taken); st != "sent" {
		t.Errorf("message %s, taken by B before it vanished, is %q while B is away; want sent", taken, st)
	}

	// B comes back and reports, each twice, what it sent while away: its
	// message ends delivered; its reports about messages given to A since
	// change nothing.
	b.Reconnect()
	if err := b.WaitFlushed(ctx); err != nil {
		t.Fatal(err)
	}
	if got := h.awaitFinal(t, ids, 45*time.Second); got["delivered"] != n {
		t.Fatalf("messages ended %v, want %d delivered", got, n)
	}

	// What went on the air: each message from A, or B's from B. A message B
	// pulled but had not reported taken when it vanished was sent by B too
	// (the app sends what it pulled, online or not): that is the price of
	// never stranding a message on a vanished phone, and is logged.
	onA, onB := phoneHas(ctx, a, ids), phoneHas(ctx, b, ids)
	if onA[taken] || !onB[taken] {
		t.Errorf("message %s: on A %t, on B %t; want B only", taken, onA[taken], onB[taken])
	}
	twice := 0
	for _, id := range ids {
		switch {
		case !onA[id] && !onB[id]:
			t.Errorf("message %s went out through no phone", id)
		case onA[id] && onB[id]:
			twice++
		}
	}
	t.Logf("B took %d message(s) it had pulled before vanishing and A sent them again", twice)

	// Each message's final event reached the application once.
	deadline := time.Now().Add(30 * time.Second)
	for {
		events.mu.Lock()
		complete, twice := 0, ""
		for _, id := range ids {
			switch k := len(events.final[id]); {
			case k == 1:
				complete++
			case k > 1:
				twice = fmt.Sprintf("message %s: final events %v", id, events.final[id])
			}
		}
		events.mu.Unlock()
		if twice != "" {
			t.Fatal(twice)
		}
		if complete == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages had their final webhook", complete, n)
		}
		time.Sleep(50 * time.Millisecond) // polling the application's own record, as in the other e2e tests
	}

	// An SMS to A's SIM becomes an inbound message to that number.
	if err := a.Inject(ctx, phonetest.Inbound{From: "+959123456789", Text: "STOP"}); err != nil {
		t.Fatalf("inbound: %v; host log:\n%s", err, h.stderr)
	}
	code, body = h.call(t, "GET", "/api/v1/sms/inbound?from="+url.QueryEscape("+959123456789"), "")
	msgs, _ := body["messages"].([]any)
	if code != http.StatusOK || len(msgs) != 1 {
		t.Fatalf("inbound: HTTP %d %v", code, body)
	}
	if m := msgs[0].(map[string]any); m["to"] != "+959790000001" || m["text"] != "STOP" || m["provider"] != "android-1" {
		t.Errorf("inbound message %v", m)
	}
}

// phoneStates is the phone's own state of each of ids it took, for a
// failure's log.
func phoneStates(ph *phonetest.Phone, ids []string) map[string]string {
	out := map[string]string{}
	_ = ph.WaitFor(context.Background(), "a look", func(v phonetest.View) bool {
		for _, id := range ids {
			if st, ok := v.State(id); ok {
				out[id] = string(st)
			}
		}
		return true
	})
	return out
}

// phoneHas reports which of ids the phone took from the server.
func phoneHas(ctx context.Context, ph *phonetest.Phone, ids []string) map[string]bool {
	has := map[string]bool{}
	_ = ph.WaitFor(ctx, "a look", func(v phonetest.View) bool {
		for _, id := range ids {
			if _, ok := v.State(id); ok {
				has[id] = true
			}
		}
		return true
	})
	return has
}

func without(all, drop []string) []string {
	skip := map[string]bool{}
	for _, id := range drop {
		skip[id] = true
	}
	var out []string
	for _, id := range all {
		if !skip[id] {
			out = append(out, id)
		}
	}
	return out
}

// TestAndroidRefusesWhileNoPhoneThenShowsPhones: with when_offline =
// "refuse" and no phone online, a send is answered the integration
// guide's 503 {"error":"No gateway online"} at once; once a phone is
// online the same send is accepted and delivered, the phone is listed
// with its SIM in the provider list, its number is in the numbers
// inventory, and revoking it takes it out (issue 16, items 6 and 8).
func TestAndroidRefusesWhileNoPhoneThenShowsPhones(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	t.Setenv(androidE2ETokenEnv, androidE2EToken)
	port := freeLoopbackPort(t)
	database := fmt.Sprintf("database {\n  driver = \"sqlite\"\n  path   = %q\n}", filepath.Join(dir, "data", "smsrouter.db"))
	h := startHost(t, writeAndroidConfig(t, dir, port, database, `    when_offline  = "refuse"`))
	base := fmt.Sprintf("http://127.0.0.1:%d/api/v1/providers/android-1/hooks/mobile/v1", port)

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// The host knows the provider refuses from its first health check.
	awaitProvider(ctx, t, h, "down and refusing", func(p map[string]any) bool {
		return p["healthy"] == false && p["refuse_while_down"] == true
	})
	send := `{"to":"+959790000123","message":"refused or sent"}`
	code, body := h.call(t, "POST", "/api/v1/sms/send", send)
	if code != http.StatusServiceUnavailable || body["error"] != "No gateway online" {
		t.Fatalf("send with no phone: HTTP %d %v, want 503 No gateway online", code, body)
	}

	ph := phonetest.New(t, base, phonetest.Options{PrivateToken: androidE2EToken, Name: "phone-a",
		SIMs: []phonetest.SIM{{Number: "+959790000001", Operator: "ATOM", Country: "mm"}}})
	if err := ph.WaitWebhooks(ctx, phonetest.EventSmsSent, phonetest.EventSmsDelivered); err != nil {
		t.Fatalf("%v; host log:\n%s", err, h.stderr)
	}
	// The host learns the phone is online at its next health check.
	var dev map[string]any
	awaitProvider(ctx, t, h, "healthy with its phone online", func(p map[string]any) bool {
		devs, _ := p["devices"].([]any)
		for _, d := range devs {
			if dm, _ := d.(map[string]any); dm["online"] == true && p["healthy"] == true {
				dev = dm
			}
		}
		return dev != nil
	})
	sims, _ := dev["sims"].([]any)
	if dev["name"] != "phone-a" || dev["kind"] != "phone" || len(sims) != 1 || sims[0].(map[string]any)["number"] != "+959790000001" {
		t.Errorf("device %v", dev)
	}
	code, body = h.call(t, "POST", "/api/v1/sms/send", send)
	if code != http.StatusAccepted {
		t.Fatalf("send with a phone online: HTTP %d %v", code, body)
	}
	if got := h.awaitFinal(t, []string{body["message_id"].(string)}, 30*time.Second); got["delivered"] != 1 {
		t.Fatalf("message ended %v, want delivered", got)
	}

	ph.Close() // or it would register again, as the app does after a 401
	id, _ := dev["id"].(string)
	if code, body := h.call(t, "DELETE", "/api/v1/admin/providers/android-1/devices/"+id, ""); code/100 != 2 {
		t.Fatalf("revoke: HTTP %d %v", code, body)
	}
	if code, body := h.call(t, "DELETE", "/api/v1/admin/providers/android-1/devices/"+id, ""); code != http.StatusNotFound {
		t.Errorf("revoking it again: HTTP %d %v, want 404", code, body)
	}
}

// awaitProvider polls the provider list, as an operator would, until
// android-1 satisfies ok.
func awaitProvider(ctx context.Context, t *testing.T, h *hostProc, what string, ok func(map[string]any) bool) {
	t.Helper()
	for {
		code, body := h.call(t, "GET", "/api/v1/admin/providers", "")
		if code != http.StatusOK {
			t.Fatalf("admin/providers: HTTP %d %v", code, body)
		}
		provs, _ := body["providers"].([]any)
		for _, p := range provs {
			if pm, _ := p.(map[string]any); pm["name"] == "android-1" && ok(pm) {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("android-1 never %s: %v; host log:\n%s", what, body, h.stderr)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
