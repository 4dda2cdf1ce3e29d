package dispatch

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/core/message"
)

// Limits are the sending limits of each provider by name, as the
// provider blocks' limits sub-blocks configure them. A provider not in the
// map, or with zero values, is not limited.
//
// TPS counts segments, not messages: an SMPP link's throughput limit counts
// submit_sm PDUs and HTTP aggregators bill and throttle per SMS part, so a
// three-part message takes three tokens. The bucket holds one second's
// worth (at least one segment), so after a quiet spell a provider gets up to
// tps segments at once and then tps per second.
//
// Limits hold per process: with several smsrouter nodes each node applies
// the whole limit, so operators running N nodes against one link configure
// tps and concurrency divided by N. (Nodes do not know how many of them
// there are; dividing by a guess would be wrong after every scale-up.)
type Limits map[string]config.Limits

// limiter is one provider's limits in this process.
type limiter struct {
	cfg config.Limits
	tps *rate.Limiter // nil: no TPS limit
	// slots caps Send calls in flight; nil means no cap. A reload replaces
	// the channel; calls in flight give their slot back to the channel they
	// took it from.
	slots chan struct{}
	// releaseAfter is where the schedule of messages this process released
	// for lack of tokens ends. Released messages are spread after it at the
	// provider's rate, so that a backlog comes back in order, a bucket's
	// worth at a time, rather than all at once to be released again. It
	// only spreads the work; the bucket alone decides what is sent.
	releaseAfter time.Time
}

// limiters holds every provider's limiter; SetLimits swaps their settings.
type limiters struct {
	mu sync.Mutex
	by map[string]*limiter
}

func (l *limiters) set(now time.Time, cfg Limits) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.by == nil {
		l.by = map[string]*limiter{}
	}
	for name, lim := range l.by {
		if _, ok := cfg[name]; !ok && lim.cfg != (config.Limits{}) {
			l.by[name] = &limiter{}
		}
	}
	for name, c := range cfg {
		lim := l.by[name]
		if lim == nil {
			lim = &limiter{}
			l.by[name] = lim
		}
		if lim.cfg == c {
			continue
		}
		next := &limiter{cfg: c, releaseAfter: lim.releaseAfter}
		switch {
		case c.TPS <= 0:
		case lim.tps != nil:
			// Keep the bucket's state: a reload must not hand out a fresh
			// burst to a provider that just used its tokens.
			lim.tps.SetLimitAt(now, rate.Limit(c.TPS))
			lim.tps.SetBurstAt(now, burst(c.TPS))
			next.tps = lim.tps
		default:
			next.tps = rate.NewLimiter(rate.Limit(c.TPS), burst(c.TPS))
			// A new bucket starts full: the provider was unlimited until now.
		}
		switch {
		case c.Concurrency <= 0:
		case lim.slots != nil && cap(lim.slots) == c.Concurrency:
			next.slots = lim.slots
		default:
			// Calls in flight on the old channel are not counted against the
			// new cap; for one round after a reload the provider may see up
			// to old + new calls at once.
			next.slots = make(chan struct{}, c.Concurrency)
		}
		l.by[name] = next
	}
}

func (l *limiters) get(name string) *limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.by[name]
}

func (l *limiters) snapshot() Limits {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := Limits{}
	for name, lim := range l.by {
		if lim.cfg != (config.Limits{}) {
			out[name] = lim.cfg
		}
	}
	return out
}

// burst is the bucket size for tps: one second's worth, at least one.
func burst(tps float64) int {
	return max(1, int(math.Ceil(tps)))
}

// chunk is one Send call's messages and the earliest time the provider's
// TPS limit lets it go.
type chunk struct {
	msgs []*Message
	at   time.Time
}

// pace cuts group into Send calls of at most size messages and takes the
// provider's tokens for them, in order, as long as each call's turn comes
// within wait of now. The rest are released: they go back to the queue due
// at their projected turn, without counting as an attempt.
//
// Tokens are taken per call, for all its segments at once, and a call never
// takes more than the bucket holds (unless one message alone has more
// segments: it goes alone, see below): a call sent at its turn then never
// gives the provider more than the bucket allows at that instant. The limiter's lock is held, so
// one round's reservations are contiguous.
func (l *limiters) pace(name string, group []*Message, size int, now time.Time, wait time.Duration) (send []chunk, release []message.Attempt) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lim := l.by[name]
	if lim == nil || lim.tps == nil {
		for start := 0; start < len(group); start += size {
			send = append(send, chunk{msgs: group[start:min(start+size, len(group))], at: now})
		}
		return send, nil
	}
	b := lim.tps.Burst()
	i := 0
	for i < len(group) {
		j, tokens := nextCall(group, i, size, b)
		at, fits := reserveCall(lim.tps, tokens, b, now, wait)
		if !fits {
			break
		}
		send = append(send, chunk{msgs: group[i:j], at: at})
		i = j
	}
	if i == len(group) {
		return send, nil
	}
	return send, lim.releaseRest(group[i:], now)
}

// nextCall is the call starting at group[i]: it ends before group[j] and
// needs tokens, at most size messages and at most the bucket's b tokens
// unless its one message alone has more segments.
func nextCall(group []*Message, i, size, b int) (j, tokens int) {
	j = i
	for j < len(group) && j-i < size {
		segs := max(group[j].Segments, 1)
		if j > i && tokens+segs > b {
			break
		}
		tokens += segs
		j++
	}
	return j, tokens
}

// reserveCall takes a call's tokens from bucket (burst b) and says when the
// call is due, or that its turn does not come within wait of now (then it
// takes nothing).
func reserveCall(bucket *rate.Limiter, tokens, b int, now time.Time, wait time.Duration) (at time.Time, fits bool) {
	// A call is due when its first reservation is: that is the whole
	// call unless one message alone has more segments than the bucket
	// holds. Such a message goes when the bucket is full, taking the
	// whole window, and its further reservations run the bucket into
	// debt, so the calls after it wait in proportion to its segments.
	// (Waiting for its last reservation instead could never fit within
	// wait once it needs more than wait's worth of tokens: the message
	// was released round after round and never sent.)
	var res []*rate.Reservation
	at = now
	for left := tokens; left > 0; left -= b {
		r := bucket.ReserveN(now, min(left, b))
		res = append(res, r)
		if len(res) > 1 {
			continue // debt: OK by construction, min(left, b) <= b
		}
		if !r.OK() || r.DelayFrom(now) > wait {
			// Latest first, so the bucket gets every token back.
			for k := len(res) - 1; k >= 0; k-- {
				res[k].CancelAt(now)
			}
			return now, false
		}
		at = now.Add(r.DelayFrom(now))
	}
	return at, true
}

// releaseRest gives the messages that did not fit back to the queue. The
// first would have its turn no sooner than the bucket's horizon; the rest
// follow at the provider's rate.
func (lim *limiter) releaseRest(rest []*Message, now time.Time) (release []message.Attempt) {
	bucket := lim.tps
	probe := bucket.ReserveN(now, 1)
	turn := now.Add(probe.DelayFrom(now))
	probe.CancelAt(now)
	if lim.releaseAfter.After(turn) {
		turn = lim.releaseAfter
	}
	per := time.Duration(float64(time.Second) / float64(bucket.Limit()))
	for _, m := range rest {
		release = append(release, released(m, now, turn))
		turn = turn.Add(time.Duration(max(m.Segments, 1)) * per)
	}
	lim.releaseAfter = turn
	return release
}

// released gives a claimed message back to the queue untried at now, due
// again at due (or at its expiry, so that it expires on time). Our own
// limits are no failure of the message: it keeps its status, candidate and
// attempt count.
func released(m *Message, now, due time.Time) message.Attempt {
	if due.After(m.ExpiresAt) {
		due = m.ExpiresAt
	}
	return message.Attempt{MessageID: m.ID, Status: m.Status, Candidate: m.Candidate, RetryAt: due,
		At: now, Untried: true}
}

// acquire takes one of the provider's Send slots, waiting until deadline at
// most. It returns a function that gives the slot back, or false when the
// deadline passed or ctx ended first.
func (l *limiters) acquire(ctx context.Context, name string, deadline time.Duration) (func(), bool) {
	lim := l.get(name)
	if lim == nil || lim.slots == nil {
		return func() {}, true
	}
	slots := lim.slots
	select {
	case slots <- struct{}{}:
		return func() { <-slots }, true
	default:
	}
	if deadline <= 0 {
		return nil, false
	}
	t := time.NewTimer(deadline)
	defer t.Stop()
	select {
	case slots <- struct{}{}:
		return func() { <-slots }, true
	case <-t.C:
	case <-ctx.Done():
	}
	return nil, false
}
