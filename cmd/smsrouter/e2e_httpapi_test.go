package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/plugins/httpapi/aggregatortest"
)

// writeHTTPAPIConfig writes a config whose only provider is the httpapi
// plugin with the given preset, pointed at a fake aggregator and polled for
// statuses, as an operator would set it up for an upstream without callbacks.
func writeHTTPAPIConfig(t *testing.T, dir, preset, baseURL, token string) string {
	t.Helper()
	cfg := fmt.Sprintf(`
server {
  listen = "127.0.0.1:0"
}
database {
  driver = "sqlite"
  path   = %q
}
provider "aggregator" {
  plugin = "httpapi"
  config = {
    preset         = %q
    base_url       = %q
    auth           = { token = %q }
    default_sender = "VashZakaz"
    timeout        = "5s"
  }
  poll_status_after = "1s"
}
route "default" {
  default    = true
  candidates = ["aggregator"]
}
`, filepath.Join(dir, "data", "smsrouter.db"), preset, baseURL, token)
	path := filepath.Join(dir, "smsrouter.hcl")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestServeSendsThroughAnHTTPAggregatorAndPollsStatuses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	for _, preset := range []string{"aggregator002", "aggregator002_xml"} {
		t.Run(preset, func(t *testing.T) {
			const token = "e2e-token"
			agg := aggregatortest.New(aggregatortest.Options{Token: token, EnrouteQueries: 1})
			t.Cleanup(agg.Close)
			agg.SetFate("959123456780", "UNDELIV")
			h := startHost(t, writeHTTPAPIConfig(t, t.TempDir(), preset, agg.URL, token))

			send := func(to, text string) string {
				t.Helper()
				code, body := h.call(t, "POST", "/api/v1/sms/send", fmt.Sprintf(`{"to":%q,"message":%q}`, to, text))
				if code != http.StatusAccepted {
					t.Fatalf("send to %s: HTTP %d %v", to, code, body)
				}
				return body["message_id"].(string)
			}
			delivered := []string{
				send("+959123456789", "Your code is 1234"),
				send("+959123456781", `Tom & Jerry <say> "hi"`),
			}
			undeliverable := send("+959123456780", "Your code is 5678")

			if got := h.awaitFinal(t, delivered, 60*time.Second); got["delivered"] != len(delivered) {
				t.Fatalf("final statuses %v, want %d delivered; host log:\n%s", got, len(delivered), h.stderr)
			}
			if got := h.awaitFinal(t, []string{undeliverable}, 30*time.Second); got["undeliverable"] != 1 {
				t.Fatalf("final status %v, want undeliverable (UNDELIV); host log:\n%s", got, h.stderr)
			}

			msgs := agg.Messages()
			if len(msgs) != 3 {
				t.Fatalf("aggregator accepted %d messages, want 3: %+v", len(msgs), msgs)
			}
			for _, m := range msgs {
				if m.Sender != "VashZakaz" || strings.HasPrefix(m.Phone, "+") || m.XML != (preset == "aggregator002_xml") {
					t.Errorf("aggregator got %+v; want sender VashZakaz, digits-only phone, XML=%v", m, preset == "aggregator002_xml")
				}
			}
			if agg.Requests(aggregatortest.OpStatus) < 2 {
				t.Errorf("%d status requests; the ENROUTE answer should have been followed by another poll", agg.Requests(aggregatortest.OpStatus))
			}
		})
	}
}
