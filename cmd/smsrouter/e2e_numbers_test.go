package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/numbers"
	"github.com/smsrouter/smsrouter/core/webhook"
	"github.com/smsrouter/smsrouter/plugins/twilio/twiliotest"
)

// leasedNumber is the number the config offers for leasing.
const leasedNumber = "+15017122662"

func writeNumbersConfig(t *testing.T, dir, apiURL, accountSID string, port int, extra string) string {
	t.Helper()
	path := writeTwilioConfig(t, dir, apiURL, accountSID, port)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), `    from        = "+15017122661"
  }`, `    from        = "+15017122661"
  }
  numbers = [`+fmt.Sprintf("%q", leasedNumber)+`]
  pricing {
    assignment = { default = 0.25 }
  }`, 1) + `
numbers {
  lease      = "5m"
  quarantine = "1m"
}
webhooks {
  allowed_networks = ["127.0.0.0/8"]
}
` + extra
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// seedCall calls the virtual-number API as its clients do: the key in the
// path, no Authorization header.
func seedCall(t *testing.T, h *hostProc, path string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get("http://" + h.addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("GET %s: %d %s: %v", redactForTest(path), resp.StatusCode, b, err)
	}
	return resp.StatusCode, body
}

func redactForTest(p string) string {
	if i := strings.Index(p, "api_live_"); i >= 0 {
		return p[:i] + "[key]"
	}
	return p
}

// TestServeLeasesANumberAndReportsItsCode runs the virtual-number API of
// seed 001 through the real host: a client gets a number by the API key
// in the path, a provider delivers a text with a code to it, and the
// account's webhook receives otp_received with exactly the seed's payload,
// signed; the key never shows in the host's log or in an error body.
func TestServeLeasesANumberAndReportsItsCode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	api := twiliotest.NewServer(twiliotest.Options{AuthToken: twilioE2EToken})
	t.Cleanup(api.Close)
	t.Setenv(twilioE2ETokenEnv, twilioE2EToken)
	port := freeLoopbackPort(t)

	got := make(chan []byte, 4)
	project := make(chan []byte, 4)
	ruled := make(chan string, 8)
	var secret string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify(secret, r.Header.Get("X-Signature"), r.Header.Get("X-Timestamp"), body, 5*time.Minute, time.Now()); err != nil {
			t.Errorf("webhook %s: %v", r.Header.Get("X-Event-Type"), err)
		}
		switch {
		case r.URL.Path == "/rule":
			ruled <- r.Header.Get("X-Event-Type")
		case r.Header.Get("X-Event-Type") == "otp_received":
			got <- body
		case r.Header.Get("X-Event-Type") == "otp.received":
			project <- body
		}
	}))
	defer recv.Close()
	// Texts starting SHOP to the sender number (not in the inventory) go
	// to the rule's own webhook, with their codes.
	rule := fmt.Sprintf(`
inbound "shop" {
  match       = "keyword == 'SHOP' && to == '+15017122661'"
  extract_otp = true
  webhook     = %q
}
`, recv.URL+"/rule")
	h := startHost(t, writeNumbersConfig(t, t.TempDir(), api.URL, api.AccountSID(), port, rule))

	code, body := h.call(t, "PUT", "/api/v1/webhook", fmt.Sprintf(`{"url":%q}`, recv.URL))
	if secret, _ = body["secret"].(string); code != http.StatusOK || secret == "" {
		t.Fatalf("PUT /webhook: HTTP %d %v", code, body)
	}

	us := numbers.CountryID("US")
	code, body = seedCall(t, h, "/api/init/"+h.key)
	countries, _ := body["data"].(map[string]any)["countries"].([]any)
	if code != http.StatusOK || body["status"] != "success" || len(countries) != 1 ||
		countries[0].(map[string]any)["id"] != float64(us) || countries[0].(map[string]any)["phone_code"] != "1" {
		t.Fatalf("GET /api/init: %d %v", code, body)
	}

	for _, tc := range []struct {
		path string
		code int
		msg  string
	}{
		{"/api/get-number/api_live_wrong?country_id=540", 401, "Invalid api_key"},
		{"/api/get-number/" + h.key, 400, "country_id is required"},
		{"/api/get-number/" + h.key + "?country_id=999999", 400, "country_id is required"},
		{fmt.Sprintf("/api/get-number/%s?country_id=%d&number_format=e164", h.key, us), 400, "number_format must be one of full, national, remove_plus"},
		{fmt.Sprintf("/api/get-number/%s?country_id=%d", h.key, numbers.CountryID("GB")), 404, "No number received"},
	} {
		code, body := seedCall(t, h, tc.path)
		if msg, _ := body["message"].(string); code != tc.code || !strings.HasPrefix(msg, tc.msg) {
			t.Errorf("GET %s: %d %v; want %d %q", redactForTest(tc.path), code, body, tc.code, tc.msg)
		}
	}
	code, body = seedCall(t, h, fmt.Sprintf("/api/get-number/%s?country_id=%d&number_format=remove_plus", h.key, us))
	if data, _ := body["data"].(map[string]any); code != http.StatusOK || body["status"] != "success" || data["phone_number"] != leasedNumber[1:] {
		t.Fatalf("get-number: %d %v", code, body)
	}
	if code, body := seedCall(t, h, fmt.Sprintf("/api/get-number/%s?country_id=%d", h.key, us)); code != http.StatusNotFound {
		t.Fatalf("get-number with the only number leased: %d %v, want 404", code, body)
	}

	// A provider delivers a code to the leased number.
	hooks := fmt.Sprintf("http://127.0.0.1:%d/api/v1/providers/twilio-1/hooks", port)
	text := "Your Acme verification code is 482913. Do not share it."
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, code, _, err := api.Inbound(ctx, hooks+"/receive", "+15558675310", leasedNumber, text); err != nil || code != http.StatusOK {
		t.Fatalf("inbound: %d %v", code, err)
	}
	select {
	case b := <-got:
		want := fmt.Sprintf(`{"event":"otp_received","data":{"phone_number":%q,"otp_code":"482913","provider":"twilio-1","sms_text":%q}}`, leasedNumber, text)
		if string(b) != want {
			t.Errorf("otp_received body\n%s\nwant\n%s", b, want)
		}
	case <-ctx.Done():
		t.Fatalf("no otp_received webhook; host log:\n%s", h.stderr)
	}
	select {
	case b := <-project:
		var ev struct {
			ID, Type string
			Data     map[string]any
		}
		if err := json.Unmarshal(b, &ev); err != nil || ev.Type != "otp.received" || !strings.HasPrefix(ev.ID, "evt_") ||
			ev.Data["code"] != "482913" || ev.Data["to"] != leasedNumber || ev.Data["from"] != "+15558675310" || ev.Data["text"] != text {
			t.Errorf("otp.received body %s (%v)", b, err)
		}
	case <-ctx.Done():
		t.Fatalf("no otp.received webhook; host log:\n%s", h.stderr)
	}

	// An admin asks what the rules make of a message, with the inventory's
	// facts: the leased number is held; the rule takes SHOP texts.
	for _, tc := range []struct {
		to, text, rule string
		held           bool
	}{{leasedNumber, "SHOP now", "", true}, {"+15017122661", "shop now", "shop", false}} {
		code, body := h.call(t, "POST", "/api/v1/admin/inbound/explain", fmt.Sprintf(`{"from":"+15558675310","to":%q,"text":%q,"provider":"twilio-1"}`, tc.to, tc.text))
		facts, _ := body["facts"].(map[string]any)
		decision, _ := body["decision"].(map[string]any)
		if rule, _ := decision["rule"].(string); code != http.StatusOK || rule != tc.rule || facts["held"] != tc.held || facts["keyword"] != "SHOP" {
			t.Errorf("explain inbound to %s: %d %v", tc.to, code, body)
		}
	}

	// The inbound rule sends its messages' events to its own webhook.
	if _, code, _, err := api.Inbound(ctx, hooks+"/receive", "+15558675310", "+15017122661", "SHOP: your code is 5521"); err != nil || code != http.StatusOK {
		t.Fatalf("inbound to the rule: %d %v", code, err)
	}
	var types []string
	for len(types) < 3 {
		select {
		case typ := <-ruled:
			types = append(types, typ)
		case <-ctx.Done():
			t.Fatalf("rule webhook got %v, want message.received, otp_received, otp.received; host log:\n%s", types, h.stderr)
		}
	}
	slices.Sort(types)
	if fmt.Sprint(types) != "[message.received otp.received otp_received]" {
		t.Errorf("rule webhook got %v", types)
	}

	// The project's own API shows the lease and the message.
	code, body = h.call(t, "GET", "/api/v1/numbers/"+leasedNumber+"/messages", "")
	if msgs, _ := body["messages"].([]any); code != http.StatusOK || len(msgs) != 1 {
		t.Errorf("messages of the leased number: %d %v", code, body)
	}
	// The lease was charged its assignment price.
	code, body = h.call(t, "GET", "/api/v1/ledger", "")
	if entries, _ := body["entries"].([]any); code != http.StatusOK || len(entries) == 0 || fmt.Sprint(entries[0].(map[string]any)["amount"]) != "-0.25" {
		t.Errorf("ledger after leasing a number: %d %v; want a charge of 0.25", code, body)
	}

	// The key in a path shows nowhere: not in an error body, not in the log.
	code, body = seedCall(t, h, "/api/init/"+h.key+"/more")
	if msg := fmt.Sprint(body); code != http.StatusNotFound || strings.Contains(msg, h.key) || !strings.Contains(msg, "/api/init/[key]") {
		t.Errorf("unknown path under /api/init: %d %v", code, body)
	}
	if strings.Contains(h.stderr.String(), h.key) {
		t.Errorf("the host log shows the API key:\n%s", h.stderr)
	}
}
