package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smsrouter/smsrouter/plugins/twilio/twiliotest"
)

const (
	twilioE2EToken    = "e2e-auth-token-0123456789abcdef"
	twilioE2ETokenEnv = "SMSROUTER_E2E_TWILIO_AUTH_TOKEN"
	// twilioHeldNumber gets only a "sent" report from the fake, so the test
	// decides when (and whether) it is delivered.
	twilioHeldNumber = "+15558675399"
)

// freeLoopbackPort returns a port nobody listened on a moment ago. The
// host must know its public URL before it starts (it hands plugins the
// hook URL), so the port cannot be left to the host to pick.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func writeTwilioConfig(t *testing.T, dir, apiURL, accountSID string, port int) string {
	t.Helper()
	cfg := fmt.Sprintf(`
server {
  listen     = "127.0.0.1:%[1]d"
  public_url = "http://127.0.0.1:%[1]d"
}
database {
  driver = "sqlite"
  path   = %[2]q
}
provider "twilio-1" {
  plugin = "twilio"
  config = {
    account_sid = %[3]q
    auth_token  = env(%[4]q)
    base_url    = %[5]q
    from        = "+15017122661"
  }
}
route "default" {
  default    = true
  candidates = ["twilio-1"]
}
`, port, filepath.Join(dir, "data", "smsrouter.db"), accountSID, twilioE2ETokenEnv, apiURL)
	path := filepath.Join(dir, "smsrouter.hcl")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (h *hostProc) sendTo(t *testing.T, to, text string) string {
	t.Helper()
	code, body := h.call(t, "POST", "/api/v1/sms/send", fmt.Sprintf(`{"to":%q,"message":%q}`, to, text))
	if code != http.StatusAccepted {
		t.Fatalf("send to %s: HTTP %d %v", to, code, body)
	}
	return body["message_id"].(string)
}

func (h *hostProc) statusOf(t *testing.T, id string) string {
	t.Helper()
	code, body := h.call(t, "GET", "/api/v1/sms/status/"+id, "")
	if code != http.StatusOK {
		t.Fatalf("status %s: HTTP %d %v", id, code, body)
	}
	st, _ := body["status"].(string)
	return st
}

// TestTwilioSendAndSignedCallbacksThroughTheHost runs the twilio plugin in
// the real host against the fake Twilio API: a REST send reaches the fake,
// the fake's signed callbacks come back through the host's hook forwarding
// and the message ends delivered; a forged callback is refused with 403 and
// changes nothing; an inbound message is answered with empty TwiML.
func TestTwilioSendAndSignedCallbacksThroughTheHost(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	leaks := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, leaks) }) // runs last, after the host and the fake stopped

	api := twiliotest.NewServer(twiliotest.Options{
		AuthToken: twilioE2EToken,
		Reports: func(to string) []twiliotest.Report {
			if to == twilioHeldNumber {
				return []twiliotest.Report{{Status: "sent"}}
			}
			return []twiliotest.Report{{Status: "queued"}, {Status: "sent"}, {Status: "delivered"}}
		},
	})
	t.Cleanup(api.Close)
	t.Setenv(twilioE2ETokenEnv, twilioE2EToken) // the host reads the secret through env() in the config

	port := freeLoopbackPort(t)
	h := startHost(t, writeTwilioConfig(t, t.TempDir(), api.URL, api.AccountSID(), port))
	hooks := fmt.Sprintf("http://127.0.0.1:%d/api/v1/providers/twilio-1/hooks", port)

	// REST send → plugin → fake API → signed callbacks → delivered.
	first := h.sendTo(t, "+15558675310", "Hello from My SaaS App!")
	if got := h.awaitFinal(t, []string{first}, 30*time.Second); got["delivered"] != 1 {
		t.Fatalf("message ended %v, want delivered", got)
	}
	sent := api.Messages()
	if len(sent) != 1 || sent[0].To != "+15558675310" || sent[0].Body != "Hello from My SaaS App!" || sent[0].StatusCallback != hooks+"/status" {
		t.Fatalf("fake API saw %+v; want one send with StatusCallback %s", sent, hooks+"/status")
	}

	// A message that only got "sent" so far.
	held := h.sendTo(t, twilioHeldNumber, "Wait for it")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	deliveries, err := api.AwaitDeliveries(ctx, 4)
	if err != nil {
		t.Fatalf("callbacks: %v; host log:\n%s", err, h.stderr)
	}
	for _, d := range deliveries {
		if d.Err != nil || d.HTTPStatus != http.StatusOK {
			t.Fatalf("callback %+v not answered 200; host log:\n%s", d, h.stderr)
		}
	}
	awaitStatus(t, h, held, "sent")
	var heldSID string
	for _, m := range api.Messages() {
		if m.To == twilioHeldNumber {
			heldSID = m.SID
		}
	}

	// Forged reports: a guessed token, no signature, a signature for
	// another URL. All refused, none changes the message.
	form := api.StatusForm(twiliotest.Message{SID: heldSID, From: "+15017122661", To: twilioHeldNumber}, twiliotest.Report{Status: "delivered"})
	forgeries := map[string]string{
		"guessed token": twiliotest.Sign("guessed-token", hooks+"/status", form),
		"no signature":  "",
		"other url":     twiliotest.Sign(twilioE2EToken, "https://elsewhere.example.com/status", form),
	}
	for name, sig := range forgeries {
		code, body, err := api.PostWithSignature(ctx, hooks+"/status", form, sig)
		if err != nil || code != http.StatusForbidden {
			t.Errorf("forged callback (%s) answered %d %q, %v; want 403", name, code, body, err)
		}
	}
	if st := h.statusOf(t, held); st != "sent" {
		t.Fatalf("after forged callbacks the message is %q, want still sent", st)
	}

	// The genuine report for it is accepted.
	if code, err := api.Report(ctx, heldSID, twiliotest.Report{Status: "delivered"}); err != nil || code != http.StatusOK {
		t.Fatalf("signed callback answered %d, %v; host log:\n%s", code, err, h.stderr)
	}
	if st := h.statusOf(t, held); st != "delivered" {
		t.Errorf("after the signed callback the message is %q, want delivered", st)
	}

	// The same report in the connector shape is accepted and is a repeat.
	code, body, err := api.PostSigned(ctx, hooks+"/delivery-notification", url.Values{"MessageSid": {heldSID}, "SmsStatus": {"delivered"}})
	if err != nil || code != http.StatusOK {
		t.Errorf("connector-shaped callback answered %d %q, %v; want 200", code, body, err)
	}

	// Inbound, signed like Twilio does, answered with empty TwiML.
	_, code, answer, err := api.Inbound(ctx, hooks+"/receive", "+15558675310", "+15017122661", "Hi back")
	if err != nil || code != http.StatusOK || !strings.Contains(answer, "<Response></Response>") {
		t.Errorf("inbound answered %d %q, %v; want 200 with empty TwiML", code, answer, err)
	}
}

// awaitStatus polls the status API, as applications do, until the message
// reaches want.
func awaitStatus(t *testing.T, h *hostProc, id, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := h.statusOf(t, id)
		if st == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("message %s is %q, want %q; host log:\n%s", id, st, want, h.stderr)
		}
		time.Sleep(25 * time.Millisecond)
	}
}
