package providerstats

import (
	"sync"
	"time"
)

// Window is how far back the figures look; Buckets is how finely the window
// slides. Ten-second buckets over five minutes keep a burst of failures
// visible long enough to steer traffic, and short enough to let a provider
// that recovered win its traffic back.
const (
	Window  = 5 * time.Minute
	Buckets = 30
)

// Tracker records attempt outcomes per provider. The zero value is not
// usable; call New.
type Tracker struct {
	now func() time.Time

	mu        sync.Mutex
	providers map[string]*window
}

// New returns an empty Tracker. now may be nil (time.Now).
func New(now func() time.Time) *Tracker {
	if now == nil {
		now = time.Now
	}
	return &Tracker{now: now, providers: map[string]*window{}}
}

type bucket struct {
	start     int64 // bucket number (unix time / bucket width)
	ok, fail  int
	latencies time.Duration
	timed     int
}

type window struct {
	b [Buckets]bucket
}

func bucketWidth() time.Duration { return Window / Buckets }

// Observe records one attempt at provider: ok is whether the provider
// accepted the message; latency is how long the submit took (0 when the
// provider was not reached at all).
func (t *Tracker) Observe(provider string, ok bool, latency time.Duration) {
	n := t.now().UnixNano() / int64(bucketWidth())
	t.mu.Lock()
	defer t.mu.Unlock()
	w := t.providers[provider]
	if w == nil {
		w = &window{}
		t.providers[provider] = w
	}
	b := &w.b[n%Buckets]
	if b.start != n {
		*b = bucket{start: n}
	}
	if ok {
		b.ok++
	} else {
		b.fail++
	}
	if latency > 0 {
		b.latencies += latency
		b.timed++
	}
}

// Figures is a provider's recent record.
type Figures struct {
	Attempts int
	// SuccessRate is accepted ÷ attempts, 1 when there were no attempts:
	// a provider nobody tried yet is not to be avoided.
	SuccessRate float64
	// Latency is the mean submit latency, 0 when nothing was timed.
	Latency time.Duration
}

// Figures returns provider's figures over the window ending now.
func (t *Tracker) Figures(provider string) Figures {
	n := t.now().UnixNano() / int64(bucketWidth())
	t.mu.Lock()
	defer t.mu.Unlock()
	f := Figures{SuccessRate: 1}
	w := t.providers[provider]
	if w == nil {
		return f
	}
	ok, fail, timed := 0, 0, 0
	var lat time.Duration
	for _, b := range w.b {
		if b.start > n-Buckets && b.start <= n {
			ok += b.ok
			fail += b.fail
			lat += b.latencies
			timed += b.timed
		}
	}
	f.Attempts = ok + fail
	if f.Attempts > 0 {
		f.SuccessRate = float64(ok) / float64(f.Attempts)
	}
	if timed > 0 {
		f.Latency = lat / time.Duration(timed)
	}
	return f
}
