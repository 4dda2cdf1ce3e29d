package config

import (
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Dispatch is the dispatch block: how long the dispatcher may hold a
// message it took from the queue. Zero values mean the dispatcher's
// defaults (send_timeout 60s, lease twice that plus 10s).
type Dispatch struct {
	// SendTimeout bounds one Send call to a plugin.
	SendTimeout time.Duration
	// Lease is how long a claimed message is held by one server. A server
	// that dies mid-send leaves its claims to run out, after which another
	// server (or it, restarted) sends them again; a shorter lease recovers
	// sooner but must leave time for a slow Send and its recording.
	Lease time.Duration
}

var dispatchSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "send_timeout"}, {Name: "lease"},
}}

// minLeaseMargin is how much longer than send_timeout a lease must be: the
// answer has to be recorded within the lease too.
const minLeaseMargin = time.Second

func (d *decoder) dispatch(b *hcl.Block, o *Dispatch) {
	content, diags := b.Body.Content(dispatchSchema)
	d.diags = append(d.diags, diags...)
	if a := content.Attributes["send_timeout"]; a != nil {
		if v, ok := d.duration(a, 10*time.Millisecond, false); ok {
			o.SendTimeout = v
		}
	}
	a := content.Attributes["lease"]
	if a == nil {
		return
	}
	v, ok := d.duration(a, 10*time.Millisecond, false)
	if !ok {
		return
	}
	timeout := o.SendTimeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	if v < timeout+minLeaseMargin {
		d.errorf(a.Expr.Range(), "Lease too short",
			"lease %s must exceed send_timeout (%s) by at least %s: a message whose lease runs out while its send is in flight is sent again",
			v, timeout, minLeaseMargin)
		return
	}
	o.Lease = v
}
