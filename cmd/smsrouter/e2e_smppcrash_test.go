package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/plugins/smpp/smsctest"
)

// appEvents is the application of the side-by-side chain: a webhook
// endpoint that verifies every signature, answers 200 at once and keeps,
// per message, the event types in the order they came and how often each
// event id came.
type appEvents struct {
	t *testing.T

	mu     sync.Mutex
	secret string
	byMsg  map[string][]string // message id → event types, in arrival order
	byID   map[string]int      // event id → requests accepted
}

func (a *appEvents) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ev, ok := readEvent(a.t, a.secret, w, r)
	if !ok {
		return
	}
	a.byID[ev.ID]++
	a.byMsg[ev.Data.MessageID] = append(a.byMsg[ev.Data.MessageID], ev.Type)
	w.WriteHeader(http.StatusOK)
}

// missing returns how many of ids have no message.delivered yet.
func (a *appEvents) missing(ids []string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, id := range ids {
		if !slices.Contains(a.byMsg[id], "message.delivered") {
			n++
		}
	}
	return n
}

// The chain of the side-by-side with Kannel (HTTP → SMPP → receipt →
// signed webhooks), with the server SIGKILLed in the middle of the load
// and started again on the same database: every accepted message still
// reaches message.delivered at the application, after its message.sent,
// and nothing is stored that no request was answered with. Receipts the
// plugin had taken but the host not yet stored were never acknowledged to
// the SMSC, which sends them again after the restart.
func TestServerKilledMidRunOverSMPPLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	start := time.Now()
	smsc, err := smsctest.Start(smsctest.Config{SystemID: "smsrouter", Password: "secret",
		RespIDFormat: "hex", ReceiptIDFormat: "dec", ReceiptDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { smsc.Close() })
	cfg := writeSMPPCrashConfig(t, t.TempDir(), smsc.Port())
	app := &appEvents{t: t, byMsg: map[string][]string{}, byID: map[string]int{}}
	recv := httptest.NewServer(app)
	defer recv.Close()

	first := startHost(t, cfg)
	code, body := first.call(t, "PUT", "/api/v1/webhook", fmt.Sprintf(`{"url":%q}`, recv.URL+"/sms-events"))
	secret, _ := body["secret"].(string)
	if code != http.StatusOK || secret == "" {
		t.Fatalf("PUT /webhook: HTTP %d %v", code, body)
	}
	app.mu.Lock()
	app.secret = secret
	app.mu.Unlock()

	const total = 1200
	l := newLoad()
	node := &pgNode{hostProc: first, name: "smpp-run-1"}
	l.runKilling(t, upTo(total), func(int) *pgNode { return node }, total/3, func() {
		plugin := first.provider(t).PID
		if err := first.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = first.cmd.Wait()
		awaitGone(t, plugin, "after its host was SIGKILLed")
	})
	t.Logf("%s: killed with %d messages accepted; %d receipts acknowledged by the plugin so far",
		time.Since(start).Round(time.Millisecond), len(l.accepted), smsc.Stats().ReceiptsAcked)

	second, _ := spawnHost(t, cfg)
	second.key = first.key
	second.addr = second.stderr.await(t, servingLine, 60*time.Second)
	resent := l.resendFailed(t, &pgNode{hostProc: second, name: "smpp-run-2"})
	t.Logf("%s: restarted, %d requests sent again", time.Since(start).Round(time.Millisecond), resent)

	ids := make([]string, 0, total)
	for _, id := range l.accepted {
		ids = append(ids, id)
	}
	// Webhooks leased by the killed server come back when their lease
	// (twice the webhook timeout plus 30 s) ends.
	deadline := time.Now().Add(150 * time.Second)
	for app.missing(ids) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages have no message.delivered at the application; host log:\n%s",
				app.missing(ids), len(ids), second.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("%s: every message delivered at the application", time.Since(start).Round(time.Millisecond))
	checkSMPPCrashRun(t, second, app, l, total)
}

// checkSMPPCrashRun asserts what the application and the database hold
// after the run: one message per request, each delivered, its events in
// order; an event sent again is counted (at least once across a kill).
func checkSMPPCrashRun(t *testing.T, h *hostProc, app *appEvents, l *load, total int) {
	t.Helper()
	if len(l.accepted) != total {
		t.Fatalf("%d of %d messages accepted", len(l.accepted), total)
	}
	distinct := map[string]bool{}
	for _, id := range l.accepted {
		distinct[id] = true
	}
	if len(distinct) != total {
		t.Errorf("%d messages accepted under %d distinct ids: an Idempotency-Key resend made a second message", total, len(distinct))
	}
	ids := make([]string, 0, total)
	for id := range distinct {
		ids = append(ids, id)
	}
	if counts := h.awaitFinal(t, ids, 30*time.Second); counts["delivered"] != total {
		t.Errorf("final statuses %v, want all %d delivered", counts, total)
	}
	app.mu.Lock()
	defer app.mu.Unlock()
	for id, types := range app.byMsg {
		if !distinct[id] {
			t.Errorf("events %q for message %s, which no request was answered with", types, id)
			continue
		}
		if i, j := slices.Index(types, "message.sent"), slices.Index(types, "message.delivered"); i < 0 || j < i {
			t.Errorf("message %s: events %q, want message.sent before message.delivered", id, types)
		}
	}
	again := 0
	for _, n := range app.byID {
		again += n - 1
	}
	t.Logf("%d events reached the application more than once (delivery is at least once across a kill)", again)
}

// writeSMPPCrashConfig is the side-by-side's configuration for the crash
// run: short dispatch leases, so that messages the killed server had
// claimed come back within the test.
func writeSMPPCrashConfig(t *testing.T, dir string, port int) string {
	t.Helper()
	path := writeSMPPConfig(t, dir, port)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	extra := `
dispatch {
  send_timeout = "6s"
  lease        = "8s"
}
api {
  sms_per_minute   = 0
  duplicate_window = "0s"
}
webhooks {
  allowed_networks = ["127.0.0.0/8"]
}
`
	cfg := strings.Replace(string(b), `window            = 50`, `window            = 100`, 1) + extra
	if err := os.WriteFile(filepath.Join(dir, "smsrouter.hcl"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
