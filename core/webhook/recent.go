package webhook

import (
	"time"

	"github.com/smsrouter/smsrouter/core/message"
)

// settledMemory is how long Run remembers finished deliveries, and what
// it was handed: longer than a transaction that hands over a successor
// takes to commit.
const settledMemory = 10 * time.Second

// recent is a map whose entries are kept for at least settledMemory, in
// two generations: entries older than two generations are forgotten, so
// that its size follows the rate of puts, not their total.
type recent[K comparable, V any] struct {
	cur, prev map[K]V
	since     time.Time
}

func (r *recent[K, V]) put(k K, v V) {
	if now := time.Now(); r.cur == nil || now.Sub(r.since) > settledMemory {
		r.prev, r.cur, r.since = r.cur, map[K]V{}, now
	}
	r.cur[k] = v
}

func (r *recent[K, V]) get(k K) (V, bool) {
	if v, ok := r.cur[k]; ok {
		return v, true
	}
	v, ok := r.prev[k]
	return v, ok
}

func (r *recent[K, V]) has(k K) bool {
	_, ok := r.get(k)
	return ok
}

// handedEvent is an event handed over and the status it moved its message
// to.
type handedEvent struct {
	seq    uint64
	status message.Status
}
