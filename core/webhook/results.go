package webhook

import "github.com/smsrouter/smsrouter/core/outbox"

// results holds finished attempts until they are recorded, one record at a
// time, and counts those not yet recorded (waiting or being recorded)
// against a cap: past it no request starts, so that a slow database slows
// deliveries down instead of letting results wait until their lease runs
// out and the delivery is claimed and sent again.
type results struct {
	max        int
	finished   []outcome
	unrecorded int
	recording  bool
	// done receives the record in flight when it ends.
	done chan recordDone
}

// recordDone is a finished record, for Run: the outcomes it stored, what
// the store did with them, and the error if it failed.
type recordDone struct {
	batch []outcome
	rec   outbox.Recorded
	err   error
}

func newResults(max int) *results {
	return &results{max: max, done: make(chan recordDone, 1)}
}

// add keeps a finished attempt for the next record.
func (r *results) add(o outcome) {
	r.finished = append(r.finished, o)
	r.unrecorded++
}

// full reports whether the cap on unrecorded results is reached.
func (r *results) full() bool { return r.unrecorded >= r.max }

// next returns what waits to be recorded, nil while a record is in flight
// (what finishes meanwhile goes to the next one) or nothing waits; the
// caller records it and sends the recordDone to done.
func (r *results) next() []outcome {
	if len(r.finished) == 0 || r.recording {
		return nil
	}
	b := r.finished
	r.finished = nil
	r.recording = true
	return b
}

// recorded counts out the record that ended.
func (r *results) recorded(d recordDone) {
	r.recording = false
	r.unrecorded -= len(d.batch)
}
