package smpp

import (
	"sync"
	"time"
)

// Throttle handling. SMSCs count submits per second, so after
// ESME_RTHROTTLED the bind pauses briefly, then runs at a fraction of what
// it sent in the last second; each further second without a throttle earns
// raiseStep back (multiplicative decrease, gradual increase, as TCP). A
// second cut waits a full second, because the answers to submits already
// in flight keep saying "throttled" until the SMSC's second rolls over.
const (
	throttlePause = 20 * time.Millisecond
	cutFactor     = 0.8
	cutEvery      = time.Second
	raiseEvery    = time.Second
	raiseStep     = 1.1
	minRate       = 1.0
	noLimitAbove  = 1e6
	bucketWidth   = 100 * time.Millisecond
	buckets       = 10 // one second of history
)

// pacer spaces one bind's submits: the configured tps limit, lowered for a
// while whenever the SMSC says the link is throttled.
type pacer struct {
	mu          sync.Mutex
	ceiling     float64 // configured submits/s for this bind; 0 = none
	limit       float64 // current submits/s; 0 = none
	next        time.Time
	pausedUntil time.Time
	lastCut     time.Time
	lastRaise   time.Time
	throttleCt  int
	// sends per 100 ms over the last second, to know the rate the link ran
	// at when a throttle came.
	count [buckets]int
	epoch [buckets]int64
}

func newPacer(ceiling float64) *pacer {
	return &pacer{ceiling: ceiling, limit: ceiling}
}

func (p *pacer) note(now time.Time) {
	e := now.UnixNano() / int64(bucketWidth)
	i := e % buckets
	if p.epoch[i] != e {
		p.epoch[i], p.count[i] = e, 0
	}
	p.count[i]++
}

func (p *pacer) lastSecond(now time.Time) int {
	e := now.UnixNano() / int64(bucketWidth)
	n := 0
	for i := range buckets {
		if e-p.epoch[i] < buckets {
			n += p.count[i]
		}
	}
	return n
}

// reserve books the next send slot and returns how long to wait for it.
func (p *pacer) reserve(now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	at := now
	if p.pausedUntil.After(at) {
		at = p.pausedUntil
	}
	if p.limit > 0 {
		if p.next.After(at) {
			at = p.next
		}
		p.next = at.Add(time.Duration(float64(time.Second) / p.limit))
	}
	p.note(at)
	return at.Sub(now)
}

// throttled slows the bind down after an ESME_RTHROTTLED answer.
func (p *pacer) throttled(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.throttleCt++
	if until := now.Add(throttlePause); until.After(p.pausedUntil) {
		p.pausedUntil = until
	}
	p.lastRaise = now
	if now.Sub(p.lastCut) < cutEvery {
		return
	}
	p.lastCut = now
	rate := float64(p.lastSecond(now))
	if p.limit > 0 && p.limit < rate {
		rate = p.limit
	}
	p.limit = max(minRate, rate*cutFactor)
	p.next = now
}

// succeeded lets the rate climb back towards the ceiling.
func (p *pacer) succeeded(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.limit == 0 || p.limit == p.ceiling || now.Sub(p.lastRaise) < raiseEvery {
		return
	}
	p.lastRaise = now
	p.limit = p.limit*raiseStep + 1
	if p.ceiling > 0 && p.limit >= p.ceiling {
		p.limit = p.ceiling
	}
	if p.ceiling == 0 && p.limit > noLimitAbove {
		p.limit = 0
	}
}

// pause holds the bind back for d, without changing its rate.
func (p *pacer) pause(now time.Time, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if until := now.Add(d); until.After(p.pausedUntil) {
		p.pausedUntil = until
	}
}

// current reports the rate limit in force (0 = none) and how many throttle
// answers the bind has had.
func (p *pacer) current() (float64, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.limit, p.throttleCt
}
