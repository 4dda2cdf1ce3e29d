package modem

// Changes returns a channel closed at the next change of any port's status
// (opened, ready, down, polled), so tests wait for a state instead of
// sleeping.
func Changes(p *Provider) <-chan struct{} { return p.changes() }
