package metrics

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/outbox"
	"github.com/smsrouter/smsrouter/core/webhook"
)

// knownKinds are the message kinds counted under their own name; the
// others (transactional, marketing, and any a caller that skipped
// validation gave) count as "other", so that the series stay few.
var knownKinds = []string{string(message.KindSMS), string(message.KindOTP), "other"}

func kindLabel(kind message.Kind) string {
	switch kind {
	case message.KindSMS, message.KindOTP:
		return string(kind)
	case "":
		return string(message.KindSMS) // the default kind
	}
	return "other"
}

// CountAccepted counts one message stored as accepted; it makes Metrics a
// core.AcceptedCounter.
func (m *Metrics) CountAccepted(kind message.Kind, segments int) {
	label := kindLabel(kind)
	m.accepted.WithLabelValues(label).Inc()
	m.acceptedSegments.WithLabelValues(label).Add(float64(max(segments, 1)))
}

// ObserveRequest counts one HTTP request. route must be the route's
// template, never the raw path, which carries ids; "" stands for a path no
// route matched.
func (m *Metrics) ObserveRequest(method, route string, code int, took time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	s := m.requests.get(requestKey{methodLabel(method), route, code}, m.newRequestSeries)
	s.count.Inc()
	s.took.Observe(took.Seconds())
}

type requestKey struct {
	method, route string
	code          int
}

// requestSeries are the series one kind of request (method, route,
// status) counts in.
type requestSeries struct {
	count prometheus.Counter
	took  prometheus.Observer
}

func (m *Metrics) newRequestSeries(k requestKey) requestSeries {
	return requestSeries{count: m.httpRequests.WithLabelValues(k.method, k.route, strconv.Itoa(k.code)),
		took: m.httpDuration.WithLabelValues(k.method, k.route)}
}

// requestSeriesCache resolves each kind of request's series once:
// WithLabelValues formats the status, hashes the labels and looks them up
// on every request. Methods, route templates and statuses are few, so the
// cache stays small.
type requestSeriesCache struct {
	mu     sync.RWMutex
	series map[requestKey]requestSeries
}

func (c *requestSeriesCache) get(k requestKey, newSeries func(requestKey) requestSeries) requestSeries {
	c.mu.RLock()
	s, ok := c.series[k]
	c.mu.RUnlock()
	if ok {
		return s
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.series[k]; ok {
		return s
	}
	if c.series == nil {
		c.series = make(map[requestKey]requestSeries)
	}
	s = newSeries(k)
	c.series[k] = s
	return s
}

// methodLabel keeps the standard methods; a client can send any token as a
// method, and each would be a new series.
func methodLabel(method string) string {
	switch method {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE":
		return method
	}
	return "OTHER"
}

var _ webhook.Observer = (*Metrics)(nil)

// ObserveWebhook counts one webhook attempt.
func (m *Metrics) ObserveWebhook(eventType outbox.EventType, ok, gaveUp bool, latency time.Duration) {
	result := "delivered"
	switch {
	case ok:
	case gaveUp:
		result = "gave_up"
	default:
		result = "failed"
	}
	m.webhookAttempts.WithLabelValues(string(eventType), result).Inc()
	if latency > 0 {
		m.webhookDuration.WithLabelValues(string(eventType)).Observe(latency.Seconds())
	}
}
