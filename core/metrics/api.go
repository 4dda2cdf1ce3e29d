package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/webhook"
)

// knownKinds are the message kinds counted under their own name. The kind
// is the client's free text, so any other counts as "other": one label
// value per spelling a client invents would grow the series without bound.
var knownKinds = []string{"sms", "otp", "other"}

func kindLabel(kind string) string {
	switch kind {
	case "sms", "otp":
		return kind
	case "":
		return "sms"
	}
	return "other"
}

// Accepter stores acceptances; core.Accepter and *store.Store have it.
type Accepter interface {
	Accept(ctx context.Context, a store.Acceptance) error
}

// CountAccepted returns next with every acceptance it stores counted.
func (m *Metrics) CountAccepted(next Accepter) Accepter {
	return &countingAccepter{next: next, m: m}
}

type countingAccepter struct {
	next Accepter
	m    *Metrics
}

func (c *countingAccepter) Accept(ctx context.Context, a store.Acceptance) error {
	if err := c.next.Accept(ctx, a); err != nil {
		return err
	}
	for _, msg := range a.Messages {
		c.CountAccepted(msg)
	}
	return nil
}

// CountAccepted counts one message stored without the Accepter (an OTP's,
// stored with its code); see core.AcceptedCounter.
func (c *countingAccepter) CountAccepted(msg *store.Message) {
	kind := kindLabel(msg.Kind)
	c.m.accepted.WithLabelValues(kind).Inc()
	c.m.acceptedSegments.WithLabelValues(kind).Add(float64(max(msg.Segments, 1)))
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
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "OTHER"
}

var _ webhook.Observer = (*Metrics)(nil)

// ObserveWebhook counts one webhook attempt.
func (m *Metrics) ObserveWebhook(eventType string, ok, gaveUp bool, latency time.Duration) {
	result := "delivered"
	switch {
	case ok:
	case gaveUp:
		result = "gave_up"
	default:
		result = "failed"
	}
	m.webhookAttempts.WithLabelValues(eventType, result).Inc()
	if latency > 0 {
		m.webhookDuration.WithLabelValues(eventType).Observe(latency.Seconds())
	}
}
