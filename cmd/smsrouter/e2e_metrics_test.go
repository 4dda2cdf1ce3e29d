package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeMetricsOnTheirOwnListener runs serve with metrics on a listener
// of their own behind a token, and reads a send and a plugin crash there.
func TestServeMetricsOnTheirOwnListener(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf(`
server {
  listen = "127.0.0.1:0"
  metrics {
    listen       = "127.0.0.1:0"
    bearer_token = "scrape-me"
    db_refresh   = "1s"
    count_refresh = "10s"
  }
}
database {
  driver = "sqlite"
  path   = %q
}
provider "sandbox" {
  plugin = "sandbox"
  config = { dlr_delay = "10ms", seed = 42 }
}
route "default" {
  default    = true
  candidates = ["sandbox"]
}
`, filepath.Join(dir, "data", "smsrouter.db"))
	path := filepath.Join(dir, "smsrouter.hcl")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	h := startHost(t, path)
	metricsAddr := h.stderr.await(t, regexp.MustCompile(`serving metrics.*listen=(\S+)`), 10*time.Second)

	scrape := func(token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+metricsAddr+"/metrics", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := scrape(""); code != http.StatusUnauthorized {
		t.Errorf("scrape without the token: HTTP %d %.200s", code, body)
	}
	if code, _ := h.call(t, "GET", "/metrics", ""); code != http.StatusNotFound {
		t.Errorf("the API listener serves /metrics (HTTP %d) although metrics have their own", code)
	}

	ids := []string{h.send(t, "one"), h.send(t, "two")}
	if got := h.awaitFinal(t, ids, 30*time.Second); got["delivered"] != 2 {
		t.Fatalf("messages ended %v, want delivered", got)
	}
	p := h.provider(t)
	if err := syscall.Kill(p.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	h.awaitRunning(t, p.PID)

	// The database series are read at most every second: poll until they
	// show the deliveries.
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, body := scrape("scrape-me")
		if code != http.StatusOK {
			t.Fatalf("scrape with the token: HTTP %d %.200s", code, body)
		}
		missing := ""
		for _, line := range []string{
			`smsrouter_messages_accepted_total{kind="sms"} 2`,
			`smsrouter_dispatch_attempts_total{provider="sandbox",result="accepted"} 2`,
			`smsrouter_http_requests_total{code="202",method="POST",route="/api/v1/sms/send"} 2`,
			`smsrouter_plugin_restarts_total{provider="sandbox"} 1`,
			`smsrouter_messages{provider="sandbox",status="delivered"} 2`,
		} {
			if !strings.Contains(body, "\n"+line+"\n") {
				missing = line
				break
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the scrape never showed %s:\n%s", missing, body)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// An OTP is a message accepted like any other: counted when the API
	// answers, under its kind.
	if code, body := h.call(t, "POST", "/api/v1/otp/send", `{"phone_number":"+959123456789"}`); code != http.StatusOK {
		t.Fatalf("otp send: HTTP %d %v", code, body)
	}
	_, body := scrape("scrape-me")
	for _, line := range []string{
		`smsrouter_messages_accepted_total{kind="otp"} 1`,
		`smsrouter_segments_accepted_total{kind="otp"} 1`,
		`smsrouter_messages_accepted_total{kind="sms"} 2`,
	} {
		if !strings.Contains(body, "\n"+line+"\n") {
			t.Errorf("after an OTP send the scrape lacks %s", line)
		}
	}
}
