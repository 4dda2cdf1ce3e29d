package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// A prepaid account through the binary: sends are charged the route's
// price, one the provider rejects is refunded, one the balance does not
// cover is refused with 402, and balance equals the ledger.
func TestServeChargesRefundsAndRefuses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	path := writeConfig(t, dir)
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(src), "    seed           = 42\n",
		"    seed           = 42\n    reject_numbers = [\"+959123456780\"]\n  }\n  pricing {\n    countries = { MM = 0.02 }\n", 1)
	text = strings.Replace(text, "  sms_per_minute = 0\n", "  sms_per_minute = 0\n  default_credit = 0.05\n  credit_limit   = 0\n", 1)
	if !strings.Contains(text, "pricing") || !strings.Contains(text, "credit_limit") {
		t.Fatal("the test config no longer has the lines pricing and credit go after")
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	h := startHost(t, path)
	sendTo := func(to, msg string) (int, map[string]any) {
		return h.call(t, "POST", "/api/v1/sms/send", fmt.Sprintf(`{"to":%q,"message":%q}`, to, msg))
	}
	delivered := h.send(t, "one")
	code, body := sendTo("+959123456780", "rejected")
	if code != http.StatusAccepted {
		t.Fatalf("send to the rejected number: HTTP %d %v", code, body)
	}
	rejected := body["message_id"].(string)
	if got := h.awaitFinal(t, []string{delivered, rejected}, 30*time.Second); got["delivered"] != 1 || got["failed"]+got["rejected"] != 1 {
		t.Fatalf("final statuses %v, want one delivered and one failed (rejected by the provider)", got)
	}
	// 0.05 - 0.02 (delivered) - 0.02 + 0.02 (rejected, refunded) = 0.03
	if code, body := h.call(t, "GET", "/api/v1/balance", ""); code != 200 || body["balance"] != 0.03 || body["credit_limit"] != 0.0 {
		t.Fatalf("balance: HTTP %d %v", code, body)
	}
	h.send(t, "two")
	code, body = sendTo("+959123456789", "three")
	if code != http.StatusPaymentRequired || body["code"] != "insufficient_credit" || body["needed"] != 0.02 || body["balance"] != 0.01 {
		t.Fatalf("send beyond the balance: HTTP %d %v", code, body)
	}
	code, body = h.call(t, "GET", "/api/v1/ledger", "")
	entries, _ := body["entries"].([]any)
	if code != 200 || len(entries) != 5 {
		t.Fatalf("ledger: HTTP %d %v, want the opening credit, three charges and a refund", code, body)
	}
	sum := 0.0
	kinds := map[string]int{}
	for _, e := range entries {
		e := e.(map[string]any)
		sum += e["amount"].(float64)
		kinds[e["kind"].(string)]++
	}
	if kinds["charge"] != 3 || kinds["refund"] != 1 || kinds["topup"] != 1 || fmt.Sprintf("%.6f", sum) != "0.010000" {
		t.Fatalf("ledger kinds %v, sum %.6f; want 3 charges, 1 refund, 1 top-up summing to the balance 0.01", kinds, sum)
	}
}
