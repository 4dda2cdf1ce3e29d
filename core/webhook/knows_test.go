package webhook_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/outbox"
	"github.com/smsrouter/smsrouter/core/webhook"
)

// emptyQueue is an outbox with nothing to claim, that remembers what was
// given back.
type emptyQueue struct {
	mu       sync.Mutex
	released []uint64
}

func (*emptyQueue) ClaimWebhooks(context.Context, time.Time, int, time.Duration, []string) ([]outbox.Delivery, error) {
	return nil, nil
}

func (q *emptyQueue) ReleaseWebhooks(_ context.Context, seqs []uint64) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.released = append(q.released, seqs...)
	return nil
}

func (*emptyQueue) RecordWebhookResultsClaimNext(context.Context, []outbox.Result, time.Time, time.Duration) (outbox.Recorded, error) {
	return outbox.Recorded{}, nil
}

func (*emptyQueue) NextWebhookDue(context.Context) (time.Time, bool, error) {
	return time.Time{}, false, nil
}

// Knows answers for a message whose last handed-over event moved it to
// the status asked about, while the deliverer holds that event (its held
// events are the pending ones); not for another status, another message,
// or once the event was given back.
func TestKnowsOnlyWhatItWasHanded(t *testing.T) {
	q := &emptyQueue{}
	d := webhook.New(q, webhook.Options{})
	d.Receive(outbox.Handed{Deliveries: []outbox.Delivery{
		{Seq: 7, MessageID: "m1", AccountID: "acc", Status: message.Sent},
		// Claimed or handed without the status it reports: not known.
		{Seq: 8, MessageID: "m2", AccountID: "acc"},
	}})
	cases := []struct {
		message string
		before  message.Status
		ok      bool
		pending []uint64
	}{
		{"m1", message.Sent, true, []uint64{7}},
		// Another status: an event may have come between.
		{"m1", message.Unknown, false, nil},
		{"m1", "", false, nil},
		{"m2", message.Sent, false, nil},
		{"m3", message.Sent, false, nil},
	}
	for _, tc := range cases {
		pending, ok := d.Knows(tc.message, tc.before)
		if ok != tc.ok || !slices.Equal(pending, tc.pending) {
			t.Errorf("Knows(%s, %q) = %v, %v; want %v, %v", tc.message, tc.before, pending, ok, tc.pending, tc.ok)
		}
	}
	// A Run that stops at once gives back what was handed over: m1's
	// event is neither held nor finished, so its pending events are not
	// known any more.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.Run(ctx); err != nil {
		t.Fatal(err)
	}
	q.mu.Lock()
	released := slices.Sorted(slices.Values(q.released))
	q.mu.Unlock()
	if !slices.Equal(released, []uint64{7, 8}) {
		t.Fatalf("given back %v, want [7 8]", released)
	}
	if pending, ok := d.Knows("m1", message.Sent); ok {
		t.Errorf("Knows(m1) after the event was given back = %v, true; want not known", pending)
	}
}
