package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"go.uber.org/goleak"

	"github.com/smsrouter/smsrouter/plugins/httpapi"
	"github.com/smsrouter/smsrouter/plugins/httpapi/aggregatortest"
	"github.com/smsrouter/smsrouter/sdk"
	"github.com/smsrouter/smsrouter/sdk/providertest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { plugins.Close() }))
}

const token = "s3cret-token"

// plugins builds the plugin binaries the tests run, once per test run.
var plugins providertest.Builder

// pluginBinary returns the httpapi plugin binary.
func pluginBinary(t *testing.T) string {
	t.Helper()
	return plugins.Build(t, "./testdata/httpapiplugin")
}

// fake starts a fake aggregator that stops with the test.
func fake(t *testing.T, opts aggregatortest.Options) *aggregatortest.Server {
	t.Helper()
	if opts.Token == "" {
		opts.Token = token
	}
	s := aggregatortest.New(opts)
	t.Cleanup(s.Close)
	return s
}

// settingsFor is the preset pointed at the fake, with overrides merged in.
func settingsFor(t *testing.T, preset, url string, overrides string) json.RawMessage {
	t.Helper()
	doc := map[string]any{
		"preset":         preset,
		"base_url":       url,
		"auth":           map[string]any{"token": token},
		"default_sender": "SMSROUTER",
		"timeout":        "5s",
	}
	if overrides != "" {
		var o map[string]any
		if err := json.Unmarshal([]byte(overrides), &o); err != nil {
			t.Fatalf("overrides %s: %v", overrides, err)
		}
		for k, v := range o {
			doc[k] = v
		}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testLogger(t *testing.T) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: "httpapi", Level: hclog.Debug, Output: testWriter{t}})
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// provider returns a configured provider that closes with the test.
func provider(t *testing.T, settings json.RawMessage) *httpapi.Provider {
	t.Helper()
	p := httpapi.New()
	if err := p.Configure(t.Context(), sdk.Config{Name: "agg-test", Settings: settings, Logger: testLogger(t)}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	return p
}

// msgs builds messages to the given numbers with the given text.
func msgs(text string, to ...string) []sdk.Message {
	out := make([]sdk.Message, len(to))
	for i, n := range to {
		out[i] = sdk.Message{ID: fmt.Sprintf("msg_%d_%s", i, strings.TrimPrefix(n, "+")), To: n, Text: text, Encoding: sdk.EncodingGSM7, Segments: 1, Kind: "sms"}
	}
	return out
}

// badConformanceSettings are settings the kit checks Configure refuses.
var badConformanceSettings = []json.RawMessage{
	json.RawMessage(`{"preset":"nope"}`),
	json.RawMessage(`{"preset":"aggregator002","base_url":"ftp://x","auth":{"token":"t"}}`),
	json.RawMessage(`{"preset":"aggregator002","base_url":"http://127.0.0.1:1","auth":{"type":"bearer"}}`),
	json.RawMessage(`{"operations":{}}`),
}

// conformanceTarget runs the kit against the preset talking to the fake
// aggregator, delivery reports read by status queries.
func conformanceTarget(t *testing.T, preset string) providertest.Target {
	srv := fake(t, aggregatortest.Options{})
	return providertest.Target{
		Name:          "httpapi",
		Settings:      settingsFor(t, preset, srv.URL, ""),
		BadSettings:   badConformanceSettings,
		ExpectReports: true,
	}
}

// upstreamTarget runs the kit with its own fake upstream speaking the
// aggregator002 API, so it checks what each kind of answer becomes.
func upstreamTarget(t *testing.T) providertest.Target {
	return providertest.Target{
		Name: "httpapi",
		Upstream: &providertest.Upstream{
			Settings: func(url string) json.RawMessage { return settingsFor(t, "aggregator002", url, "") },
			Answer:   answerAsAggregator,
		},
		BadSettings:   badConformanceSettings,
		ExpectReports: true,
	}
}

// answerAsAggregator writes the kit's scripted answer in the aggregator002
// API: ids for the phones of a send (the first one the kit's), DELIVRD for
// every id it gave, a balance, a sender.
func answerAsAggregator(w http.ResponseWriter, r *http.Request, reply providertest.Reply) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(reply.Status)
	if reply.Status != http.StatusOK {
		_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": reply.Status, "message": reply.Reason}})
		return
	}
	var req struct {
		Phone []string `json:"phone"`
		IDs   []string `json:"id_sms"`
	}
	_ = json.NewDecoder(r.Body).Decode(&req)
	info := map[string]any{}
	switch r.URL.Path {
	case "/api/sms/send":
		for i, phone := range req.Phone {
			id := reply.ID
			if i > 0 {
				id = fmt.Sprintf("%s-%d", reply.ID, i)
			}
			info[id] = phone
		}
	case "/api/sms/status":
		for _, id := range req.IDs {
			if reply.Known(id) {
				info[id] = "DELIVRD"
			}
		}
	case "/api/balance":
		info = map[string]any{"money": "100.5", "currency": "UAH"}
	}
	var doc any = map[string]any{"info": info}
	if r.URL.Path == "/api/alpha-names" {
		doc = map[string]any{"info": []string{"SMSROUTER"}}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"success_request": doc})
}

func TestConformance(t *testing.T) {
	for _, preset := range []string{"aggregator002", "aggregator002_xml"} {
		t.Run(preset, func(t *testing.T) {
			target := conformanceTarget(t, preset)
			target.New = func() sdk.Provider { return httpapi.New() }
			providertest.Run(t, target)
		})
	}
	t.Run("upstream", func(t *testing.T) {
		target := upstreamTarget(t)
		target.New = func() sdk.Provider { return httpapi.New() }
		providertest.Run(t, target)
	})
}

// TestConformanceBinary runs the provider behind the plugin boundary, as
// the host does, through a plugin binary built from testdata.
func TestConformanceBinary(t *testing.T) {
	bin := pluginBinary(t)
	target := upstreamTarget(t)
	target.Command = func() *exec.Cmd { return exec.Command(bin) }
	providertest.Run(t, target)
}

// result describes a SendResult for comparison: outcome and code.
func result(r sdk.SendResult) string {
	return r.Outcome.String() + "/" + r.Code
}

func TestSend(t *testing.T) {
	type env struct {
		t      *testing.T
		preset string
		srv    *aggregatortest.Server
		p      *httpapi.Provider
	}
	tests := []struct {
		name      string
		opts      aggregatortest.Options
		overrides string
		setup     func(e env)
		msgs      []sdk.Message
		want      []string // result() per message
		wantErr   string
		requests  int // send requests that reached the fake; -1 to skip
		check     func(e env, res []sdk.SendResult)
	}{
		{
			name:     "one request for one text to several phones",
			msgs:     msgs("hello", "+380989361131", "+380989361132", "+380989361133"),
			want:     []string{"accepted/200", "accepted/200", "accepted/200"},
			requests: 1,
		},
		{
			name: "one request per text",
			msgs: append(msgs("hello", "+380989361131"), msgs("bye", "+380989361132")...),
			want: []string{"accepted/200", "accepted/200"}, requests: 2,
		},
		{
			name: "batches above 100 phones are split",
			msgs: func() []sdk.Message {
				var to []string
				for i := range 120 {
					to = append(to, fmt.Sprintf("+38098%07d", i))
				}
				return msgs("bulk", to...)
			}(),
			requests: 2,
		},
		{
			name:     "two messages to one phone go in separate requests and keep their own ids",
			opts:     aggregatortest.Options{DuplicateWindow: -1},
			msgs:     append(msgs("same", "+380989361131", "+380989361132"), msgs("same", "+380989361131")...),
			want:     []string{"accepted/200", "accepted/200", "accepted/200"},
			requests: 2,
		},
		{
			name:     "the aggregator's duplicate refusal of a batch is retried message by message",
			setup:    func(e env) { sendOK(e.t, e.p, msgs("promo", "+380989361132")) },
			msgs:     msgs("promo", "+380989361131", "+380989361132", "+380989361133"),
			want:     []string{"accepted/200", "permanent/453", "accepted/200"},
			requests: 1 + 1 + 3,
		},
		{
			name:     "a number missing from the answer is rejected",
			setup:    func(e env) { e.srv.Drop("380989361132") },
			msgs:     msgs("hello", "+380989361131", "+380989361132"),
			want:     []string{"accepted/200", "permanent/missing"},
			requests: 1,
		},
		{
			name:     "a destination that is not E.164 is refused without a request",
			msgs:     append(msgs("hello", "0989361131"), msgs("hello", "+380989361131")...),
			want:     []string{"permanent/invalid_destination", "accepted/200"},
			requests: 1,
		},
		{
			name:     "400 is permanent",
			setup:    func(e env) { e.srv.FailNext(aggregatortest.OpSend, aggregatortest.Failure{Status: 400}) },
			msgs:     msgs("hello", "+380989361131"),
			want:     []string{"permanent/400"},
			requests: 1,
		},
		{
			name:      "401 is an account error",
			overrides: `{"auth":{"token":"wrong"}}`,
			msgs:      msgs("hello", "+380989361131"),
			want:      []string{"account_error/401"},
			requests:  1,
		},
		{
			name:      "http_status overrides the class",
			overrides: `{"auth":{"token":"wrong"},"http_status":{"401":"temporary"}}`,
			msgs:      msgs("hello", "+380989361131"),
			want:      []string{"temporary/401"},
			requests:  1,
		},
		{
			name:     "5xx is temporary",
			setup:    func(e env) { e.srv.FailNext(aggregatortest.OpSend, aggregatortest.Failure{Status: 503}) },
			msgs:     msgs("hello", "+380989361131", "+380989361132"),
			want:     []string{"temporary/503", "temporary/503"},
			requests: 1,
		},
		{
			name: "429 honours Retry-After and holds back later sends",
			setup: func(e env) {
				e.srv.FailNext(aggregatortest.OpSend, aggregatortest.Failure{Status: 429, RetryAfter: "7"})
				res, err := e.p.Send(e.t.Context(), msgs("first", "+380989361139"))
				if err != nil || res[0].Outcome != sdk.Temporary || res[0].RetryAfter != 7*time.Second || res[0].Code != "429" {
					e.t.Fatalf("throttled send = %+v, %v; want Temporary 429 with RetryAfter 7s", res, err)
				}
			},
			msgs:     msgs("hello", "+380989361131"),
			want:     []string{"temporary/429"},
			requests: 1,
			check: func(e env, res []sdk.SendResult) {
				if res[0].RetryAfter <= 6*time.Second || res[0].RetryAfter > 7*time.Second {
					e.t.Errorf("RetryAfter while throttled = %s, want the rest of 7s", res[0].RetryAfter)
				}
			},
		},
		{
			name: "a message sent again after it was accepted gets its id without a request",
			setup: func(e env) {
				sendOK(e.t, e.p, msgs("once", "+380989361131"))
			},
			msgs:     msgs("once", "+380989361131"),
			want:     []string{"accepted/"},
			requests: 1,
		},
		{
			name: "a malformed success answer fails the messages rather than resending them",
			setup: func(e env) {
				e.srv.FailNext(aggregatortest.OpSend, aggregatortest.Failure{Status: 200, Body: `{"success_request":`})
			},
			msgs:     msgs("hello", "+380989361131"),
			want:     []string{"permanent/malformed_answer"},
			requests: 1,
			check: func(e env, res []sdk.SendResult) {
				if !strings.Contains(res[0].Reason, "may have accepted") {
					e.t.Errorf("reason %q does not warn the message may have been accepted", res[0].Reason)
				}
			},
		},
		{
			name: "an error document with a success status is permanent",
			setup: func(e env) {
				body := `{"error":{"code":"E7","message":"sender not approved"}}`
				if e.preset == "aggregator002_xml" {
					body = `<response><error><code>E7</code><message>sender not approved</message></error></response>`
				}
				e.srv.FailNext(aggregatortest.OpSend, aggregatortest.Failure{Status: 200, Body: body})
			},
			msgs:     msgs("hello", "+380989361131"),
			want:     []string{"permanent/E7"},
			requests: 1,
		},
		{
			name:      "no answer within the timeout is temporary, flagged unknown",
			overrides: `{"timeout":"200ms"}`,
			setup: func(e env) {
				e.t.Cleanup(e.srv.Hold(aggregatortest.OpSend))
			},
			msgs:     msgs("hello", "+380989361131"),
			want:     []string{"temporary/no_answer"},
			requests: 1,
			check: func(e env, res []sdk.SendResult) {
				if !strings.Contains(res[0].Reason, "outcome is unknown") || !strings.Contains(res[0].Reason, "timeout") {
					e.t.Errorf("reason %q should say the outcome is unknown after a timeout", res[0].Reason)
				}
			},
		},
		{
			name:      "connection refused fails the whole batch with an error",
			overrides: `{"base_url":"` + refusedURL() + `"}`,
			msgs:      msgs("hello", "+380989361131"),
			wantErr:   "connection refused",
			requests:  0,
		},
	}
	for _, preset := range []string{"aggregator002", "aggregator002_xml"} {
		for _, tt := range tests {
			t.Run(preset+"/"+tt.name, func(t *testing.T) {
				srv := fake(t, tt.opts)
				p := provider(t, settingsFor(t, preset, srv.URL, tt.overrides))
				e := env{t: t, preset: preset, srv: srv, p: p}
				if tt.setup != nil {
					tt.setup(e)
				}
				res, err := p.Send(t.Context(), tt.msgs)
				if tt.wantErr != "" {
					if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
						t.Fatalf("Send error = %v, want one containing %q", err, tt.wantErr)
					}
					return
				}
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				checkMapping(t, srv, tt.msgs, res)
				for i, r := range res {
					if tt.want != nil && result(r) != tt.want[i] {
						t.Errorf("message %d (%s): %s (%s), want %s", i, r.MessageID, result(r), r.Reason, tt.want[i])
					}
					if tt.want == nil && r.Outcome != sdk.Accepted {
						t.Errorf("message %d: %s (%s), want accepted", i, result(r), r.Reason)
					}
				}
				if got := srv.Requests(aggregatortest.OpSend); tt.requests >= 0 && got != tt.requests {
					t.Errorf("send requests = %d, want %d", got, tt.requests)
				}
				if tt.check != nil {
					tt.check(e, res)
				}
			})
		}
	}
}

// checkMapping checks one result per message, in order, and that every
// accepted message got the id the aggregator issued for its own phone.
func checkMapping(t *testing.T, srv *aggregatortest.Server, ms []sdk.Message, res []sdk.SendResult) {
	t.Helper()
	if len(res) != len(ms) {
		t.Fatalf("%d results for %d messages", len(res), len(ms))
	}
	byID := map[string]aggregatortest.Message{}
	for _, m := range srv.Messages() {
		byID[m.ID] = m
	}
	seen := map[string]bool{}
	for i, r := range res {
		if r.MessageID != ms[i].ID {
			t.Errorf("result %d is for %s, want %s", i, r.MessageID, ms[i].ID)
		}
		if r.Outcome != sdk.Accepted {
			if r.Reason == "" {
				t.Errorf("result %d is %s without a reason", i, r.Outcome)
			}
			continue
		}
		if seen[r.ProviderMessageID] {
			t.Errorf("provider id %s given to two messages", r.ProviderMessageID)
		}
		seen[r.ProviderMessageID] = true
		got, ok := byID[r.ProviderMessageID]
		if !ok {
			t.Errorf("message %d accepted as %q, which the aggregator never issued", i, r.ProviderMessageID)
			continue
		}
		if "+"+got.Phone != ms[i].To || got.Text != ms[i].Text {
			t.Errorf("message %d to %s %q got id %s, which the aggregator issued for %s %q", i, ms[i].To, ms[i].Text, r.ProviderMessageID, got.Phone, got.Text)
		}
	}
}

func sendOK(t *testing.T, p *httpapi.Provider, ms []sdk.Message) []sdk.SendResult {
	t.Helper()
	res, err := p.Send(t.Context(), ms)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	for _, r := range res {
		if r.Outcome != sdk.Accepted {
			t.Fatalf("Send: %+v, want accepted", r)
		}
	}
	return res
}

// refusedURL is a loopback address nothing listens on.
func refusedURL() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func TestTextIsEscapedPerFormat(t *testing.T) {
	text := "Tom & Jerry say \"hi\" <b>now</b> \\ 'ok'\nПривіт 😀"
	for _, preset := range []string{"aggregator002", "aggregator002_xml"} {
		t.Run(preset, func(t *testing.T) {
			srv := fake(t, aggregatortest.Options{})
			p := provider(t, settingsFor(t, preset, srv.URL, `{"vars":{"integration_id":"ref&<1>"}}`))
			ms := msgs(text, "+380989361131")
			ms[0].From = `A&B"<Shop>`
			sendOK(t, p, ms)
			got := srv.Messages()
			if len(got) != 1 || got[0].Text != text || got[0].Sender != ms[0].From || got[0].XML != (preset == "aggregator002_xml") {
				t.Errorf("aggregator received %+v, want text %q from %q", got, text, ms[0].From)
			}
			body, hdr := srv.LastRequest(aggregatortest.OpSend)
			if !strings.Contains(string(body), "integration_id") {
				t.Errorf("vars.integration_id not in the request: %s", body)
			}
			if hdr.Get("Authorization") != "Bearer "+token {
				t.Errorf("Authorization = %q", hdr.Get("Authorization"))
			}
		})
	}
}

func TestAuthStyles(t *testing.T) {
	tests := []struct {
		name, auth string
		ok         bool
	}{
		{"bearer", `{"type":"bearer","token":"` + token + `"}`, true},
		{"header", `{"type":"header","header":"X-API-Key","token":"` + token + `"}`, true},
		{"basic", `{"type":"basic","username":"acme","password":"` + token + `"}`, true},
		{"query", `{"type":"query","param":"api_key","token":"` + token + `"}`, true},
		{"wrong token", `{"type":"header","header":"X-API-Key","token":"nope"}`, false},
		{"none", `{"type":"none"}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := fake(t, aggregatortest.Options{})
			p := provider(t, settingsFor(t, "aggregator002", srv.URL, `{"auth":`+tt.auth+`}`))
			b, err := p.Balance(t.Context())
			if tt.ok && (err != nil || b.Currency != "UAH") {
				t.Fatalf("Balance = %+v, %v", b, err)
			}
			if !tt.ok && (err == nil || !strings.Contains(err.Error(), "401")) {
				t.Fatalf("Balance with bad credentials = %+v, %v; want an HTTP 401 error", b, err)
			}
			if err != nil && strings.Contains(err.Error(), token) {
				t.Errorf("error leaks the token: %v", err)
			}
		})
	}
}

func TestQueryStatus(t *testing.T) {
	for _, preset := range []string{"aggregator002", "aggregator002_xml"} {
		t.Run(preset, func(t *testing.T) {
			srv := fake(t, aggregatortest.Options{EnrouteQueries: 1})
			fates := map[string]sdk.Status{
				"380989361131": sdk.StatusDelivered, "380989361132": sdk.StatusExpired,
				"380989361133": sdk.StatusUndeliverable, "380989361134": sdk.StatusRejected,
				"380989361135": sdk.StatusUnknown,
			}
			raw := map[string]string{"380989361131": "DELIVRD", "380989361132": "EXPIRED", "380989361133": "UNDELIV", "380989361134": "REJECTD", "380989361135": "LOST_IN_SPACE"}
			var to []string
			for ph, st := range raw {
				srv.SetFate(ph, st)
				to = append(to, "+"+ph)
			}
			p := provider(t, settingsFor(t, preset, srv.URL, ""))
			res := sendOK(t, p, msgs("status test", to...))
			ids := []string{"not-ours"}
			want := map[string]sdk.Status{}
			for i, r := range res {
				ids = append(ids, r.ProviderMessageID)
				want[r.ProviderMessageID] = fates[strings.TrimPrefix(to[i], "+")]
			}

			first, err := p.QueryStatus(t.Context(), ids)
			if err != nil {
				t.Fatal(err)
			}
			if len(first) != len(res) {
				t.Fatalf("first query: %+v; want ENROUTE for each of %d ids and the unknown id left out", first, len(res))
			}
			for _, ev := range first {
				if ev.Status != sdk.StatusSent || ev.ProviderStatus != "ENROUTE" {
					t.Errorf("first query: %+v, want sent/ENROUTE", ev)
				}
			}
			second, err := p.QueryStatus(t.Context(), ids)
			if err != nil {
				t.Fatal(err)
			}
			if len(second) != len(want) {
				t.Fatalf("second query: %+v", second)
			}
			for _, ev := range second {
				if ev.Status != want[ev.ProviderMessageID] {
					t.Errorf("%s (%s): %s, want %s", ev.ProviderMessageID, ev.ProviderStatus, ev.Status, want[ev.ProviderMessageID])
				}
			}
		})
	}
}

func TestQueryStatusAsksAtMost100IDsPerRequest(t *testing.T) {
	srv := fake(t, aggregatortest.Options{})
	p := provider(t, settingsFor(t, "aggregator002", srv.URL, ""))
	var to []string
	for i := range 150 {
		to = append(to, fmt.Sprintf("+38098%07d", i))
	}
	var ids []string
	for start := 0; start < len(to); start += 100 {
		for _, r := range sendOK(t, p, msgs("bulk", to[start:min(start+100, len(to))]...)) {
			ids = append(ids, r.ProviderMessageID)
		}
	}
	evs, err := p.QueryStatus(t.Context(), ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 150 || srv.Requests(aggregatortest.OpStatus) != 2 {
		t.Errorf("%d events in %d requests, want 150 in 2 (the fake refuses more than 100 ids)", len(evs), srv.Requests(aggregatortest.OpStatus))
	}
}

func TestQueryStatusErrors(t *testing.T) {
	tests := []struct {
		name    string
		fail    aggregatortest.Failure
		wantErr string
	}{
		{"throttled", aggregatortest.Failure{Status: 429, RetryAfter: "30"}, "throttled"},
		{"server error", aggregatortest.Failure{Status: 502}, "HTTP 502"},
		{"malformed", aggregatortest.Failure{Status: 200, Body: "<html>oops</html>"}, "cannot be read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := fake(t, aggregatortest.Options{})
			p := provider(t, settingsFor(t, "aggregator002", srv.URL, ""))
			srv.FailNext(aggregatortest.OpStatus, tt.fail)
			if _, err := p.QueryStatus(t.Context(), []string{"100"}); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("QueryStatus = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
	t.Run("timeout", func(t *testing.T) {
		srv := fake(t, aggregatortest.Options{})
		p := provider(t, settingsFor(t, "aggregator002", srv.URL, `{"timeout":"200ms"}`))
		t.Cleanup(srv.Hold(aggregatortest.OpStatus))
		if _, err := p.QueryStatus(t.Context(), []string{"100"}); err == nil || !strings.Contains(err.Error(), "timeout") {
			t.Fatalf("QueryStatus = %v, want a timeout error", err)
		}
	})
	t.Run("throttle holds back the next query", func(t *testing.T) {
		srv := fake(t, aggregatortest.Options{})
		p := provider(t, settingsFor(t, "aggregator002", srv.URL, ""))
		srv.FailNext(aggregatortest.OpStatus, aggregatortest.Failure{Status: 429, RetryAfter: "30"})
		_, _ = p.QueryStatus(t.Context(), []string{"100"})
		if _, err := p.QueryStatus(t.Context(), []string{"100"}); err == nil || !strings.Contains(err.Error(), "throttling") {
			t.Errorf("second query = %v, want a throttling error", err)
		}
		if n := srv.Requests(aggregatortest.OpStatus); n != 1 {
			t.Errorf("%d status requests, want 1 (the second waits out Retry-After)", n)
		}
	})
}

func TestBalanceAndSenderIDsAreCached(t *testing.T) {
	for _, preset := range []string{"aggregator002", "aggregator002_xml"} {
		t.Run(preset, func(t *testing.T) {
			srv := fake(t, aggregatortest.Options{})
			srv.SetSenders("VashZakaz", "7522", "+380501234567")
			p := provider(t, settingsFor(t, preset, srv.URL, `{"cache_refresh":"1m"}`))
			now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
			var mu sync.Mutex
			httpapi.SetClock(p, func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
			advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

			b, err := p.Balance(t.Context())
			if err != nil || b != (sdk.Balance{Amount: 8111.17, Currency: "UAH"}) {
				t.Fatalf("Balance = %+v, %v", b, err)
			}
			ids, err := p.SenderIDs(t.Context())
			want := []sdk.SenderID{{Value: "VashZakaz", Kind: "alphanumeric"}, {Value: "7522", Kind: "shortcode"}, {Value: "+380501234567", Kind: "number"}}
			if err != nil || fmt.Sprint(ids) != fmt.Sprint(want) {
				t.Fatalf("SenderIDs = %+v, %v; want %+v", ids, err, want)
			}

			srv.SetBalance("10.5", "UAH")
			if b, _ := p.Balance(t.Context()); b.Amount != 8111.17 || srv.Requests(aggregatortest.OpBalance) != 1 {
				t.Errorf("within cache_refresh: %+v after %d requests, want the cached value", b, srv.Requests(aggregatortest.OpBalance))
			}
			advance(61 * time.Second)
			if b, _ := p.Balance(t.Context()); b.Amount != 10.5 {
				t.Errorf("after cache_refresh: %+v, want the new balance", b)
			}

			advance(61 * time.Second)
			srv.FailNext(aggregatortest.OpBalance, aggregatortest.Failure{Status: 503})
			if b, err := p.Balance(t.Context()); err != nil || b.Amount != 10.5 {
				t.Errorf("upstream down shortly after a refresh: %+v, %v; want the cached value", b, err)
			}
			advance(5 * time.Minute)
			srv.FailNext(aggregatortest.OpBalance, aggregatortest.Failure{Status: 503})
			if _, err := p.Balance(t.Context()); err == nil || !strings.Contains(err.Error(), "503") {
				t.Errorf("upstream down long after the last refresh: %v; want the error", err)
			}
		})
	}
}

func TestBalanceRefusesNonDecimalAmount(t *testing.T) {
	srv := fake(t, aggregatortest.Options{})
	srv.SetBalance("lots", "UAH")
	p := provider(t, settingsFor(t, "aggregator002", srv.URL, ""))
	if _, err := p.Balance(t.Context()); err == nil || !strings.Contains(err.Error(), `"lots"`) {
		t.Errorf("Balance = %v, want an error naming the amount", err)
	}
}

func TestConfigureRejectsBadSettings(t *testing.T) {
	base := `"preset":"aggregator002","base_url":"https://api.example.com","auth":{"token":"t"}`
	tests := []struct{ name, settings, want string }{
		{"unknown key", `{` + base + `,"timeot":"1s"}`, "setting timeot: unknown setting"},
		{"unknown preset", `{"preset":"acme"}`, "setting preset"},
		{"preset not a string", `{"preset":5}`, "setting preset"},
		{"no send operation", `{"base_url":"https://x.example"}`, "operations.send"},
		{"base url scheme", `{"preset":"aggregator002","base_url":"ftp://x","auth":{"token":"t"}}`, "base_url"},
		{"credentials in base url", `{"preset":"aggregator002","base_url":"https://u:p@x.example","auth":{"token":"t"}}`, "base_url"},
		{"relative url without base", `{"preset":"aggregator002","auth":{"token":"t"}}`, "operations.send.url"},
		{"bearer without token", `{"preset":"aggregator002","base_url":"https://x.example"}`, "auth.token"},
		{"auth type", `{` + base + `,"auth":{"type":"magic"}}`, "auth.type"},
		{"header auth without header", `{` + base + `,"auth":{"type":"header","token":"t"}}`, "auth"},
		{"timeout", `{` + base + `,"timeout":"soon"}`, "setting timeout"},
		{"timeout too long", `{` + base + `,"timeout":"1h"}`, "setting timeout"},
		{"cache refresh", `{` + base + `,"cache_refresh":"0s"}`, "cache_refresh"},
		{"batch size", `{` + base + `,"max_batch_size":100000}`, "max_batch_size"},
		{"phone format", `{` + base + `,"phone_format":"national"}`, "phone_format"},
		{"currency", `{` + base + `,"currency":"uah"}`, "setting currency"},
		{"status map", `{` + base + `,"status_map":{"DELIVRD":"done"}}`, `status_map["DELIVRD"]`},
		{"http status key", `{` + base + `,"http_status":{"4x":"temporary"}}`, "http_status"},
		{"http status class", `{` + base + `,"http_status":{"453":"ignore"}}`, `http_status["453"]`},
		{"unknown operation", `{` + base + `,"operations":{"sned":{}}}`, `"sned"`},
		{"method", `{` + base + `,"operations":{"send":{"method":"DELETE"}}}`, "operations.send.method"},
		{"format", `{` + base + `,"operations":{"send":{"format":"yaml"}}}`, "operations.send.format"},
		{"template syntax", `{` + base + `,"operations":{"send":{"body":"{{json .Phones"}}}`, "operations.send.body"},
		{"unescaped json text", `{` + base + `,"operations":{"send":{"body":"{\"message\":\"{{.Text}}\"}"}}}`, "{{json .Text}}"},
		{"unescaped xml text", `{"preset":"aggregator002_xml","base_url":"https://x.example","auth":{"token":"t"},"operations":{"send":{"body":"<r><m>{{.Text}}</m></r>"}}}`, "{{xml .Text}}"},
		{"selector", `{` + base + `,"operations":{"send":{"response":{"items":"a..b"}}}}`, "operations.send.response.items"},
		{"missing selector", `{` + base + `,"operations":{"status":{"response":{"status":null}}}}`, "operations.status.response.status"},
		{"match by", `{` + base + `,"operations":{"send":{"match_by":"luck"}}}`, "match_by"},
		{"not an object", `[1]`, "settings"},
		{"trailing data", `{} {}`, "after the settings object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := httpapi.New().Configure(t.Context(), sdk.Config{Name: "bad", Settings: json.RawMessage(tt.settings)})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Configure(%s) = %v, want an error containing %q", tt.settings, err, tt.want)
			}
		})
	}
}

func TestCapabilitiesFollowConfiguredOperations(t *testing.T) {
	p := provider(t, settingsFor(t, "aggregator002", "https://api.example.com", `{"operations":{"balance":null,"sender_ids":null}}`))
	caps := sdk.CapabilitiesOf(p)
	if !caps.StatusQuery || caps.Balance || caps.SenderIDs || caps.MaxBatchSize != 100 || caps.Name != "httpapi" {
		t.Errorf("capabilities = %+v; want status queries only and batches of 100", caps)
	}
	if _, err := p.Balance(t.Context()); err == nil || !strings.Contains(err.Error(), sdk.ErrUnsupported.Error()) {
		t.Errorf("Balance without a balance operation = %v, want ErrUnsupported", err)
	}
}
