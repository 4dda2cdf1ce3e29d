package main

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// writeTwoSandboxConfig is the e2e config with two sandboxes in one route,
// sbx-a first.
func writeTwoSandboxConfig(t *testing.T) string {
	t.Helper()
	path := writeConfig(t, t.TempDir())
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(raw), `provider "sandbox" {`, `provider "sbx-b" {
  plugin = "sandbox"
  config = { dlr_delay = "50ms" }
}
provider "sbx-a" {`, 1)
	cfg = strings.Replace(cfg, `candidates = ["sandbox"]`, `candidates = ["sbx-a", "sbx-b"]`, 1)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTuneRehearsesFailover drives an outage rehearsal through smsrouter
// serve, whose sandboxes run as plugin processes, with the CLI: sbx-a
// tuned down sends messages to sbx-b; both down and refusing answer the
// guide's 503; sbx-a tuned up takes messages again (issue 19 item 5).
func TestTuneRehearsesFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	h := startHost(t, writeTwoSandboxConfig(t))
	t.Setenv(outboxKeyEnv, h.key)
	url := "http://" + h.addr

	cliRun(t, "providers", "tune", "--url", url, "sbx-a", "health=down").expect(t, 0, []string{"health=down", "failure_ratio=0"}, nil)
	if got := h.sendAndAwaitProvider(t); got != "sbx-b" {
		t.Errorf("with sbx-a tuned down the message went to %q, want sbx-b", got)
	}

	cliRun(t, "providers", "tune", "--url", url, "sbx-a", "refuse_while_down=true").expect(t, 0, nil, nil)
	cliRun(t, "providers", "tune", "--url", url, "sbx-b", "health=down", "refuse_while_down=true").expect(t, 0, nil, nil)
	if code, body := h.call(t, "POST", "/api/v1/sms/send", `{"to":"+959123456789","message":"nobody is up"}`); code != http.StatusServiceUnavailable ||
		body["error"] != "No gateway online" {
		t.Errorf(`send with both down and refusing: HTTP %d %v, want 503 {"error":"No gateway online"}`, code, body)
	}
	cliRun(t, "providers", "tune", "--url", url, "sbx-a", "speed=11").expect(t, 1, nil, []string{"HTTP 422", `"speed"`})

	cliRun(t, "providers", "tune", "--url", url, "sbx-a", "health=up").expect(t, 0, []string{"health=up"}, nil)
	if got := h.sendAndAwaitProvider(t); got != "sbx-a" {
		t.Errorf("with sbx-a tuned up again the message went to %q, want sbx-a", got)
	}
}

// sendAndAwaitProvider sends a message and returns the provider it was
// delivered through.
func (h *hostProc) sendAndAwaitProvider(t *testing.T) string {
	t.Helper()
	code, body := h.call(t, "POST", "/api/v1/sms/send", `{"to":"+959123456789","message":"rehearsal `+time.Now().Format(time.RFC3339Nano)+`"}`)
	id, _ := body["message_id"].(string)
	if code != http.StatusAccepted || id == "" {
		t.Fatalf("send: HTTP %d %v", code, body)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, m := h.call(t, "GET", "/api/v1/sms/"+id, "")
		if code == http.StatusOK && m["status"] == "delivered" {
			p, _ := m["provider"].(string)
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("message %s not delivered after 30s: HTTP %d %v; host log:\n%s", id, code, m, h.stderr)
		}
		time.Sleep(25 * time.Millisecond)
	}
}
