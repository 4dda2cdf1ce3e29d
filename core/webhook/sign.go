package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"sync"
	"time"

	"github.com/smsrouter/smsrouter/core/egress"
)

// Headers every webhook request carries.
const (
	HeaderSignature = "X-Signature"
	HeaderTimestamp = "X-Timestamp"
	HeaderEventID   = "X-Event-Id"
	HeaderEventType = "X-Event-Type"
)

// Sign returns the X-Signature of body sent at timestamp (Unix seconds):
// the hex HMAC-SHA256, keyed with the account's secret, of the timestamp in
// decimal, a dot, and the body.
func Sign(secret string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(timestamp, 10)))
	mac.Write([]byte("."))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// signer makes Sign's signatures from HMAC states already keyed, kept per
// secret: hmac.New hashes the key and allocates two hash states for every
// request, while an account signs all of its webhooks with one secret.
type signer struct {
	mu    sync.Mutex
	byKey map[string]*sync.Pool // secret → keyed hash.Hash
}

// maxSigners bounds the secrets a signer keeps states for; past it, it
// starts over, so that rotated secrets do not pile up.
const maxSigners = 1024

// sign is Sign(secret, timestamp, body).
func (s *signer) sign(secret string, timestamp int64, body []byte) string {
	pool := s.pool(secret)
	mac := pool.Get().(hash.Hash)
	mac.Reset()
	var ts [20]byte
	mac.Write(strconv.AppendInt(ts[:0], timestamp, 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	var sum [sha256.Size]byte
	out := hex.EncodeToString(mac.Sum(sum[:0]))
	pool.Put(mac)
	return out
}

func (s *signer) pool(secret string) *sync.Pool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.byKey[secret]; ok {
		return p
	}
	if s.byKey == nil || len(s.byKey) >= maxSigners {
		s.byKey = make(map[string]*sync.Pool)
	}
	key := []byte(secret)
	p := &sync.Pool{New: func() any { return hmac.New(sha256.New, key) }}
	s.byKey[secret] = p
	return p
}

// ErrBadSignature means a webhook's signature does not match its body.
var ErrBadSignature = errors.New("webhook signature does not match")

// Verify checks a received webhook the way an application should: the
// signature must match and the timestamp must be within tolerance of now,
// so that a captured request cannot be replayed later.
func Verify(secret, signature, timestamp string, body []byte, tolerance time.Duration, now time.Time) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook timestamp %q is not Unix seconds", timestamp)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("webhook timestamp %s is %s away from now, more than %s", time.Unix(ts, 0).UTC().Format(time.RFC3339), d.Round(time.Second), tolerance)
	}
	want := Sign(secret, ts, body)
	if !hmac.Equal([]byte(want), []byte(signature)) {
		return ErrBadSignature
	}
	return nil
}

// notPublic ends a refusal of an address a webhook URL resolved to.
const notPublic = egress.NotPublic
