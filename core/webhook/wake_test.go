package webhook_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
	"github.com/smsrouter/smsrouter/core/webhook"
)

// idleSignal is the store telling the test when the deliverer is about to
// sleep: it asks for the next due time right before.
type idleSignal struct {
	*store.Store
	idle chan struct{}
}

func (q *idleSignal) NextWebhookDue(ctx context.Context) (time.Time, bool, error) {
	at, ok, err := q.Store.NextWebhookDue(ctx)
	select {
	case q.idle <- struct{}{}:
	default:
	}
	return at, ok, err
}

// Events this process enqueues are sent at once, not at the next poll: the
// poll interval here is an hour.
func TestEnqueuedEventsWakeTheDeliverer(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		recv := listenForOneMessage(t, s, "acc_a")

		q := &idleSignal{Store: s, idle: make(chan struct{}, 1)}
		d := webhook.New(q, webhook.Options{Egress: loopback, PollInterval: time.Hour})
		// Nothing handed over: the events are left for claims, and the
		// transactions that wrote them wake the deliverer.
		s.HandOffWebhooks(noRoom{d})
		defer s.HandOffWebhooks(nil)
		// Idle: found nothing to send, asleep until woken or an hour.
		deliverOnceIdle(t, s, d, q.idle, recv, "the events were not sent: the deliverer was not woken")
	})
}

// deliverOnceIdle runs d, waits until idle says it has gone idle, stores
// the two events of one message of acc_a, and fails with failure unless
// recv gets them.
func deliverOnceIdle(t *testing.T, s *store.Store, d *webhook.Deliverer, idle <-chan struct{}, recv *receiver, failure string) {
	t.Helper()
	stop := run(t, d)
	defer stop()
	select {
	case <-idle:
	case <-time.After(30 * time.Second):
		t.Fatal("the deliverer never went idle")
	}
	// message.sent (RecordAttempts) and message.delivered (StoreEvents).
	sendMessages(t, s, "acc_a", 1)
	select {
	case <-recv.all:
	case <-time.After(30 * time.Second):
		t.Fatal(failure)
	}
}

// listenForOneMessage points account's webhook at a receiver that
// accepts everything and expects the two events of one message.
func listenForOneMessage(t *testing.T, s *store.Store, account string) *receiver {
	t.Helper()
	secret := setWebhook(t, s, account, "")
	recv := newReceiver(t, secret, 2, func(string, int) int { return 0 })
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	setWebhook(t, s, account, srv.URL+"/hooks")
	return recv
}

// noRoom is a deliverer that takes nothing by hand-over.
type noRoom struct{ *webhook.Deliverer }

func (noRoom) Room() int { return 0 }

// stuckNextDue is a store whose read of the next due time hangs until it
// is given up, as one with a bad plan on a big table did for seconds.
type stuckNextDue struct {
	*store.Store
	asked chan struct{}
}

func (q *stuckNextDue) NextWebhookDue(ctx context.Context) (time.Time, bool, error) {
	select {
	case q.asked <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return time.Time{}, false, ctx.Err()
}

// Events handed over while the idle deliverer reads when the next one is
// due are sent once that read is given up, not when it ends.
func TestHandedEventsDoNotWaitForAHungNextDueRead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		recv := listenForOneMessage(t, s, "acc_a")

		q := &stuckNextDue{Store: s, asked: make(chan struct{}, 1)}
		d := webhook.New(q, webhook.Options{Egress: loopback, PollInterval: time.Hour})
		s.HandOffWebhooks(d)
		defer s.HandOffWebhooks(nil)
		// Idle, and waiting for the read.
		deliverOnceIdle(t, s, d, q.asked, recv, "the handed-over events waited for the hung read")
	})
}
