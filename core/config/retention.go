package config

import (
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Retention is the retention block: how long history that only serves
// inspection is kept before the housekeeping deletes it. Rate windows,
// OTP codes, idempotency keys and duplicate claims go a day after they stop
// counting and need no setting.
type Retention struct {
	// Webhooks is how long delivered and given-up webhook deliveries and
	// their attempts stay visible; default 720h (30 days).
	Webhooks time.Duration
	// EventIDs is how long the ids of provider events are remembered, to
	// drop an event a provider emits again; default 720h.
	EventIDs time.Duration
}

// DefaultRetention is the retention block's defaults.
func DefaultRetention() Retention {
	return Retention{Webhooks: 30 * 24 * time.Hour, EventIDs: 30 * 24 * time.Hour}
}

var retentionSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "webhooks"}, {Name: "event_ids"},
}}

func (d *decoder) retention(b *hcl.Block, o *Retention) {
	content, diags := b.Body.Content(retentionSchema)
	d.diags = append(d.diags, diags...)
	for _, f := range []struct {
		name string
		dst  *time.Duration
		min  time.Duration
		why  string
	}{
		{"webhooks", &o.Webhooks, time.Hour, "applications look up recent deliveries"},
		// Providers re-emit events after a restart or while retrying a
		// callback, for hours at most; a shorter memory would let such a
		// repeat through as a new event.
		{"event_ids", &o.EventIDs, 24 * time.Hour, "a provider may re-emit an event hours later"},
	} {
		a := content.Attributes[f.name]
		if a == nil {
			continue
		}
		v, ok := d.duration(a, 0, false)
		if ok && v < f.min {
			d.errorf(a.Expr.Range(), "Invalid retention", "%s must be at least %s (%s), got %q", f.name, f.min, f.why, v)
			continue
		}
		if ok {
			*f.dst = v
		}
	}
}
