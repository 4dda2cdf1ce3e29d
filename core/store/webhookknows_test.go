package store_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/egress"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/outbox"
	"github.com/smsrouter/smsrouter/core/recordid"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
	"github.com/smsrouter/smsrouter/core/webhook"
)

// eventLog is a webhook endpoint that accepts every event and keeps, per
// message, the event types in the order they came.
type eventLog struct {
	mu   sync.Mutex
	got  map[string][]string
	seen chan struct{}
	// hold, when set, keeps message.sent requests waiting until it is
	// closed; holding says one waits.
	hold    chan struct{}
	holding atomic.Bool
}

func (l *eventLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if l.hold != nil && r.Header.Get("X-Event-Type") == string(outbox.EventMessageSent) {
		l.holding.Store(true)
		<-l.hold
	}
	var ev struct {
		Type string `json:"type"`
		Data struct {
			MessageID string `json:"message_id"`
		} `json:"data"`
	}
	_ = json.Unmarshal(body, &ev)
	l.mu.Lock()
	l.got[ev.Data.MessageID] = append(l.got[ev.Data.MessageID], ev.Type)
	l.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
	l.seen <- struct{}{}
}

func (l *eventLog) events(id string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.got[id])
}

// startDeliverer runs a deliverer over q, handed what s writes through
// h(d) (d itself when h is nil), sending to a new eventLog.
func startDeliverer(t *testing.T, s *store.Store, q webhook.Queue, h func(*webhook.Deliverer) outbox.Handoff) (*webhook.Deliverer, *eventLog) {
	t.Helper()
	ctx := ctxT(t)
	log := &eventLog{got: map[string][]string{}, seen: make(chan struct{}, 16)}
	srv := httptest.NewServer(log)
	t.Cleanup(srv.Close)
	if _, _, err := s.SetWebhook(ctx, "acc_a", srv.URL+"/hooks", false); err != nil {
		t.Fatal(err)
	}
	d := webhook.New(q, webhook.Options{PollInterval: 20 * time.Millisecond,
		Egress: egress.New(egress.Options{Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	var handoff outbox.Handoff = d
	if h != nil {
		handoff = h(d)
	}
	s.HandOffWebhooks(handoff)
	t.Cleanup(func() {
		s.HandOffWebhooks(nil)
		stop()
		<-done
	})
	eventually(t, "the deliverer to run", func() bool { return d.Room() > 0 })
	return d, log
}

// await waits for n more events at the endpoint.
func (l *eventLog) await(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-l.seen:
		case <-time.After(30 * time.Second):
			t.Fatal("timed out waiting for webhooks")
		}
	}
}

// checkInOrder checks each message got message.sent, then
// message.delivered.
func (l *eventLog) checkInOrder(t *testing.T, ids ...string) {
	t.Helper()
	want := []string{string(outbox.EventMessageSent), string(outbox.EventMessageDelivered)}
	for _, id := range ids {
		if got := l.events(id); !slices.Equal(got, want) {
			t.Errorf("message %s: events %q, want %q", id, got, want)
		}
	}
}

// A message's message.delivered is ordered behind its message.sent from
// what the deliverer in this process knows when it was handed that
// message.sent (outbox.Holder.Knows): no read of pending events. When the
// deliverer does not know the message's events (its message.sent was
// written for claims) the store reads them, and the order holds the same.
// Recording a handed-over event reads no next event when nothing of its
// message was left for claims.
func TestOrderFromWhatTheDelivererKnows(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		d, log := startDeliverer(t, s, s, nil)

		// Handed over: message.sent, then the receipt's message.delivered
		// without a read.
		orders, nexts := store.OrderReads(), store.NextReads()
		known := recordedSent(t, s)
		log.await(t, 1)
		eventually(t, "message.sent to be recorded", func() bool { return delivered(t, s, known) == 1 })
		deliverReport(t, s, known)
		log.await(t, 1)
		eventually(t, "message.delivered to be recorded", func() bool { return delivered(t, s, known) == 2 })
		if n := store.OrderReads() - orders; n != 0 {
			t.Errorf("the store read pending events %d times for a message the deliverer knew", n)
		}
		if n := store.NextReads() - nexts; n != 0 {
			t.Errorf("records read next events %d times, with nothing left for claims", n)
		}

		// message.sent written for claims (no hand-over then): the store
		// reads, and the order holds.
		s.HandOffWebhooks(nil)
		unknown := recordedSent(t, s)
		s.HandOffWebhooks(d)
		orders = store.OrderReads()
		deliverReport(t, s, unknown)
		log.await(t, 2)
		if n := store.OrderReads() - orders; n != 1 {
			t.Errorf("the store read pending events %d times for a message the deliverer did not know, want 1", n)
		}
		log.checkInOrder(t, known, unknown)
	})
}

// closable is a deliverer whose hand-over can be closed: Room 0.
type closable struct {
	*webhook.Deliverer
	closed atomic.Bool
}

func (c *closable) Room() int {
	if c.closed.Load() {
		return 0
	}
	return c.Deliverer.Room()
}

// claimTally is the store, counting the deliveries claims return.
type claimTally struct {
	*store.Store
	n atomic.Int64
}

func (q *claimTally) ClaimWebhooks(ctx context.Context, now time.Time, limit int, lease time.Duration, skip []string) ([]outbox.Delivery, error) {
	cs, err := q.Store.ClaimWebhooks(ctx, now, limit, lease, skip)
	q.n.Add(int64(len(cs)))
	return cs, err
}

// A message.delivered left for claims while its message.sent is in
// flight in this process goes with the record of message.sent (leased in
// the same transaction), not by a claim: the record asks for it because
// the deliverer was told it was left behind (outbox.Handed.LeftMessages).
func TestEventLeftForClaimsFollowsTheRecordOfItsOlder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		q := &claimTally{Store: s}
		gate := &closable{}
		_, log := startDeliverer(t, s, q, func(d *webhook.Deliverer) outbox.Handoff {
			gate.Deliverer = d
			return gate
		})
		log.hold = make(chan struct{})
		id := recordedSent(t, s)
		eventually(t, "message.sent to reach the endpoint", func() bool { return log.holding.Load() })
		gate.closed.Store(true)
		nexts := store.NextReads()
		deliverReport(t, s, id)
		close(log.hold)
		log.await(t, 2)
		log.checkInOrder(t, id)
		if n := store.NextReads() - nexts; n == 0 {
			t.Error("the record of message.sent did not look for message.delivered")
		}
		if n := q.n.Load(); n != 0 {
			t.Errorf("claims took %d deliveries, want message.delivered leased with the record of message.sent", n)
		}
	})
}

// recordedSent stores a message and records it sent by provider "a".
func recordedSent(t *testing.T, s *store.Store) string {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	m := &store.Message{ID: recordid.New("msg_"), AccountID: "acc_a", Recipient: "+959123456789", Text: "hi",
		Encoding: "gsm7", Segments: 1, Kind: "sms", Status: "queued", Plan: `["a"]`, NextAttemptAt: now,
		ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
	if err := storetest.InsertMessages(ctx, s, []*store.Message{m}); err != nil {
		t.Fatal(err)
	}
	if claimed, err := s.ClaimDue(ctx, now.Add(time.Second), 1, time.Minute); err != nil || len(claimed) != 1 {
		t.Fatalf("claimed %d messages: %v", len(claimed), err)
	}
	err := s.RecordAttempts(ctx, []message.Attempt{{MessageID: m.ID, Provider: "a", Status: message.Sent, ProviderMessageID: "p-" + m.ID, At: now}})
	if err != nil {
		t.Fatal(err)
	}
	return m.ID
}

// deliverReport stores provider "a"'s delivered report of the message.
func deliverReport(t *testing.T, s *store.Store, id string) {
	t.Helper()
	ev := message.Event{ID: "dlr-" + id, Report: &message.Report{ProviderMessageID: "p-" + id, Status: message.Delivered, At: time.Now()}}
	if err := s.StoreEvents(context.Background(), "a", []message.Event{ev}); err != nil {
		t.Fatal(err)
	}
}

// delivered counts the message's deliveries recorded delivered.
func delivered(t *testing.T, s *store.Store, id string) int64 {
	return count(t, s, &store.WebhookDelivery{}, "message_id = ? AND state = ?", id, store.WebhookDelivered)
}
