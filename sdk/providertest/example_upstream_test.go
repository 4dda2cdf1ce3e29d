package providertest_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/smsrouter/smsrouter/sdk"
	"github.com/smsrouter/smsrouter/sdk/providertest"
	"github.com/smsrouter/smsrouter/sdk/providertest/internal/flawed"
)

// upstreamTarget describes an HTTP JSON provider with signed delivery reports.
func upstreamTarget() providertest.Target {
	const secret = "callback-secret"
	sign := func(body []byte) string {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		return hex.EncodeToString(mac.Sum(nil))
	}
	report := []byte(`{"id":"m-1","status":"delivered"}`)
	return providertest.Target{
		Name: "jsonapi",
		New:  newJSONProvider,
		Upstream: &providertest.Upstream{
			Settings: func(url string) json.RawMessage {
				return json.RawMessage(fmt.Sprintf(`{"base_url":%q,"secret":%q}`, url, secret))
			},
			Answer: func(w http.ResponseWriter, r *http.Request, reply providertest.Reply) {
				w.WriteHeader(reply.Status)
				if reply.Status != http.StatusOK {
					fmt.Fprintf(w, `{"error":%q}`, reply.Reason)
					return
				}
				fmt.Fprintf(w, `{"id":%q,"balance":"12.50","currency":"EUR"}`, reply.ID)
			},
			Report: func(hookURL, id string) (*http.Request, error) {
				body := fmt.Appendf(nil, `{"id":%q,"status":"delivered"}`, id)
				req, err := http.NewRequest(http.MethodPost, hookURL+"/status", bytes.NewReader(body))
				if err == nil {
					req.Header.Set("X-Signature", sign(body))
				}
				return req, err
			},
		},
		Hooks: []providertest.HookCase{{
			Name: "delivered",
			Request: sdk.HookRequest{Method: http.MethodPost, URL: "https://sms.example.com/hooks/status", Path: "/status",
				Header: http.Header{"X-Signature": {sign(report)}}, Body: report},
			Events: []sdk.Event{{Status: &sdk.StatusEvent{ProviderMessageID: "m-1", Status: sdk.StatusDelivered}}},
		}},
		ExpectReports: true,
	}
}

// A provider that calls an HTTP JSON API and takes signed delivery reports
// tells the kit how its API answers (Upstream.Answer), what a delivery
// report looks like (Upstream.Report), and gives a recorded callback
// (Hooks). The kit then checks outcome classes, Retry-After, cancellation
// against a slow upstream, forged and odd callbacks, and that every
// accepted message gets its report. Call providertest.Run(t, target)
// from a test.
func ExampleUpstream() {
	// In a test: providertest.Run(t, upstreamTarget())
	_ = upstreamTarget()
}

// newJSONProvider stands for the provider of ExampleUpstream.
func newJSONProvider() sdk.Provider { return flawed.NewHTTP(flawed.None) }
