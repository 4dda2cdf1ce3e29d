package smpp

import "time"

// SetClock replaces the clock validity periods are computed with; call it
// before Configure.
func SetClock(p *Provider, now func() time.Time) { p.now = now }
