package main

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// withLimits writes the test config with the sandbox provider limited.
func withLimits(t *testing.T, dir, limits string) string {
	t.Helper()
	path := writeConfig(t, dir)
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(src), "  poll_status_after = \"1s\"\n", "  poll_status_after = \"1s\"\n  limits {\n"+limits+"  }\n", 1)
	if text == string(src) {
		t.Fatal("the test config no longer has the line the limits go after")
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// The providers' limits reach the dispatcher at start and with a reload,
// and the admin API shows the ones in force; scheduled messages can be
// cancelled through the binary.
func TestLimitsReloadAndCancel(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	h := startHost(t, withLimits(t, dir, "    tps = 5\n"))
	limits := func() string {
		t.Helper()
		code, body := h.call(t, "GET", "/api/v1/admin/providers", "")
		list, _ := body["providers"].([]any)
		if code != http.StatusOK || len(list) != 1 {
			t.Fatalf("admin/providers: HTTP %d %v", code, body)
		}
		return fmt.Sprint(list[0].(map[string]any)["limits"])
	}
	if got := limits(); got != "map[concurrency:<nil> tps:5]" {
		t.Errorf("limits at start %s, want tps 5", got)
	}
	ids := make([]string, 8)
	for i := range ids {
		ids[i] = h.send(t, fmt.Sprintf("limited %d", i))
	}
	if got := h.awaitFinal(t, ids, 60*time.Second); got["delivered"] != len(ids) {
		t.Errorf("limited messages ended %v, want all delivered", got)
	}

	withLimits(t, dir, "    tps         = 50\n    concurrency = 2\n")
	if code, body := h.call(t, "POST", "/api/v1/admin/reload", ""); code != http.StatusOK {
		t.Fatalf("admin reload: HTTP %d %v", code, body)
	}
	if got := limits(); got != "map[concurrency:2 tps:50]" {
		t.Errorf("limits after reload %s, want tps 50 and concurrency 2", got)
	}

	at := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	code, body := h.call(t, "POST", "/api/v1/sms/send", fmt.Sprintf(`{"to":"+959123456789","message":"later","send_at":%q}`, at))
	if code != http.StatusAccepted {
		t.Fatalf("scheduled send: HTTP %d %v", code, body)
	}
	id := body["message_id"].(string)
	if code, body := h.call(t, "DELETE", "/api/v1/sms/"+id, ""); code != http.StatusOK || body["status"] != "failed" || body["error_code"] != "CANCELLED" {
		t.Errorf("cancel: HTTP %d %v, want 200 failed/CANCELLED", code, body)
	}
}
