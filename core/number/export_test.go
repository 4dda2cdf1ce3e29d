package number

// CacheLen reports how many numbers p remembers.
func CacheLen(p *Parser) int {
	p.cache.mu.Lock()
	defer p.cache.mu.Unlock()
	return len(p.cache.cur) + len(p.cache.old)
}
