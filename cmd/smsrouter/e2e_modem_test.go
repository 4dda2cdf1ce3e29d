package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/plugins/modem/modemtest"
)

// writeModemConfig configures one modem provider over the simulated ports,
// with no pacing and quick health polls and reopens.
func writeModemConfig(t *testing.T, dir string, ports ...string) string {
	t.Helper()
	quoted := make([]string, len(ports))
	for i, p := range ports {
		quoted[i] = fmt.Sprintf("%q", p)
	}
	cfg := fmt.Sprintf(`
server {
  listen = "127.0.0.1:0"
}
database {
  driver = "sqlite"
  path   = %q
}
provider "modems" {
  plugin = "modem"
  config = {
    ports              = [%s]
    send_interval      = "0s"
    health_interval    = "200ms"
    command_timeout    = "2s"
    send_timeout       = "3s"
    reopen_backoff     = "50ms"
    reopen_backoff_max = "200ms"
    reassembly_timeout = "5s"
  }
}
route "default" {
  default    = true
  candidates = ["modems"]
}
# The ports' numbers join the numbers inventory; a message to one that
# nobody leases belongs to the account a rule names.
inbound "ports" {
  match   = "provider == 'modems'"
  account = "default"
}
`, filepath.Join(dir, "data", "smsrouter.db"), strings.Join(quoted, ", "))
	path := filepath.Join(dir, "smsrouter.hcl")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// tally counts what the simulated modems put on the air, part by part.
type tally struct {
	mu    sync.Mutex
	parts map[string]int // text of a part and its sequence number → times sent
	ports map[string]int // modem path → parts sent
}

func (tl *tally) watch(t *testing.T, ms ...*modemtest.Modem) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case s := <-m.Sent():
					tl.mu.Lock()
					tl.parts[fmt.Sprintf("%d:%s", s.ConcatSeq, s.Text)]++
					tl.ports[m.Path()]++
					tl.mu.Unlock()
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })
}

func (tl *tally) twice() []string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	var dup []string
	for k, n := range tl.parts {
		if n > 1 {
			dup = append(dup, fmt.Sprintf("%q ×%d", k, n))
		}
	}
	return dup
}

// TestServeSendsAndReceivesThroughSimulatedModems runs the modem plugin in
// the real host over two simulated modems: messages are sent on both
// ports and delivered by status reports; one port's send hangs and the
// port is unplugged with that message on the line, which goes out on the
// other; after replug,
// inbound messages (one long, parts in reverse order) arrive from both
// ports. Every accepted message ends final and none goes out twice.
func TestServeSendsAndReceivesThroughSimulatedModems(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	opts := func(imei, number string) modemtest.Options {
		return modemtest.Options{IMEI: imei, OwnNumber: number, ReportDelay: 20 * time.Millisecond}
	}
	m1 := modemtest.New(t, opts("356938035643801", "+4790000001"))
	m2 := modemtest.New(t, opts("356938035643802", "+4790000002"))
	tl := &tally{parts: map[string]int{}, ports: map[string]int{}}
	tl.watch(t, m1, m2)
	h := startHost(t, writeModemConfig(t, t.TempDir(), m1.Path(), m2.Path()))

	// Both ports send; status reports make every message delivered.
	var ids []string
	for i := range 8 {
		ids = append(ids, h.sendTo(t, "+4791234567", fmt.Sprintf("first batch %d", i)))
	}
	ids = append(ids, h.sendTo(t, "+4791234567", strings.Repeat("Длинное сообщение по модему ", 6)))
	if counts := h.awaitFinal(t, ids, 60*time.Second); counts["delivered"] != len(ids) {
		t.Fatalf("first batch ended %v; want all %d delivered\n%s", counts, len(ids), h.stderr)
	}

	// The network holds port 1's next message (its +CMGS is never
	// answered), then port 1 disappears with that message on the line.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	from := len(m1.Commands())
	m1.SetCommandLatency("+CMGS", time.Hour)
	var second []string
	for i := range 8 {
		second = append(second, h.sendTo(t, "+4791234567", fmt.Sprintf("second batch %d", i)))
	}
	if _, err := m1.WaitCommand(ctx, "+CMGS=", from); err != nil {
		t.Fatalf("no message reached the hanging port: %v\n%s", err, h.stderr)
	}
	m1.Unplug()
	if counts := h.awaitFinal(t, second, 60*time.Second); counts["delivered"] != len(second) {
		t.Fatalf("second batch ended %v; want all %d delivered\n%s", counts, len(second), h.stderr)
	}

	// Port 1 comes back; inbound arrives on both ports.
	m1.SetCommandLatency("+CMGS", 0)
	from = len(m1.Commands())
	if err := m1.Replug(); err != nil {
		t.Fatal(err)
	}
	if _, err := m1.WaitCommand(ctx, "+CNMI=", from); err != nil {
		t.Fatalf("the plugin did not reopen the replugged port: %v\n%s", err, h.stderr)
	}
	long := strings.Repeat("a long reply over several parts ", 8)
	if _, err := m1.InjectInbound(modemtest.Inbound{From: "+4798765432", Text: "reply on port one"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m2.InjectInbound(modemtest.Inbound{From: "+4798765433", Text: long, Reverse: true}); err != nil {
		t.Fatal(err)
	}
	h.awaitInbound(t, map[string]string{
		"reply on port one": "+4790000001",
		long:                "+4790000002",
	})

	var third []string
	for i := range 6 {
		third = append(third, h.sendTo(t, "+4791234567", fmt.Sprintf("third batch %d", i)))
	}
	if counts := h.awaitFinal(t, third, 60*time.Second); counts["delivered"] != len(third) {
		t.Fatalf("third batch ended %v; want all %d delivered\n%s", counts, len(third), h.stderr)
	}

	if dup := tl.twice(); len(dup) > 0 {
		t.Errorf("sent more than once: %v", dup)
	}
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if tl.ports[m1.Path()] == 0 || tl.ports[m2.Path()] == 0 {
		t.Errorf("parts per port %v; want both ports used", tl.ports)
	}
}

// awaitInbound polls the inbound list until every text arrived, each to
// the number of the port it came in on.
func (h *hostProc) awaitInbound(t *testing.T, want map[string]string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		code, body := h.call(t, "GET", "/api/v1/sms/inbound?limit=100", "")
		if code != http.StatusOK {
			t.Fatalf("inbound list: HTTP %d %v", code, body)
		}
		got := map[string]string{}
		msgs, _ := body["messages"].([]any)
		for _, m := range msgs {
			m, _ := m.(map[string]any)
			text, _ := m["text"].(string)
			to, _ := m["to"].(string)
			got[text] = to
		}
		missing := 0
		for text, to := range want {
			if got[text] != to {
				missing++
			}
		}
		if missing == 0 {
			if len(got) != len(want) {
				t.Errorf("inbound %v; want exactly %v", got, want)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("inbound %v; want %v\n%s", got, want, h.stderr)
		}
		time.Sleep(25 * time.Millisecond)
	}
}
