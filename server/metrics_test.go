package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core"
	"github.com/smsrouter/smsrouter/core/account"
	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/dispatch"
	"github.com/smsrouter/smsrouter/core/metrics"
	"github.com/smsrouter/smsrouter/core/pluginhost"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
	"github.com/smsrouter/smsrouter/plugins/sandbox"
	"github.com/smsrouter/smsrouter/sdk"
	"github.com/smsrouter/smsrouter/server"
)

// busyProvider refuses every message for now, so that each one fails over
// to the plan's next provider.
type busyProvider struct{}

func (busyProvider) Info() sdk.Info                              { return sdk.Info{Name: "busy", Version: "test", MaxBatchSize: 10} }
func (busyProvider) Configure(context.Context, sdk.Config) error { return nil }
func (busyProvider) Close(context.Context) error                 { return nil }
func (busyProvider) Send(_ context.Context, msgs []sdk.Message) ([]sdk.SendResult, error) {
	out := make([]sdk.SendResult, len(msgs))
	for i, m := range msgs {
		out[i] = sdk.SendResult{MessageID: m.ID, Outcome: sdk.Temporary, Code: "THROTTLED", Reason: "busy"}
	}
	return out, nil
}

const metricsConfig = `
provider "busy" {
  plugin = "busy"
}
provider "sandbox" {
  plugin = "sandbox"
  config = { dlr_delay = "10ms", seed = 7 }
}
route "default" {
  default    = true
  candidates = ["busy", "sandbox"]
}
`

// TestMetricsScrape sends messages through the API, wired as serve wires
// it, and reads what they did from GET /metrics.
func TestMetricsScrape(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		cfg, err := config.Parse([]byte(metricsConfig), "metrics.hcl", config.Options{BuiltinKinds: []string{"sandbox", "busy"}})
		if err != nil {
			t.Fatalf("config: %v", err)
		}
		host := pluginhost.New(pluginhost.Options{Events: st})
		specs := []pluginhost.Spec{{Name: "busy", InProcess: busyProvider{}}}
		for _, p := range cfg.Providers {
			if p.Name == "sandbox" {
				specs = append(specs, pluginhost.Spec{Name: p.Name, Settings: p.Settings, InProcess: sandbox.New()})
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		if err := host.Start(ctx, specs); err != nil {
			t.Fatalf("start host: %v", err)
		}
		// A refresh this short reads the database on every scrape, so that
		// the test sees the figures of the moment.
		mx := metrics.New(metrics.Options{Database: st, DatabaseRefresh: time.Nanosecond, CountRefresh: time.Nanosecond, Providers: host})
		disp := dispatch.New(st, mx.InstrumentProviders(host), dispatch.Options{PollInterval: 50 * time.Millisecond,
			MinRetry: 10 * time.Millisecond, Metrics: mx})
		done := make(chan struct{})
		go func() { defer close(done); _ = disp.Run(ctx) }()
		svc := core.NewService(st, cfg.Table, disp, core.Options{Counter: mx})
		ts := httptest.NewServer(server.New(server.Options{Messages: svc, Keys: st, Hooks: host, Events: st,
			Requests: mx, Metrics: server.MetricsHandler(mx.Registry(), "")}))
		t.Cleanup(func() {
			ts.Close()
			cancel()
			<-done
			host.Stop()
		})
		acc, err := st.CreateAccount(context.Background(), "metrics")
		if err != nil {
			t.Fatal(err)
		}
		key, _, err := st.CreateAPIKey(context.Background(), acc.ID, "test", []string{account.PermSendSMS})
		if err != nil {
			t.Fatal(err)
		}
		e := &env{url: ts.URL, key: key, store: st}

		const n = 3
		var ids []string
		for i := range n {
			code, body := e.do(t, "POST", "/api/v1/sms/send", e.key, fmt.Sprintf(`{"to":"+959123456%03d","message":"hello %d"}`, i, i))
			if code != http.StatusAccepted {
				t.Fatalf("send: HTTP %d %v", code, body)
			}
			ids = append(ids, body["message_id"].(string))
		}
		for _, id := range ids {
			e.awaitStatus(t, id, "delivered")
		}

		scrape := scrapeMetrics(t, ts.URL)
		want := map[string]float64{
			`smsrouter_messages_accepted_total{kind="sms"}`:                                    n,
			`smsrouter_segments_accepted_total{kind="sms"}`:                                    n,
			`smsrouter_dispatch_attempts_total{provider="busy",result="temporary"}`:            n,
			`smsrouter_dispatch_attempts_total{provider="sandbox",result="accepted"}`:          n,
			`smsrouter_dispatch_failovers_total{provider="busy"}`:                              n,
			`smsrouter_dispatch_retries_total{provider="busy"}`:                                0,
			`smsrouter_dispatch_accept_to_sent_seconds_count{provider="sandbox"}`:              n,
			`smsrouter_messages{provider="sandbox",status="delivered"}`:                        n,
			`smsrouter_queue_depth{state="due",status="queued"}`:                               0,
			`smsrouter_queue_depth{state="in_flight",status="queued"}`:                         0,
			`smsrouter_queue_oldest_due_age_seconds`:                                           0,
			`smsrouter_webhook_deliveries_pending`:                                             0,
			`smsrouter_http_requests_total{code="202",method="POST",route="/api/v1/sms/send"}`: n,
			`smsrouter_provider_up{provider="sandbox"}`:                                        1,
			`smsrouter_provider_state{provider="busy",state="running"}`:                        1,
			`smsrouter_plugin_restarts_total{provider="sandbox"}`:                              0,
			`smsrouter_metrics_database_read_errors_total`:                                     0,
		}
		for series, v := range want {
			got, ok := scrape[series]
			if !ok {
				t.Errorf("the scrape has no %s", series)
				continue
			}
			if got != v {
				t.Errorf("%s = %v, want %v", series, got, v)
			}
		}
		for _, series := range []string{
			`smsrouter_dispatch_send_duration_seconds_count{provider="sandbox",result="ok"}`,
			`smsrouter_http_requests_total{code="200",method="GET",route="/api/v1/sms/status/:message_id"}`,
		} {
			if scrape[series] < 1 {
				t.Errorf("%s = %v, want at least 1", series, scrape[series])
			}
		}
		for series := range scrape {
			if strings.Contains(series, ids[0]) {
				t.Errorf("a message id became a label: %s", series)
			}
		}
	})
}

// scrapeMetrics reads GET /metrics as Prometheus would and returns each
// sample's value by its series as written (labels in the exposition's
// order, which is by name).
func scrapeMetrics(t *testing.T, base string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: HTTP %d, %s: %.300s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	out := map[string]float64{}
	for line := range strings.Lines(string(body)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("GET /metrics: bad sample line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// The metrics endpoint serves the exposition, and only to the configured
// token when there is one.
func TestMetricsHandlerToken(t *testing.T) {
	m := metrics.New(metrics.Options{})
	tests := []struct {
		name, token, auth string
		want              int
	}{
		{"open", "", "", http.StatusOK},
		{"no header", "s3cret", "", http.StatusUnauthorized},
		{"wrong token", "s3cret", "Bearer nope", http.StatusUnauthorized},
		{"not bearer", "s3cret", "Basic s3cret", http.StatusUnauthorized},
		{"right token", "s3cret", "Bearer s3cret", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/metrics", nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			rec := httptest.NewRecorder()
			server.MetricsHandler(m.Registry(), tc.token).ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Fatalf("HTTP %d, want %d: %s", rec.Code, tc.want, rec.Body)
			}
			if tc.want == http.StatusOK && !strings.Contains(rec.Body.String(), "go_goroutines ") {
				t.Errorf("body is not the exposition: %.200s", rec.Body)
			}
		})
	}
}
