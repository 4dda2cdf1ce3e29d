package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/plugins/smpp/smsctest"
)

// writeSMPPConfig configures one smpp provider pointed at the simulator.
func writeSMPPConfig(t *testing.T, dir string, port int) string {
	t.Helper()
	cfg := fmt.Sprintf(`
server {
  listen = "127.0.0.1:0"
}
database {
  driver = "sqlite"
  path   = %q
}
provider "smpp-sim" {
  plugin = "smpp"
  config = {
    host              = "127.0.0.1"
    port              = %d
    system_id         = "smsrouter"
    password          = "secret"
    window            = 50
    resp_id_format    = "hex"
    receipt_id_format = "dec"
    response_timeout  = "5s"
    reconnect_backoff = "50ms"
  }
}
route "default" {
  default    = true
  candidates = ["smpp-sim"]
}
`, filepath.Join(dir, "data", "smsrouter.db"), port)
	path := filepath.Join(dir, "smsrouter.hcl")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestServeDeliversOverSMPP: REST send → smpp plugin process → submit_sm to
// the simulator → receipt (in decimal, for a hex submit id) → the message is
// delivered on /api/v1/sms/status.
func TestServeDeliversOverSMPP(t *testing.T) {
	srv, err := smsctest.Start(smsctest.Config{
		SystemID: "smsrouter", Password: "secret",
		RespIDFormat: "hex", ReceiptIDFormat: "dec", ReceiptDelay: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	h := startHost(t, writeSMPPConfig(t, t.TempDir(), srv.Port()))

	texts := []string{"hello over SMPP", strings.Repeat("Длинное сообщение ", 10)}
	var ids []string
	for _, txt := range texts {
		code, body := h.call(t, "POST", "/api/v1/sms/send", fmt.Sprintf(`{"to":"+959123456789","message":%q}`, txt))
		if code != http.StatusAccepted {
			t.Fatalf("send: HTTP %d %v", code, body)
		}
		ids = append(ids, body["message_id"].(string))
	}
	counts := h.awaitFinal(t, ids, 30*time.Second)
	if counts["delivered"] != len(ids) {
		t.Fatalf("final statuses %v; want all delivered\n%s", counts, h.stderr)
	}
	st := srv.Stats()
	// One short message plus a three-part UCS-2 message.
	if st.Accepted != 4 || st.ReceiptsSent < 4 {
		t.Errorf("simulator stats %+v; want 4 submits accepted and their receipts sent", st)
	}
}
