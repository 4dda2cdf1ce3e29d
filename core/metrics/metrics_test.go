package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/smsrouter/smsrouter/core/dispatch"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/metrics"
	"github.com/smsrouter/smsrouter/core/pluginhost"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// fakeDB answers the database series' queries and counts the reads.
type fakeDB struct {
	mu       sync.Mutex
	reads    int
	fail     error
	counts   []message.Count
	depths   []dispatch.QueueDepth
	oldest   time.Time
	webhooks int64
}

func (f *fakeDB) CountMessages(context.Context) ([]message.Count, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	return f.counts, f.fail
}

func (f *fakeDB) QueueDepths(context.Context, time.Time) ([]dispatch.QueueDepth, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.depths, f.fail
}

func (f *fakeDB) OldestDue(context.Context, time.Time) (time.Time, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.oldest, !f.oldest.IsZero(), f.fail
}

func (f *fakeDB) CountPendingWebhooks(context.Context) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.webhooks, f.fail
}

func (f *fakeDB) set(fn func(f *fakeDB)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

const dbSeries = `
# HELP smsrouter_messages Messages stored, by status and by the provider that last took them (none: no provider has yet). Counted in the database (the same on every node) at most once per metrics count_refresh (default 5m).
# TYPE smsrouter_messages gauge
smsrouter_messages{provider="a",status="delivered"} 7
smsrouter_messages{provider="none",status="queued"} 3
# HELP smsrouter_queue_depth Messages waiting to be sent, by status (queued; pending: no provider could take it, retried) and state: due (could be sent now, no dispatcher holds it), scheduled (waits for a retry backoff or its send_at), in_flight (a dispatcher holds it). Read from the database like smsrouter_messages.
# TYPE smsrouter_queue_depth gauge
smsrouter_queue_depth{state="due",status="pending"} 0
smsrouter_queue_depth{state="due",status="queued"} 1
smsrouter_queue_depth{state="in_flight",status="pending"} 0
smsrouter_queue_depth{state="in_flight",status="queued"} 0
smsrouter_queue_depth{state="scheduled",status="pending"} 0
smsrouter_queue_depth{state="scheduled",status="queued"} 2
# HELP smsrouter_queue_oldest_due_age_seconds How long the longest-waiting due message has been due, when last read from the database; 0 when none is due. Growing means the dispatchers do not keep up or are stuck.
# TYPE smsrouter_queue_oldest_due_age_seconds gauge
smsrouter_queue_oldest_due_age_seconds 90
# HELP smsrouter_webhook_deliveries_pending Webhook deliveries to applications not yet delivered nor given up (new, or failed and waiting for a retry). Read from the database like smsrouter_messages.
# TYPE smsrouter_webhook_deliveries_pending gauge
smsrouter_webhook_deliveries_pending 4
`

func TestDatabaseSeriesAreCachedAndKeptOnError(t *testing.T) {
	db := &fakeDB{
		counts:   []message.Count{{Status: "queued", N: 3}, {Status: "delivered", Provider: "a", N: 7}},
		depths:   []dispatch.QueueDepth{{Status: "queued", Due: 1, Scheduled: 2}},
		oldest:   t0.Add(-90 * time.Second),
		webhooks: 4,
	}
	clk := &clock{now: t0}
	m := metrics.New(metrics.Options{Database: db, DatabaseRefresh: 10 * time.Second, CountRefresh: 10 * time.Second, Now: clk.Now})
	names := []string{"smsrouter_messages", "smsrouter_queue_depth", "smsrouter_queue_oldest_due_age_seconds",
		"smsrouter_webhook_deliveries_pending"}
	check := func(want string) {
		t.Helper()
		if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), names...); err != nil {
			t.Error(err)
		}
	}
	check(dbSeries)

	// A scrape storm within the refresh interval reads the database once.
	db.set(func(f *fakeDB) { f.counts = nil })
	for range 20 {
		check(dbSeries)
	}
	if db.reads != 1 {
		t.Errorf("%d reads within the refresh interval, want 1", db.reads)
	}

	// A failing read keeps the figures and counts the error.
	clk.advance(10 * time.Second)
	db.set(func(f *fakeDB) { f.fail = errors.New("database is down") })
	check(dbSeries)
	if got := gather(t, m); !strings.Contains(got, "\nsmsrouter_metrics_database_read_errors_total 2\n") {
		t.Errorf("the failed read is not counted:\n%s", got)
	}

	// Once the database answers again, the new figures show.
	clk.advance(10 * time.Second)
	db.set(func(f *fakeDB) {
		f.fail = nil
		f.counts = []message.Count{{Status: "delivered", Provider: "a", N: 10}}
		f.depths = nil
		f.oldest = time.Time{}
		f.webhooks = 0
	})
	check(`
# HELP smsrouter_messages Messages stored, by status and by the provider that last took them (none: no provider has yet). Counted in the database (the same on every node) at most once per metrics count_refresh (default 5m).
# TYPE smsrouter_messages gauge
smsrouter_messages{provider="a",status="delivered"} 10
# HELP smsrouter_queue_depth Messages waiting to be sent, by status (queued; pending: no provider could take it, retried) and state: due (could be sent now, no dispatcher holds it), scheduled (waits for a retry backoff or its send_at), in_flight (a dispatcher holds it). Read from the database like smsrouter_messages.
# TYPE smsrouter_queue_depth gauge
smsrouter_queue_depth{state="due",status="pending"} 0
smsrouter_queue_depth{state="due",status="queued"} 0
smsrouter_queue_depth{state="in_flight",status="pending"} 0
smsrouter_queue_depth{state="in_flight",status="queued"} 0
smsrouter_queue_depth{state="scheduled",status="pending"} 0
smsrouter_queue_depth{state="scheduled",status="queued"} 0
# HELP smsrouter_queue_oldest_due_age_seconds How long the longest-waiting due message has been due, when last read from the database; 0 when none is due. Growing means the dispatchers do not keep up or are stuck.
# TYPE smsrouter_queue_oldest_due_age_seconds gauge
smsrouter_queue_oldest_due_age_seconds 0
# HELP smsrouter_webhook_deliveries_pending Webhook deliveries to applications not yet delivered nor given up (new, or failed and waiting for a retry). Read from the database like smsrouter_messages.
# TYPE smsrouter_webhook_deliveries_pending gauge
smsrouter_webhook_deliveries_pending 0
`)
	if db.reads != 3 {
		t.Errorf("%d reads, want 3", db.reads)
	}
}

type statuses []pluginhost.ProviderStatus

func (s statuses) Statuses() []pluginhost.ProviderStatus { return s }

func TestProviderSeriesReadTheHost(t *testing.T) {
	host := statuses{
		{Name: "a", State: pluginhost.StateRunning, Healthy: true, Restarts: 2},
		{Name: "b", State: pluginhost.StateCrashLoop, Restarts: 9},
	}
	m := metrics.New(metrics.Options{Providers: host})
	want := `
# HELP smsrouter_plugin_restarts_total Times the provider's plugin process was relaunched after it died or failed to start, since this server started.
# TYPE smsrouter_plugin_restarts_total counter
smsrouter_plugin_restarts_total{provider="a"} 2
smsrouter_plugin_restarts_total{provider="b"} 9
# HELP smsrouter_provider_up 1 when the provider's plugin is running and its last health check passed, else 0.
# TYPE smsrouter_provider_up gauge
smsrouter_provider_up{provider="a"} 1
smsrouter_provider_up{provider="b"} 0
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "smsrouter_plugin_restarts_total", "smsrouter_provider_up"); err != nil {
		t.Error(err)
	}
	got := gather(t, m)
	for _, line := range []string{
		`smsrouter_provider_state{provider="a",state="running"} 1`,
		`smsrouter_provider_state{provider="a",state="crash_loop"} 0`,
		`smsrouter_provider_state{provider="b",state="crash_loop"} 1`,
		`smsrouter_provider_state{provider="b",state="running"} 0`,
		// Known providers start at zero, so rate() sees the first one.
		`smsrouter_dispatch_failovers_total{provider="b"} 0`,
		`smsrouter_dispatch_retries_total{provider="a"} 0`,
	} {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("scrape lacks %s", line)
		}
	}
}

// providers answers Send with one outcome per message, by recipient: "+1"
// accepted, "+2" temporary, "+3" permanent; fail makes the call fail.
type providers struct{ fail error }

func (p *providers) Capabilities(string) (pluginhost.Capabilities, error) {
	return pluginhost.Capabilities{}, nil
}

func (p *providers) QueryStatus(context.Context, string, []string) ([]message.Report, error) {
	return nil, pluginhost.ErrNotSupported
}

func (p *providers) QuerySent(context.Context, string, []string) ([]pluginhost.Sent, error) {
	return nil, pluginhost.ErrNotSupported
}

func (p *providers) Send(_ context.Context, _ string, msgs []message.Outgoing) ([]message.SendResult, error) {
	if p.fail != nil {
		return nil, p.fail
	}
	out := make([]message.SendResult, len(msgs))
	for i, m := range msgs {
		out[i] = message.SendResult{MessageID: m.ID, Outcome: map[string]message.Outcome{"+1": message.OutcomeAccepted, "+2": message.OutcomeTemporary, "+3": message.OutcomeRefused}[m.To]}
	}
	return out, nil
}

func TestDispatchSeries(t *testing.T) {
	m := metrics.New(metrics.Options{})
	p := &providers{}
	sender := m.InstrumentProviders(p)
	batch := []message.Outgoing{{ID: "1", To: "+1"}, {ID: "2", To: "+1"}, {ID: "3", To: "+2"}, {ID: "4", To: "+3"}}
	if _, err := sender.Send(t.Context(), "a", batch); err != nil {
		t.Fatal(err)
	}
	p.fail = pluginhost.ErrUnavailable
	if _, err := sender.Send(t.Context(), "a", batch[:2]); !errors.Is(err, pluginhost.ErrUnavailable) {
		t.Fatalf("Send error = %v, want the provider's", err)
	}
	m.Retried("a", true)
	m.Retried("a", true)
	m.Retried("b", false)
	sendAt := t0.Add(time.Minute)
	m.Sent("a", &dispatch.Message{CreatedAt: t0}, t0.Add(300*time.Millisecond))
	// Scheduled: measured from send_at, not from the acceptance.
	m.Sent("a", &dispatch.Message{CreatedAt: t0, SendAt: &sendAt}, sendAt.Add(2*time.Second))

	got := gather(t, m)
	for _, line := range []string{
		`smsrouter_dispatch_attempts_total{provider="a",result="accepted"} 2`,
		`smsrouter_dispatch_attempts_total{provider="a",result="temporary"} 1`,
		`smsrouter_dispatch_attempts_total{provider="a",result="permanent"} 1`,
		`smsrouter_dispatch_attempts_total{provider="a",result="error"} 2`,
		`smsrouter_dispatch_send_duration_seconds_count{provider="a",result="ok"} 1`,
		`smsrouter_dispatch_send_duration_seconds_count{provider="a",result="error"} 1`,
		`smsrouter_dispatch_failovers_total{provider="a"} 2`,
		`smsrouter_dispatch_retries_total{provider="b"} 1`,
		`smsrouter_dispatch_accept_to_sent_seconds_count{provider="a"} 2`,
		`smsrouter_dispatch_accept_to_sent_seconds_sum{provider="a"} 2.3`,
		`smsrouter_dispatch_accept_to_sent_seconds_bucket{provider="a",le="0.5"} 1`,
		`smsrouter_dispatch_accept_to_sent_seconds_bucket{provider="a",le="2.5"} 2`,
	} {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("scrape lacks %s", line)
		}
	}
}

func TestAPISeries(t *testing.T) {
	m := metrics.New(metrics.Options{})
	m.CountAccepted("sms", 2)
	m.CountAccepted("otp", 1)
	m.CountAccepted("promo-2030", 1)
	m.ObserveRequest("POST", "/api/v1/sms/send", 202, 3*time.Millisecond)
	m.ObserveRequest("POST", "/api/v1/sms/send", 202, time.Millisecond) // the same series again
	m.ObserveRequest("GET", "", 404, time.Millisecond)
	m.ObserveRequest("BREW", "", 405, time.Millisecond)
	m.ObserveWebhook("message.delivered", true, false, 20*time.Millisecond)
	m.ObserveWebhook("message.delivered", false, false, time.Second)
	m.ObserveWebhook("message.failed", false, true, 0)

	got := gather(t, m)
	for _, line := range []string{
		`smsrouter_messages_accepted_total{kind="sms"} 1`,
		`smsrouter_messages_accepted_total{kind="otp"} 1`,
		`smsrouter_messages_accepted_total{kind="other"} 1`,
		`smsrouter_segments_accepted_total{kind="sms"} 2`,
		`smsrouter_http_requests_total{code="202",method="POST",route="/api/v1/sms/send"} 2`,
		`smsrouter_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`smsrouter_http_requests_total{code="405",method="OTHER",route="unmatched"} 1`,
		`smsrouter_http_request_duration_seconds_count{method="POST",route="/api/v1/sms/send"} 2`,
		`smsrouter_http_request_duration_seconds_sum{method="POST",route="/api/v1/sms/send"} 0.004`,
		`smsrouter_webhook_attempts_total{event="message.delivered",result="delivered"} 1`,
		`smsrouter_webhook_attempts_total{event="message.delivered",result="failed"} 1`,
		`smsrouter_webhook_attempts_total{event="message.failed",result="gave_up"} 1`,
		`smsrouter_webhook_attempt_duration_seconds_count{event="message.delivered"} 2`,
	} {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("scrape lacks %s", line)
		}
	}
	if strings.Contains(got, "promo-2030") {
		t.Error("a client's kind became a label value")
	}
}

// gather scrapes m's registry over HTTP, as Prometheus does; a collector
// that fails leaves the others' series served, as in the server.
func gather(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(m.Registry(), promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMessageCountsHaveTheirOwnInterval(t *testing.T) {
	db := &fakeDB{counts: []message.Count{{Status: "delivered", Provider: "a", N: 1}}}
	clk := &clock{now: t0}
	m := metrics.New(metrics.Options{Database: db, DatabaseRefresh: time.Second, CountRefresh: time.Minute, Now: clk.Now})
	for range 10 {
		_ = gather(t, m)
		clk.advance(time.Second)
	}
	if db.reads != 1 {
		t.Errorf("the messages table was counted %d times in 10s, want once a minute", db.reads)
	}
	clk.advance(time.Minute)
	if got := gather(t, m); db.reads != 2 || !strings.Contains(got, `smsrouter_messages{provider="a",status="delivered"} 1`) {
		t.Errorf("after a minute: %d counts, scrape:\n%s", db.reads, got)
	}

	off := metrics.New(metrics.Options{Database: db, NoCounts: true})
	if got := gather(t, off); strings.Contains(got, "smsrouter_messages{") || !strings.Contains(got, "smsrouter_queue_depth{") {
		t.Errorf("with NoCounts the scrape should have the queue but no message counts:\n%s", got)
	}
}

// BenchmarkObserveRequest is counting one accepted send, as every POST
// /api/v1/sms/send does.
func BenchmarkObserveRequest(b *testing.B) {
	m := metrics.New(metrics.Options{})
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveRequest("POST", "/api/v1/sms/send", 202, time.Millisecond)
	}
}
