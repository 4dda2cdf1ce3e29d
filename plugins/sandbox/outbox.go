package sandbox

import (
	"context"
	"time"

	"github.com/smsrouter/smsrouter/sdk"
)

const (
	// defaultOutboxSize is how many of the latest messages the outbox keeps
	// unless outbox_size says otherwise: enough to find the OTP just sent.
	defaultOutboxSize = 100
	maxOutboxSize     = 10000
)

var _ sdk.OutboxReader = (*Provider)(nil)

// outbox is a ring of the latest messages the sandbox accepted, like a mail
// catcher, so a developer can read the code an OTP carried. It lives in
// memory only: a restarted plugin starts empty.
type outbox struct {
	ring []sdk.OutboxMessage
	next int // where the next message goes
	full bool
}

func newOutbox(size int) *outbox { return &outbox{ring: make([]sdk.OutboxMessage, size)} }

func (o *outbox) add(m sdk.OutboxMessage) {
	if len(o.ring) == 0 {
		return
	}
	o.ring[o.next] = m
	o.next = (o.next + 1) % len(o.ring)
	if o.next == 0 {
		o.full = true
	}
}

// latest returns up to limit messages, newest first; limit 0 means all.
func (o *outbox) latest(limit int) []sdk.OutboxMessage {
	n := o.next
	if o.full {
		n = len(o.ring)
	}
	if limit > 0 && limit < n {
		n = limit
	}
	out := make([]sdk.OutboxMessage, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, o.ring[(o.next-i+len(o.ring))%len(o.ring)])
	}
	return out
}

// Outbox returns the latest messages the sandbox accepted, newest first.
func (p *Provider) Outbox(ctx context.Context, limit int) ([]sdk.OutboxMessage, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.isClosed:
		return nil, errClosed
	case !p.configured:
		return nil, errNotConfigured
	}
	return p.outbox.latest(limit), nil
}

// recordSent keeps an accepted message in the outbox.
func (p *Provider) recordSent(m sdk.Message, providerID, sender string, at time.Time) {
	p.outbox.add(sdk.OutboxMessage{MessageID: m.ID, ProviderMessageID: providerID, To: m.To, From: sender,
		Text: m.Text, Kind: m.Kind, Segments: m.Segments, SentAt: at.UTC()})
}
