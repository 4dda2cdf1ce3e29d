package store

// KeyCacheLive reports whether verified API keys are being kept in memory
// (this process hears key changes), so tests can wait for it.
func (s *Store) KeyCacheLive() bool {
	s.keys.mu.Lock()
	defer s.keys.mu.Unlock()
	return s.keys.live
}
