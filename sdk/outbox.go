package sdk

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/smsrouter/smsrouter/sdk/internal/pluginpb"
)

// outbox holds the events a provider emitted until the host acknowledges
// them. It outlives event streams, so an event sent on a stream that broke
// before its ack is sent again on the next one, and the provider's emit keeps
// waiting meanwhile.
//
// Every operation costs the same however many events wait: a provider that
// emits thousands of events at once (an SMSC's burst of receipts) is what
// lets the host store them together, so the wait must not grow with them.
type outbox struct {
	stop <-chan struct{} // closed when the plugin shuts down

	mu     sync.Mutex
	lastID uint64
	// pending are the emitted events not yet acknowledged, by id.
	pending map[uint64]*delivery
	// queue are the pending events not yet sent on the current stream
	// (stream), in emit order; an event given up meanwhile is skipped.
	queue    []*delivery
	stream   uint64
	changed  chan struct{} // closed and replaced when queue gains events or the source finishes
	finished bool          // the provider's Events returned
	err      error         // what it returned
}

type delivery struct {
	id    uint64
	ev    *pluginpb.Event
	acked chan struct{}
}

func newOutbox(stop <-chan struct{}) *outbox {
	return &outbox{stop: stop, pending: map[uint64]*delivery{}, changed: make(chan struct{})}
}

func (o *outbox) notifyLocked() {
	close(o.changed)
	o.changed = make(chan struct{})
}

// emit is the EmitFunc the provider's event source gets.
func (o *outbox) emit(ctx context.Context, ev Event) error {
	if err := validateEvent(ev); err != nil {
		return err
	}
	d := &delivery{ev: eventToPB(ev), acked: make(chan struct{})}
	o.mu.Lock()
	o.lastID++
	d.id = o.lastID
	o.pending[d.id] = d
	o.queue = append(o.queue, d)
	if len(o.queue) == 1 {
		// The stream takes the whole queue when woken, so only the
		// first event after it did needs to wake it.
		o.notifyLocked()
	}
	o.mu.Unlock()

	var cause error
	select {
	case <-d.acked:
		return nil
	case <-ctx.Done():
		cause = ctx.Err()
	case <-o.stop:
		cause = errors.New("plugin is shutting down")
	}
	o.mu.Lock()
	_, removed := o.pending[d.id]
	delete(o.pending, d.id)
	if removed {
		o.drainedLocked()
	}
	o.mu.Unlock()
	if !removed {
		// The ack won the race: the event is stored.
		return nil
	}
	return fmt.Errorf("event %q was not stored by the host: %w", ev.ID, cause)
}

// ack releases the emit waiting for delivery id. Unknown ids (a duplicate
// ack, or an emit that gave up) are ignored.
func (o *outbox) ack(id uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if d, ok := o.pending[id]; ok {
		close(d.acked)
		delete(o.pending, id)
		o.drainedLocked()
	}
}

// drainedLocked wakes the stream when the last event of a finished
// source was acknowledged or given up, for it to end.
func (o *outbox) drainedLocked() {
	if o.finished && len(o.pending) == 0 {
		o.notifyLocked()
	}
}

func (o *outbox) finish(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.finished = true
	o.err = err
	o.notifyLocked()
}

// open starts a stream: every unacknowledged event is to be sent on it, in
// emit order, and a stream opened before it gets nothing more. It returns
// the stream's number for take.
func (o *outbox) open() uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.stream++
	o.queue = o.queue[:0:0]
	for _, d := range o.pending {
		o.queue = append(o.queue, d)
	}
	slices.SortFunc(o.queue, func(a, b *delivery) int { return cmp.Compare(a.id, b.id) })
	o.notifyLocked()
	return o.stream
}

// take returns the events stream is still to send, in emit order, and a
// channel closed on the next change. current is false once a newer stream
// was opened; drained says the provider's Events returned (with err) and
// nothing is left unacknowledged.
func (o *outbox) take(stream uint64) (send []*delivery, changed <-chan struct{}, current, drained bool, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if stream != o.stream {
		return nil, nil, false, false, nil
	}
	for _, d := range o.queue {
		if _, ok := o.pending[d.id]; ok {
			send = append(send, d)
		}
	}
	o.queue = nil
	return send, o.changed, true, o.finished && len(o.pending) == 0, o.err
}
