package android

import "time"

// window paces sends: at most limit in any period. It keeps the times of
// the last limit sends, so its memory is bounded by the limit.
type window struct {
	limit  int
	period time.Duration
	times  []time.Time // ring of the last sends, oldest at next
	next   int
}

func newWindow(limit int, period time.Duration) *window {
	return &window{limit: limit, period: period}
}

// freeAt is when one more send fits: now or later.
func (w *window) freeAt(now time.Time) time.Time {
	if w == nil || w.limit <= 0 || len(w.times) < w.limit {
		return now
	}
	at := w.times[w.next].Add(w.period)
	if at.Before(now) {
		return now
	}
	return at
}

// take records a send at now.
func (w *window) take(now time.Time) {
	if w == nil || w.limit <= 0 {
		return
	}
	if len(w.times) < w.limit {
		w.times = append(w.times, now)
		return
	}
	w.times[w.next] = now
	w.next = (w.next + 1) % w.limit
}
