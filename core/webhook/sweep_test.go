package webhook_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/outbox"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
	"github.com/smsrouter/smsrouter/core/webhook"
)

// deadHandoff is the deliverer of a process that died: it takes every
// delivery handed over at its insert and never sends it.
type deadHandoff struct{ lease time.Duration }

func (deadHandoff) Room() int                                     { return 1000 }
func (deadHandoff) Holds(string, []uint64) bool                   { return false }
func (deadHandoff) Knows(string, message.Status) ([]uint64, bool) { return nil, false }
func (h deadHandoff) Lease() time.Duration                        { return h.lease }
func (deadHandoff) Receive(outbox.Handed)                         {}

// Deliveries handed over at their insert to a deliverer that died are in
// no queue index, so no claim finds them; a running deliverer's sweep
// makes them claimable once their lease has run out, and every event
// arrives once, in order.
func TestHandedOverEventsOfADeadDelivererArrive(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		const n = 5
		secret := setWebhook(t, s, "acc_a", "")
		recv := newReceiver(t, secret, 2*n, func(string, int) int { return 0 })
		srv := httptest.NewServer(recv)
		defer srv.Close()
		setWebhook(t, s, "acc_a", srv.URL+"/hooks")

		const lease = 500 * time.Millisecond
		s.HandOffWebhooks(deadHandoff{lease: lease})
		ids := sendMessages(t, s, "acc_a", n)
		s.HandOffWebhooks(nil)

		d := webhook.New(s, webhook.Options{Egress: loopback, PollInterval: 20 * time.Millisecond, Timeout: lease / 5, Lease: lease})
		stop := run(t, d)
		defer stop()
		recv.await(t)
		waitRecorded(t, s)
		recv.checkOnceInOrder(t, ids)
	})
}
