package smpp

import "time"

// SetClock replaces the clock validity periods are computed with; call it
// before Configure.
func SetClock(p *Provider, now func() time.Time) { p.now = now }

// SetEventLimits lowers how many deliver_sm may wait for an emit slot and
// how many emits may wait for the host; call it before Configure.
func SetEventLimits(p *Provider, queued, emits int) {
	p.inbound = make(chan inboundPDU, queued)
	p.maxEmits = emits
}
