package metrics

import (
	"context"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/smsrouter/smsrouter/core/dispatch"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/pluginhost"
)

const namespace = "smsrouter"

// Database is what the database series are read from; *store.Store has it.
type Database interface {
	CountMessages(ctx context.Context) ([]message.Count, error)
	QueueDepths(ctx context.Context, now time.Time) ([]dispatch.QueueDepth, error)
	OldestDue(ctx context.Context, now time.Time) (time.Time, bool, error)
	CountPendingWebhooks(ctx context.Context) (int64, error)
}

// ProviderStates reports the plugin processes' state; *pluginhost.Host has
// it.
type ProviderStates interface {
	Statuses() []pluginhost.ProviderStatus
}

// Options configure Metrics; zero values take the defaults.
type Options struct {
	Logger hclog.Logger
	// Database, when set, backs the database series.
	Database Database
	// DatabaseRefresh is how long values read from the database are
	// reused before a scrape reads them again (default 15s).
	DatabaseRefresh time.Duration
	// DatabaseTimeout bounds one read of the database series (default 5s);
	// a read that fails or runs out keeps the previous values.
	DatabaseTimeout time.Duration
	// CountRefresh is how long smsrouter_messages, which counts the whole
	// messages table, is reused (default 5m); its read is bounded by
	// CountTimeout (default 30s). NoCounts leaves it out.
	CountRefresh time.Duration
	CountTimeout time.Duration
	NoCounts     bool
	// Providers, when set, backs the provider state series. The providers
	// it knows when New runs get their counters at zero from the start, so
	// that rate() sees their first retry.
	Providers ProviderStates
	// Now is the clock; tests replace it.
	Now func() time.Time
}

// Metrics owns the registry and every collector. Its methods are safe for
// concurrent use.
type Metrics struct {
	reg *prometheus.Registry
	now func() time.Time

	sendDuration     *prometheus.HistogramVec
	sendResults      *prometheus.CounterVec
	acceptToSent     *prometheus.HistogramVec
	retries          *prometheus.CounterVec
	failovers        *prometheus.CounterVec
	accepted         *prometheus.CounterVec
	acceptedSegments *prometheus.CounterVec
	httpRequests     *prometheus.CounterVec
	httpDuration     *prometheus.HistogramVec
	requests         requestSeriesCache
	webhookAttempts  *prometheus.CounterVec
	webhookDuration  *prometheus.HistogramVec
}

// New returns Metrics with every collector registered.
func New(o Options) *Metrics {
	o = o.withDefaults()
	m := &Metrics{reg: prometheus.NewRegistry(), now: o.Now}
	m.defineDispatch()
	m.defineAPI()
	m.defineWebhooks()
	m.register(o)
	return m
}

// withDefaults fills in what o leaves unset.
func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.DatabaseRefresh <= 0 {
		o.DatabaseRefresh = 15 * time.Second
	}
	if o.DatabaseTimeout <= 0 {
		o.DatabaseTimeout = 5 * time.Second
	}
	if o.CountRefresh <= 0 {
		o.CountRefresh = 5 * time.Minute
	}
	if o.CountTimeout <= 0 {
		o.CountTimeout = 30 * time.Second
	}
	return o
}

// defineDispatch makes the series of sending to providers.
func (m *Metrics) defineDispatch() {
	// A Send call to a plugin is bounded by the dispatcher's send timeout
	// (60s by default), so the buckets reach it.
	sendBuckets := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	m.sendDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "dispatch_send_duration_seconds",
		Help:    "How long one Send call to a provider's plugin took (a call carries up to the plugin's batch size of messages), by provider and by whether the call itself failed (error) or returned per-message answers (ok).",
		Buckets: sendBuckets,
	}, []string{"provider", "result"})
	m.sendResults = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "dispatch_attempts_total",
		Help: "Messages handed to a provider, by provider and outcome: accepted, temporary (refused for now, retried), permanent (refused for good), error (the Send call failed; retried).",
	}, []string{"provider", "result"})
	m.acceptToSent = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "dispatch_accept_to_sent_seconds",
		Help:    "Time from accepting a message (or its send_at, when scheduled) to a provider accepting it, by provider; includes queueing, retries and failovers.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800},
	}, []string{"provider"})
	m.retries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "dispatch_retries_total",
		Help: "Temporary failures after which a message had tried every provider of its plan and waits out a backoff before trying again, by the provider that failed last.",
	}, []string{"provider"})
	m.failovers = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "dispatch_failovers_total",
		Help: "Temporary failures after which a message went on at once to the next provider of its plan, by the provider that failed.",
	}, []string{"provider"})
}

// defineAPI makes the series of the API: accepted messages and requests.
func (m *Metrics) defineAPI() {
	m.accepted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "messages_accepted_total",
		Help: "Messages accepted through the API and stored for sending, by kind (sms, otp; any other kind the client names counts as other).",
	}, []string{"kind"})
	m.acceptedSegments = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "segments_accepted_total",
		Help: "SMS segments (parts of a long message) accepted through the API, by kind as in smsrouter_messages_accepted_total.",
	}, []string{"kind"})
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "http_requests_total",
		Help: "HTTP requests served, by method, route template (e.g. /api/v1/sms/status/:message_id; unmatched for unknown paths) and status code.",
	}, []string{"method", "route", "code"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "http_request_duration_seconds",
		Help:    "Time to serve an HTTP request, by method and route template.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"method", "route"})
}

// defineWebhooks makes the series of webhooks sent to applications.
func (m *Metrics) defineWebhooks() {
	m.webhookAttempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "webhook_attempts_total",
		Help: "Webhook requests to applications, by event type and result: delivered (2xx), failed (to be retried) or gave_up (failed, and the delivery's retry time has run out).",
	}, []string{"event", "result"})
	m.webhookDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "webhook_attempt_duration_seconds",
		Help:    "Time an application's webhook receiver took to answer, by event type.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"event"})
}

// register adds the series and collectors to the registry, with the label
// values known at start so that they read 0 before the first event.
func (m *Metrics) register(o Options) {
	m.reg.MustRegister(m.sendDuration, m.sendResults, m.acceptToSent, m.retries, m.failovers, m.accepted,
		m.acceptedSegments, m.httpRequests, m.httpDuration, m.webhookAttempts, m.webhookDuration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{Namespace: namespace}))
	for _, kind := range knownKinds {
		m.accepted.WithLabelValues(kind)
		m.acceptedSegments.WithLabelValues(kind)
	}
	if o.Providers != nil {
		for _, s := range o.Providers.Statuses() {
			m.retries.WithLabelValues(s.Name)
			m.failovers.WithLabelValues(s.Name)
			for _, r := range []string{resultAccepted, resultTemporary, resultPermanent, resultError} {
				m.sendResults.WithLabelValues(s.Name, r)
			}
		}
		m.reg.MustRegister(newProviderCollector(o.Providers))
	}
	if o.Database != nil {
		m.reg.MustRegister(newDatabaseCollector(o, o.Logger.Named("metrics")))
	}
}

// Registry returns the registry, which the server serves, tests read and
// collectors added later join.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }
