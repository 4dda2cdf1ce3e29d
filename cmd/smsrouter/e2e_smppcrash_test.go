package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/store/storetest"
	"github.com/smsrouter/smsrouter/plugins/smpp/smsctest"
)

// appEvents is the application of the side-by-side chain: a webhook
// endpoint that verifies every signature, answers 200 at once and keeps,
// per message, the event types in the order they came, how often each
// event id came and the body it came with first: an event sent again must
// say what it said the first time.
type appEvents struct {
	t *testing.T

	mu     sync.Mutex
	secret string
	byMsg  map[string][]string // message id → event types, in arrival order
	byID   map[string]int      // event id → requests accepted
	bodies map[string][]byte   // event id → body of its first request
}

func (a *appEvents) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ev, raw, ok := readEventBody(a.t, a.secret, w, r)
	if !ok {
		return
	}
	if first, seen := a.bodies[ev.ID]; !seen {
		a.bodies[ev.ID] = raw
	} else if !bytes.Equal(first, raw) {
		a.t.Errorf("event %s came again with another body:\n first %s\n again %s", ev.ID, first, raw)
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
// signed webhooks), with the server SIGKILLed and started again on the same
// database, on both drivers: once in the middle of the sends, once while
// receipts flow (every message sent, not every receipt stored). Every
// accepted message still reaches message.delivered at the application,
// after its message.sent, its history shows each once, and nothing is
// stored that no request was answered with. Receipts the plugin had taken
// but the host not yet stored were never acknowledged to the SMSC, which
// sends them again after the restart.
func TestServerKilledMidRunOverSMPPLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	for _, driver := range []string{"sqlite", "postgres"} {
		for _, kill := range []smppKillPoint{killMidSends, killMidReceipts} {
			t.Run(driver+"/"+kill.name, func(t *testing.T) {
				serverKilledOverSMPP(t, driver, kill)
			})
		}
	}
}

// smppKillPoint is when the crash run SIGKILLs its first server.
type smppKillPoint struct {
	name string
	// receiptDelay is the simulator's time from a submit to its receipt.
	receiptDelay time.Duration
	// run drives the load against node and calls kill at the kill point.
	run func(t *testing.T, l *load, smsc *smsctest.Server, node *pgNode, total int, kill func())
}

// killMidSends kills once a third of the messages were accepted, while the
// load goes on.
var killMidSends = smppKillPoint{name: "mid-sends", receiptDelay: 10 * time.Millisecond,
	run: func(t *testing.T, l *load, _ *smsctest.Server, node *pgNode, total int, kill func()) {
		l.runKilling(t, upTo(total), func(int) *pgNode { return node }, total/3, kill)
	}}

// killMidReceipts kills after every message was accepted and submitted,
// once a third of the receipts were acknowledged: receipts are late enough
// that most of them come after the sends.
var killMidReceipts = smppKillPoint{name: "mid-receipts", receiptDelay: 3 * time.Second,
	run: func(t *testing.T, l *load, smsc *smsctest.Server, node *pgNode, total int, kill func()) {
		l.run(upTo(total), 8, func(int) *pgNode { return node }, nil)
		if len(l.failed) > 0 {
			t.Fatalf("%d messages refused before the kill, e.g.: %v", len(l.failed), l.lastErr)
		}
		awaitSMSC(t, smsc, "every submit accepted and a third of the receipts acknowledged", func(st smsctest.Stats) bool {
			return st.Accepted >= int64(total) && st.ReceiptsAcked >= int64(total/3)
		})
		kill()
		if acked := smsc.Stats().ReceiptsAcked; acked >= int64(total) {
			t.Fatalf("every receipt was acknowledged (%d) before the kill: the run did not kill mid-receipts", acked)
		}
	}}

// awaitSMSC polls the simulator's counters until ok holds.
func awaitSMSC(t *testing.T, smsc *smsctest.Server, what string, ok func(smsctest.Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok(smsc.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("simulator never reached %q: %+v", what, smsc.Stats())
		}
		time.Sleep(time.Millisecond)
	}
}

func serverKilledOverSMPP(t *testing.T, driver string, kp smppKillPoint) {
	start := time.Now()
	database := ""
	if driver == "postgres" {
		database = storetest.PostgresDSN(t)
	}
	smsc, err := smsctest.Start(smsctest.Config{SystemID: "smsrouter", Password: "secret",
		RespIDFormat: "hex", ReceiptIDFormat: "dec", ReceiptDelay: kp.receiptDelay})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { smsc.Close() })
	cfg := writeSMPPCrashConfig(t, t.TempDir(), smsc.Port(), database)
	app := &appEvents{t: t, byMsg: map[string][]string{}, byID: map[string]int{}, bodies: map[string][]byte{}}
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
	kp.run(t, l, smsc, &pgNode{hostProc: first, name: "smpp-run-1"}, total, func() {
		plugin := first.provider(t).PID
		if err := first.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = first.cmd.Wait()
		awaitGone(t, plugin, "after its host was SIGKILLed")
	})
	st := smsc.Stats()
	t.Logf("%s: killed with %d messages accepted; %d submits accepted and %d receipts acknowledged by the plugin so far",
		time.Since(start).Round(time.Millisecond), len(l.accepted), st.Accepted, st.ReceiptsAcked)

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
	checkHistories(t, second, ids)
	// Receipts sent more than once are those the killed server's plugin
	// took and never acknowledged: they show the duplicate guard was
	// exercised, not only the first delivery.
	st = smsc.Stats()
	t.Logf("the simulator sent %d receipts for %d submits (%d sent again)", st.ReceiptsSent, st.Accepted, st.ReceiptsSent-st.Accepted)
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
// claimed come back within the test. A postgresDSN puts the data in that
// PostgreSQL schema instead of a SQLite file.
func writeSMPPCrashConfig(t *testing.T, dir string, port int, postgresDSN string) string {
	t.Helper()
	path := writeSMPPConfig(t, dir, port)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if postgresDSN != "" {
		sqlite := regexp.MustCompile(`(?s)database \{.*?\n\}`)
		b = sqlite.ReplaceAll(b, fmt.Appendf(nil, "database {\n  driver = \"postgres\"\n  dsn    = %q\n}", postgresDSN))
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

// checkHistories asserts that each message's history, as GET
// /api/v1/sms/{id} shows it, has sent once and then delivered once: a
// receipt or a send stored again across the kill would show twice.
func checkHistories(t *testing.T, h *hostProc, ids []string) {
	t.Helper()
	for _, id := range ids {
		code, body := h.call(t, "GET", "/api/v1/sms/"+id, "")
		if code != http.StatusOK {
			t.Fatalf("GET /api/v1/sms/%s: HTTP %d %v", id, code, body)
		}
		var statuses []string
		history, _ := body["history"].([]any)
		for _, c := range history {
			entry, _ := c.(map[string]any)
			st, _ := entry["status"].(string)
			statuses = append(statuses, st)
		}
		if countOf(statuses, "sent") != 1 || countOf(statuses, "delivered") != 1 ||
			slices.Index(statuses, "delivered") < slices.Index(statuses, "sent") {
			t.Errorf("message %s: history %q, want sent once, then delivered once", id, statuses)
		}
	}
}

func countOf(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}
