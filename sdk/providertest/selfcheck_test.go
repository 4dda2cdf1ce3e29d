package providertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/sdk"
	"github.com/smsrouter/smsrouter/sdk/providertest/internal/flawed"
)

// httpTarget runs the flawed HTTP provider with the kit's fake upstream,
// signed delivery reports and a recorded hook.
func httpTarget(flaw flawed.Flaw) Target {
	body := []byte(`{"id":"up-1","status":"delivered"}`)
	return Target{
		Name:        "flawed-http",
		New:         func() sdk.Provider { return flawed.NewHTTP(flaw) },
		BadSettings: []json.RawMessage{json.RawMessage(`{"base_url":"ftp://x","secret":"s"}`)},
		Upstream: &Upstream{
			Settings: flawed.Settings,
			Answer: func(w http.ResponseWriter, r *http.Request, reply Reply) {
				flawed.Answer(w, r, reply.Status, reply.ID, reply.Reason)
			},
			Report: func(hookURL, id string) (*http.Request, error) {
				body := fmt.Appendf(nil, `{"id":%q,"status":"delivered"}`, id)
				req, err := http.NewRequest(http.MethodPost, hookURL+"/status", bytes.NewReader(body))
				if err == nil {
					req.Header.Set("X-Signature", flawed.Sign(flawed.Secret, body))
				}
				return req, err
			},
		},
		Hooks: []HookCase{{
			Name: "delivered",
			Request: sdk.HookRequest{Method: http.MethodPost, URL: "https://hooks.example/status", Path: "/status", Body: body,
				Header: http.Header{"Content-Type": {"application/json"}, "X-Signature": {flawed.Sign(flawed.Secret, body)}}},
			Events: []sdk.Event{{ID: "up-1/delivered", Status: &sdk.StatusEvent{ProviderMessageID: "up-1", Status: sdk.StatusDelivered}}},
		}},
		ExpectReports: true,
		ReportTimeout: 2 * time.Second,
	}
}

func queueTarget(flaw flawed.Flaw) Target {
	return Target{
		Name:          "flawed-queue",
		New:           func() sdk.Provider { return flawed.NewQueue(flaw) },
		Settings:      json.RawMessage(`{"prefix":"q"}`),
		BadSettings:   []json.RawMessage{json.RawMessage(`{"prefix":""}`)},
		ExpectReports: true,
		ReportTimeout: 2 * time.Second,
	}
}

// caught says where the kit must report each flaw, and in what words.
var caught = map[flawed.Flaw]struct{ subtest, text string }{
	flawed.DropsResult:            {"SendBatch", "want exactly one per message"},
	flawed.WrongMessageID:         {"SendBatch", `has MessageID "msg_someone_else"`},
	flawed.NoProviderID:           {"SendBatch", "Accepted without a ProviderMessageID"},
	flawed.LeaksGoroutine:         {"Configure", "goroutines still running after Close"},
	flawed.BalanceWithoutCurrency: {"Configure", "has no currency"},
	flawed.ThrottleAsPermanent:    {"Upstream/Throttled", "want Temporary"},
	flawed.IgnoresRetryAfter:      {"Upstream/Throttled", "Retry-After"},
	flawed.UnsignedHooks:          {"Hooks/delivered", "must verify the caller's signature"},
	flawed.EmitsLate:              {"Hooks/delivered", "emitted after the response started"},
	flawed.PanicsInHook:           {"Hooks/delivered", "panicked"},
	flawed.IgnoresContext:         {"Upstream/Slow", "NewRequestWithContext"},
	flawed.SendsUnconfigured:      {"SendBeforeConfigure", "Send before Configure accepted"},
	flawed.AcceptsBadSettings:     {"BadSettings/0", "Configure accepted bad settings"},
	flawed.AcceptsAfterCancel:     {"SendCancelled/before", "want an error or Temporary results"},
	flawed.DropsRefusedEvents:     {"Reports", "never offered again"},
	flawed.ZeroBalanceOnFailure:   {"Upstream/Failing", "Balance with the upstream answering 503"},
	flawed.AccountAsPermanent:     {"Upstream/CredentialsRefused", "want sdk.AccountError"},
}

// TestKitCatchesFlaws runs the kit against providers with one mistake
// each: it must report every one, where and as the table says, and pass
// the same providers without a flaw.
func TestKitCatchesFlaws(t *testing.T) {
	defer flawed.StopLeaks()
	defer func(d time.Duration) { promptTimeout = d }(promptTimeout)
	promptTimeout = 2 * time.Second
	for _, kind := range []struct {
		name   string
		target func(flawed.Flaw) Target
		flaws  []flawed.Flaw
	}{
		{"http", httpTarget, flawed.HTTPFlaws()},
		{"queue", queueTarget, flawed.QueueFlaws()},
	} {
		t.Run(kind.name+"/correct", func(t *testing.T) {
			if r := record("correct", func(t tb) { run(t, kind.target(flawed.None)) }); r.Failed() {
				lines, _ := r.log.snapshot()
				t.Errorf("the kit failed a correct provider:\n%s", strings.Join(lines, "\n"))
			}
		})
		for _, flaw := range kind.flaws {
			t.Run(kind.name+"/"+string(flaw), func(t *testing.T) {
				want, ok := caught[flaw]
				if !ok {
					t.Fatalf("no expectation for flaw %s", flaw)
				}
				r := record("flawed", func(t tb) { run(t, kind.target(flaw)) })
				lines, failures := r.log.snapshot()
				switch {
				case !r.Failed():
					t.Errorf("the kit passed a provider with flaw %s:\n%s", flaw, strings.Join(lines, "\n"))
				case !r.failedIn(want.subtest, want.text):
					t.Errorf("the kit failed flaw %s, but not in %s with %q; its failures:\n%s", flaw, want.subtest, want.text, strings.Join(failures, "\n"))
				}
			})
		}
	}
}
