package sdk

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/smsrouter/smsrouter/sdk/internal/pluginpb"
)

// outbox holds the events a provider emitted until the host acknowledges
// them. It outlives event streams, so an event sent on a stream that broke
// before its ack is sent again on the next one, and the provider's emit keeps
// waiting meanwhile.
type outbox struct {
	stop <-chan struct{} // closed when the plugin shuts down

	mu       sync.Mutex
	lastID   uint64
	pending  []*delivery
	changed  chan struct{} // closed and replaced on every change
	finished bool          // the provider's Events returned
	err      error         // what it returned
}

type delivery struct {
	id    uint64
	ev    *pluginpb.Event
	acked chan struct{}
}

func newOutbox(stop <-chan struct{}) *outbox {
	return &outbox{stop: stop, changed: make(chan struct{})}
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
	o.pending = append(o.pending, d)
	o.notifyLocked()
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
	removed := o.removeLocked(d.id)
	o.mu.Unlock()
	if !removed {
		// The ack won the race: the event is stored.
		return nil
	}
	return fmt.Errorf("event %q was not stored by the host: %w", ev.ID, cause)
}

// removeLocked drops a delivery and reports whether it was still pending.
func (o *outbox) removeLocked(id uint64) bool {
	for i, d := range o.pending {
		if d.id == id {
			o.pending = append(o.pending[:i:i], o.pending[i+1:]...)
			o.notifyLocked()
			return true
		}
	}
	return false
}

// ack releases the emit waiting for delivery id. Unknown ids (a duplicate
// ack, or an emit that gave up) are ignored.
func (o *outbox) ack(id uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, d := range o.pending {
		if d.id == id {
			close(d.acked)
			break
		}
	}
	o.removeLocked(id)
}

func (o *outbox) finish(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.finished = true
	o.err = err
	o.notifyLocked()
}

// snapshot returns the unacknowledged deliveries in emit order and a channel
// that is closed on the next change.
func (o *outbox) snapshot() (pending []*delivery, changed <-chan struct{}, finished bool, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*delivery(nil), o.pending...), o.changed, o.finished, o.err
}
