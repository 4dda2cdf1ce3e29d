package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/sdk"
	"github.com/smsrouter/smsrouter/sdk/providertest"
)

// webhookSecret is what the fake API signs delivery reports with.
const webhookSecret = "test-webhook-secret"

// plugins builds the plugin binary for the test that runs it as the host does.
var plugins providertest.Builder

func TestMain(m *testing.M) {
	code := m.Run()
	plugins.Close()
	os.Exit(code)
}

// target describes the provider to the conformance kit, which plays the
// API with a fake that answers as the kit scripts and posts signed
// delivery reports to the provider's hook URL.
func target() providertest.Target {
	return providertest.Target{
		Name: "callback",
		BadSettings: []json.RawMessage{
			json.RawMessage(`{"base_url":"api.example.com","api_key":"k","webhook_secret":"s"}`),
			json.RawMessage(`{"base_url":"https://api.example.com","webhook_secret":"s"}`),
			json.RawMessage(`{"base_url":"https://api.example.com","api_key":"k"}`),
			json.RawMessage(`{"base_url":"https://api.example.com","api_key":"k","webhook_secret":"s","timeout":"5s"}`),
		},
		Upstream: &providertest.Upstream{
			Settings: func(url string) json.RawMessage {
				return json.RawMessage(fmt.Sprintf(`{"base_url":%q,"api_key":"test-key","webhook_secret":%q}`, url, webhookSecret))
			},
			Answer: answer,
			Report: func(hookURL, id string) (*http.Request, error) {
				body := reportBody(id, "delivered")
				req, err := http.NewRequest(http.MethodPost, hookURL+"/status", bytes.NewReader(body))
				if err == nil {
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("X-Signature", sign(body))
				}
				return req, err
			},
		},
		Hooks: []providertest.HookCase{
			{Name: "delivered", Request: recordedHook(reportBody("m-1", "delivered")), Status: http.StatusNoContent,
				Events: []sdk.Event{{ID: "m-1/delivered", Status: &sdk.StatusEvent{ProviderMessageID: "m-1", Status: sdk.StatusDelivered, ProviderStatus: "delivered"}}}},
			{Name: "undelivered", Request: recordedHook([]byte(`{"id":"m-2","status":"undelivered","error":"absent subscriber"}`)), Status: http.StatusNoContent,
				Events: []sdk.Event{{Status: &sdk.StatusEvent{ProviderMessageID: "m-2", Status: sdk.StatusUndeliverable, ErrorCode: "absent subscriber"}}}},
			{Name: "unknown status", Request: recordedHook(reportBody("m-3", "lost")), Status: http.StatusNoContent,
				Events: []sdk.Event{{ID: "m-3/lost", Status: &sdk.StatusEvent{ProviderMessageID: "m-3", Status: sdk.StatusUnknown, ProviderStatus: "lost"}}}},
			{Name: "other path", Request: sdk.HookRequest{Method: http.MethodGet, Path: "/inbound"}, Status: http.StatusNotFound},
		},
		ExpectReports: true,
	}
}

func TestConformance(t *testing.T) {
	tg := target()
	tg.New = func() sdk.Provider { return &provider{} }
	providertest.Run(t, tg)
}

// TestConformanceBinary runs the plugin behind the plugin boundary, as the
// host does.
func TestConformanceBinary(t *testing.T) {
	bin := plugins.Build(t, ".")
	tg := target()
	tg.Command = func() *exec.Cmd { return exec.Command(bin) }
	providertest.Run(t, tg)
}

// TestStaysSmall keeps the example what it promises: a whole provider in
// at most 150 lines.
func TestStaysSmall(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	lines := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines += bytes.Count(b, []byte("\n"))
	}
	if lines > 150 {
		t.Errorf("the example's non-test Go files have %d lines; it promises at most 150", lines)
	}
}

// answer writes the kit's scripted reply as the API does.
func answer(w http.ResponseWriter, r *http.Request, reply providertest.Reply) {
	w.Header().Set("Content-Type", "application/json")
	switch {
	case reply.Status != http.StatusOK:
		w.WriteHeader(reply.Status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": reply.Reason})
	case r.Header.Get("Authorization") != "Bearer test-key":
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":"bad key"}`)
	case r.Method == http.MethodPost && r.URL.Path == "/messages":
		_ = json.NewEncoder(w).Encode(map[string]string{"id": reply.ID})
	case r.Method == http.MethodGet && r.URL.Path == "/balance":
		fmt.Fprint(w, `{"amount":12.5,"currency":"EUR"}`)
	default:
		http.NotFound(w, r)
	}
}

func reportBody(id, status string) []byte {
	return fmt.Appendf(nil, `{"id":%q,"status":%q}`, id, status)
}

// recordedHook is a delivery report as the host hands it to HandleHook.
func recordedHook(body []byte) sdk.HookRequest {
	return sdk.HookRequest{Method: http.MethodPost, URL: "https://sms.example.com/api/v1/providers/cb/hooks/status", Path: "/status",
		Header: http.Header{"Content-Type": {"application/json"}, "X-Signature": {sign(body)}}, Body: body}
}

func sign(body []byte) string {
	mac := hmac.New(sha256.New, []byte(webhookSecret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}
