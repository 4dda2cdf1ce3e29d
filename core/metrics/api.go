package metrics

import (
	"strconv"
	"time"

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
	method = methodLabel(method)
	m.httpRequests.WithLabelValues(method, route, strconv.Itoa(code)).Inc()
	m.httpDuration.WithLabelValues(method, route).Observe(took.Seconds())
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
