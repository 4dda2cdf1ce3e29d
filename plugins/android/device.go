package android

import (
	"strings"
	"time"
)

// sim is one SIM card of a phone, as the app reported it or the operator
// configured it.
type sim struct {
	Slot     int      `json:"slot"`
	Number   string   `json:"number,omitempty"`
	Operator string   `json:"operator,omitempty"`
	Country  string   `json:"country,omitempty"`
	Prefixes []string `json:"prefixes,omitempty"`

	pace     *window
	lastUsed uint64 // as device.lastAssigned
}

// serves reports how well the SIM fits a destination: the length of its
// longest prefix the number starts with, 0 when none does.
func (s *sim) serves(to string) int {
	best := 0
	for _, p := range s.Prefixes {
		if strings.HasPrefix(to, p) && len(p) > best {
			best = len(p)
		}
	}
	return best
}

// device is one registered phone. Its fields are guarded by the pool's
// mutex.
type device struct {
	ID        string
	Name      string
	TokenHash string // hex SHA-256 of the device token; the token itself is never kept
	CreatedAt time.Time
	SIMs      []*sim

	lastSeen     time.Time
	battery      int // percent; -1 unknown
	charging     bool
	streams      int    // live SSE connections
	suspect      bool   // a lease ran out untaken: offline until the phone shows life again
	lastAssigned uint64 // the pool's assignment count when it was last given a message: least recently used first
	pace         *window
	queue        []*job        // given to the phone, not yet taken
	wake         chan struct{} // buffered 1: tells its SSE streams there is work
	gone         chan struct{} // closed when the device is revoked
	inFlight     int
	sentDay      string
	sentToday    int
}

func newDevice(id, name, tokenHash string, now time.Time) *device {
	return &device{ID: id, Name: name, TokenHash: tokenHash, CreatedAt: now, lastSeen: now, battery: -1,
		wake: make(chan struct{}, 1), gone: make(chan struct{})}
}

// online reports whether the phone can be given work: a live event stream
// or activity within offlineAfter, and no lease it let run out since.
func (d *device) online(now time.Time, offlineAfter time.Duration) bool {
	if d.suspect {
		return false
	}
	return d.streams > 0 || now.Sub(d.lastSeen) < offlineAfter
}

// notify wakes the phone's event streams without blocking: one pending
// wake-up covers any number of new messages, so a flood costs nothing.
func (d *device) notify() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// sim returns the SIM in slot, or nil.
func (d *device) sim(slot int) *sim {
	for _, s := range d.SIMs {
		if s.Slot == slot {
			return s
		}
	}
	return nil
}

// countSent counts a message the phone reported sent, per UTC day.
func (d *device) countSent(now time.Time) {
	day := now.UTC().Format(time.DateOnly)
	if d.sentDay != day {
		d.sentDay, d.sentToday = day, 0
	}
	d.sentToday++
}

// removeJob takes j out of the phone's queue.
func (d *device) removeJob(j *job) {
	for i, q := range d.queue {
		if q == j {
			d.queue = append(d.queue[:i], d.queue[i+1:]...)
			return
		}
	}
}
