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
		secret := setWebhook(t, s, "acc_a", "")
		recv := newReceiver(t, secret, 2, func(string, int) int { return 0 })
		srv := httptest.NewServer(recv)
		defer srv.Close()
		setWebhook(t, s, "acc_a", srv.URL+"/hooks")

		q := &idleSignal{Store: s, idle: make(chan struct{}, 1)}
		d := webhook.New(q, webhook.Options{Egress: loopback, PollInterval: time.Hour})
		// Nothing handed over: the events are left for claims, and the
		// transactions that wrote them wake the deliverer.
		s.HandOffWebhooks(noRoom{d})
		defer s.HandOffWebhooks(nil)
		stop := run(t, d)
		defer stop()
		select {
		case <-q.idle: // found nothing to send: asleep until woken or an hour
		case <-time.After(30 * time.Second):
			t.Fatal("the deliverer never went idle")
		}

		// message.sent (RecordAttempts) and message.delivered (StoreEvents).
		sendMessages(t, s, "acc_a", 1)
		select {
		case <-recv.all:
		case <-time.After(30 * time.Second):
			t.Fatal("the events were not sent: the deliverer was not woken")
		}
	})
}

// noRoom is a deliverer that takes nothing by hand-over.
type noRoom struct{ *webhook.Deliverer }

func (noRoom) Room() int { return 0 }
