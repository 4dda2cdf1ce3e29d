package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"sync"
	"time"
)

// session is one signed-in browser. The API key stays on the server; the
// browser holds only the session's random id.
type session struct {
	id      string
	key     string // the admin API key the console calls the API with
	csrf    string // the token every form of this session carries
	system  bool   // the key is a system admin's
	account string // the key's account, as the key list gives it ("" when not found)
	expires time.Time
}

// sessions keeps the signed-in browsers of this server in memory: a
// restart or another node behind a load balancer asks for the key again.
type sessions struct {
	mu   sync.Mutex
	byID map[string]*session
	ttl  time.Duration
	now  func() time.Time
	max  int
}

func newSessions(ttl time.Duration, max int, now func() time.Time) *sessions {
	return &sessions{byID: map[string]*session{}, ttl: ttl, now: now, max: max}
}

// start opens a session for key, dropping expired ones first and, when
// still full, the one nearest its end, so memory stays bounded whoever
// signs in.
func (s *sessions) start(key, accountID string, system bool) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked()
	if len(s.byID) >= s.max {
		s.dropOldestLocked()
	}
	se := &session{id: token(), key: key, csrf: token(), system: system, account: accountID, expires: s.now().Add(s.ttl)}
	s.byID[se.id] = se
	return se
}

// get returns the live session with id, extending it (sliding expiry).
func (s *sessions) get(id string) (*session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	se, ok := s.byID[id]
	if !ok {
		return nil, false
	}
	if !s.now().Before(se.expires) {
		delete(s.byID, id)
		return nil, false
	}
	se.expires = s.now().Add(s.ttl)
	cp := *se
	return &cp, true
}

func (s *sessions) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, id)
}

func (s *sessions) sweepLocked() {
	now := s.now()
	for id, se := range s.byID {
		if !now.Before(se.expires) {
			delete(s.byID, id)
		}
	}
}

func (s *sessions) dropOldestLocked() {
	var oldest *session
	for _, se := range s.byID {
		if oldest == nil || se.expires.Before(oldest.expires) {
			oldest = se
		}
	}
	if oldest != nil {
		delete(s.byID, oldest.id)
	}
}

// validCSRF compares a form's token with the session's in constant time.
func (se *session) validCSRF(got string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(se.csrf)) == 1
}

func token() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("console: no randomness for a session token: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
