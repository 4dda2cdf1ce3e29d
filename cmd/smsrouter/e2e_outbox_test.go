package main

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

var otpCode = regexp.MustCompile(`\b[0-9]{6}\b`)

// awaitOutbox polls the sandbox outbox through the admin API until it holds
// a message to phone, and returns it.
func awaitOutbox(t *testing.T, h *hostProc, phone string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := h.call(t, "GET", "/api/v1/admin/providers/sandbox/outbox?limit=5", "")
		if code != http.StatusOK {
			t.Fatalf("outbox: HTTP %d %v", code, body)
		}
		msgs, _ := body["messages"].([]any)
		for _, m := range msgs {
			if m := m.(map[string]any); m["to"] == phone {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message to %s in the outbox after 30s: %v; host log:\n%s", phone, body, h.stderr)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// TestOTPVerifyThroughSandboxOutbox is the regression test for an OTP flow
// that could not be completed on the sandbox, which never showed what it
// "sent": send an OTP, read the code from the sandbox outbox through the
// admin API, verify it. The outbox is refused to keys without system_admin
// and is not reachable on the provider's public hook URL.
func TestOTPVerifyThroughSandboxOutbox(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	h := startHost(t, writeConfig(t, t.TempDir()))
	const phone = "+959123456789"

	if code, body := h.call(t, "POST", "/api/v1/otp/send", fmt.Sprintf(`{"phone_number":%q}`, phone)); code != http.StatusOK {
		t.Fatalf("otp send: HTTP %d %v", code, body)
	}
	sent := awaitOutbox(t, h, phone)
	text, _ := sent["text"].(string)
	otp := otpCode.FindString(text)
	if otp == "" || sent["kind"] != "otp" || sent["from"] != "SANDBOX" || !strings.HasPrefix(fmt.Sprint(sent["message_id"]), "msg_") {
		t.Fatalf("outbox message %v: want an otp with a 6-digit code, sent as SANDBOX", sent)
	}
	// The CLI shows the same, asking the running server.
	cliRun(t, "outbox", "--url", "http://"+h.addr).expect(t, 1, nil, []string{outboxKeyEnv})
	t.Setenv(outboxKeyEnv, h.key)
	cliRun(t, "outbox", "--url", "http://"+h.addr, "--limit", "5").expect(t, 0, []string{"SENT AT", phone, "SANDBOX", text}, nil)

	if code, body := h.call(t, "POST", "/api/v1/otp/verify", fmt.Sprintf(`{"phone_number":%q,"code":%q}`, phone, otp)); code != http.StatusOK || body["success"] != true {
		t.Fatalf("otp verify with the code from the outbox: HTTP %d %v", code, body)
	}

	// System admins only: a key of the application, or one that administers
	// only its own account, is refused, and so is anyone on the provider's
	// public hook URL.
	for _, perms := range []string{`["send_otp","verify_otp"]`, `["account_admin"]`} {
		code, body := h.call(t, "POST", "/api/v1/admin/keys", `{"name":"app","permissions":`+perms+`}`)
		appKey, _ := body["key"].(string)
		if code != http.StatusCreated || appKey == "" {
			t.Fatalf("create a key with %s: HTTP %d %v", perms, code, body)
		}
		app := &hostProc{addr: h.addr, key: appKey}
		if code, body := app.call(t, "GET", "/api/v1/admin/providers/sandbox/outbox", ""); code != http.StatusForbidden {
			t.Errorf("outbox with a key with %s: HTTP %d %v, want 403", perms, code, body)
		}
	}
	for _, path := range []string{"/outbox", "/admin/providers/sandbox/outbox", ""} {
		resp, err := http.Get("http://" + h.addr + "/api/v1/providers/sandbox/hooks" + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("hook URL %s answered 200; the outbox must not be public", path)
		}
	}
	if code, body := h.call(t, "GET", "/api/v1/admin/providers/nope/outbox", ""); code != http.StatusNotFound {
		t.Errorf("outbox of an unknown provider: HTTP %d %v, want 404", code, body)
	}
}
