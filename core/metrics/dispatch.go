package metrics

import (
	"context"
	"time"

	"github.com/smsrouter/smsrouter/core/dispatch"
	"github.com/smsrouter/smsrouter/core/message"
)

// The results of smsrouter_dispatch_attempts_total.
const (
	resultAccepted  = "accepted"
	resultTemporary = "temporary"
	resultPermanent = "permanent"
	resultError     = "error"
)

var _ dispatch.Metrics = (*Metrics)(nil)

// Sent records a provider's acceptance of m: the time since the message
// was accepted, or since its send_at when it was scheduled (waiting for its
// time is not delay).
func (m *Metrics) Sent(provider string, msg *dispatch.Message, at time.Time) {
	from := msg.CreatedAt
	if msg.SendAt != nil && msg.SendAt.After(from) {
		from = *msg.SendAt
	}
	if from.IsZero() {
		return
	}
	m.acceptToSent.WithLabelValues(provider).Observe(max(at.Sub(from), 0).Seconds())
}

// Retried counts a temporary failure at provider as a failover or a retry.
func (m *Metrics) Retried(provider string, failover bool) {
	if failover {
		m.failovers.WithLabelValues(provider).Inc()
		return
	}
	m.retries.WithLabelValues(provider).Inc()
}

// InstrumentProviders returns p with every Send call timed and its answers
// counted, per provider.
func (m *Metrics) InstrumentProviders(p dispatch.Providers) dispatch.Providers {
	return &timedProviders{Providers: p, m: m}
}

type timedProviders struct {
	dispatch.Providers
	m *Metrics
}

func (t *timedProviders) Send(ctx context.Context, name string, msgs []message.Outgoing) ([]message.SendResult, error) {
	start := time.Now()
	res, err := t.Providers.Send(ctx, name, msgs)
	took := time.Since(start).Seconds()
	if err != nil {
		t.m.sendDuration.WithLabelValues(name, "error").Observe(took)
		t.m.sendResults.WithLabelValues(name, resultError).Add(float64(len(msgs)))
		return res, err
	}
	t.m.sendDuration.WithLabelValues(name, "ok").Observe(took)
	var accepted, temporary, permanent int
	for _, r := range res {
		switch r.Outcome {
		case message.OutcomeAccepted:
			accepted++
		case message.OutcomeRefused:
			permanent++
		default: // expired and failing over count as temporary, as they always have
			temporary++
		}
	}
	for _, c := range [...]struct {
		result string
		n      int
	}{{resultAccepted, accepted}, {resultTemporary, temporary}, {resultPermanent, permanent}} {
		if c.n > 0 {
			t.m.sendResults.WithLabelValues(name, c.result).Add(float64(c.n))
		}
	}
	return res, nil
}
