package httpapi

import "time"

// SetClock replaces the provider's clock, so cache and throttle tests need
// no waiting.
func SetClock(p *Provider, now func() time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.now = now
}

// ParseAndSelect parses body in format f ("json" or "xml") and returns the
// values sel reaches, for the selector tests.
func ParseAndSelect(f, body, sel string) ([]string, error) {
	doc, err := parseDocument(format(f), []byte(body))
	if err != nil {
		return nil, err
	}
	s, err := parseSelector(sel)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range s.nodes(doc) {
		if s.last == "#key" {
			out = append(out, n.name)
		} else {
			out = append(out, n.text)
		}
	}
	return out, nil
}
