package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/plugins/twilio/twiliotest"
)

// TestPluginCheckCallsTheUpstream checks that plugin check configures the
// plugin and asks the upstream for health and balance, so that wrong
// credentials fail the check (it used to say "plugin OK" with a wrong key).
func TestPluginCheckCallsTheUpstream(t *testing.T) {
	api := twiliotest.NewServer(twiliotest.Options{Balance: "12.50", Currency: "EUR"})
	t.Cleanup(api.Close)
	settings := func(token string) string {
		b, err := json.Marshal(map[string]string{"account_sid": api.AccountSID(), "auth_token": token, "base_url": api.URL, "from": "+14155550100"})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	file := filepath.Join(t.TempDir(), "twilio.json")
	if err := os.WriteFile(file, []byte(settings(api.AuthToken())), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		settings  string
		code      int
		inStdout  []string
		inStderr  []string
		notStdout []string
	}{
		{"right key", settings(api.AuthToken()), 0,
			[]string{"configure     ok", "health        ok", "balance       ok 12.5 EUR", "plugin OK"}, nil, nil},
		{"right key from a file", file, 0, []string{"configure     ok", "balance       ok 12.5 EUR", "plugin OK"}, nil, nil},
		{"wrong key", settings("not-the-token"), 1,
			[]string{"configure     ok", "health        FAIL", "balance       FAIL"},
			[]string{"upstream refused the credentials", "balance: twilio balance: upstream answered HTTP 401"}, []string{"plugin OK"}},
		{"misspelt setting", `{"acount_sid":"AC1"}`, 1, []string{"configure     FAIL"}, []string{"acount_sid"}, []string{"plugin OK", "balance       "}},
		{"settings file missing", filepath.Join(t.TempDir(), "nope.json"), 1, nil, []string{"--settings: open "}, []string{"checking"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := cliRun(t, "plugin", "check", "--builtin", "twilio", "--settings", tc.settings)
			res.expect(t, tc.code, tc.inStdout, tc.inStderr)
			for _, s := range tc.notStdout {
				if strings.Contains(res.stdout, s) {
					t.Errorf("stdout has %q:\n%s", s, res)
				}
			}
		})
	}
}

// TestPluginCheckPostsAHook checks that plugin check hands a recorded
// request to the plugin's hook and reports the answer and the events, and
// that a request the plugin refuses (a forged signature) fails the check.
func TestPluginCheckPostsAHook(t *testing.T) {
	api := twiliotest.NewServer(twiliotest.Options{})
	t.Cleanup(api.Close)
	const hookURL = "https://sms.example.com/api/v1/providers/tw/hooks"
	settings, err := json.Marshal(map[string]string{"account_sid": api.AccountSID(), "auth_token": api.AuthToken(), "base_url": api.URL, "from": "+14155550100"})
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"delivered"}, "AccountSid": {api.AccountSID()}}
	hookFile := func(signature string) string {
		body := form.Encode()
		raw := fmt.Sprintf("POST /status HTTP/1.1\r\nHost: sms.example.com\r\nContent-Type: application/x-www-form-urlencoded\r\nX-Twilio-Signature: %s\r\nContent-Length: %d\r\n\r\n%s", signature, len(body), body)
		path := filepath.Join(t.TempDir(), "hook.http")
		if err := os.WriteFile(path, []byte(raw), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for _, tc := range []struct {
		name     string
		file     string
		code     int
		inStdout []string
		inStderr []string
	}{
		{"signed", hookFile(twiliotest.Sign(api.AuthToken(), hookURL+"/status", form)), 0,
			[]string{"hook          ok: POST /status answered HTTP", "1 event(s)", "status SM1: delivered (delivered)", "plugin OK"}, nil},
		{"forged", hookFile("bm90IGEgc2lnbmF0dXJl"), 1, []string{"hook          FAIL"}, []string{"hook: POST /status answered HTTP 403"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := cliRun(t, "plugin", "check", "--builtin", "twilio", "--settings", string(settings), "--hook-url", hookURL, "--hook", tc.file)
			res.expect(t, tc.code, tc.inStdout, tc.inStderr)
		})
	}
	cliRun(t, "plugin", "check", "--builtin", "twilio", "--hook", hookFile("x")).expect(t, 1, nil, []string{"--hook needs --settings"})
}

// TestPluginCheckAsksDeviceCapabilities checks that plugin check shows the
// capabilities of a provider with devices of its own and asks each: what
// the host will list as devices, numbers and networks, the tunables, and
// whether it refuses sends while down (it showed none of them before).
func TestPluginCheckAsksDeviceCapabilities(t *testing.T) {
	android := cliRun(t, "plugin", "check", "--builtin", "android", "--settings",
		`{"private_token":"0123456789abcdef0123456789abcdef","when_offline":"refuse"}`)
	android.expect(t, 1, []string{
		"numbers=true devices=true revoke_device=true networks=true tune=false",
		"health        FAIL: link down: No gateway online",
		"devices       0, 0 online: none",
		"numbers       0: none",
		"networks      operators none, countries none",
	}, []string{"refuse_while_down: while down, the host answers sends 503 No gateway online"})

	sandbox := cliRun(t, "plugin", "check", "--builtin", "sandbox", "--settings", `{}`)
	sandbox.expect(t, 0, []string{"tune=true outbox=true", "tunables      accept_latency=", "health=up", "plugin OK"}, nil)
	if strings.Contains(sandbox.stdout, "devices    ") {
		t.Errorf("plugin check asked a provider without devices for them:\n%s", sandbox)
	}
}
