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
}

func (l *eventLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
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

// A message's message.delivered is ordered behind its message.sent from
// what the deliverer in this process knows when it was handed that
// message.sent (outbox.Holder.Knows): no read of pending events. When the deliverer does not know the message's events (its
// message.sent was written for claims) the store reads them, and the
// order holds the same.
func TestOrderFromWhatTheDelivererKnows(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := ctxT(t)
		log := &eventLog{got: map[string][]string{}, seen: make(chan struct{}, 16)}
		srv := httptest.NewServer(log)
		defer srv.Close()
		if _, _, err := s.SetWebhook(ctx, "acc_a", srv.URL+"/hooks", false); err != nil {
			t.Fatal(err)
		}
		d := webhook.New(s, webhook.Options{PollInterval: 20 * time.Millisecond,
			Egress: egress.New(egress.Options{Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})})
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- d.Run(runCtx) }()
		defer func() { stop(); <-done }()
		eventually(t, "the deliverer to run", func() bool { return d.Room() > 0 })
		await := func(n int) {
			for range n {
				select {
				case <-log.seen:
				case <-time.After(30 * time.Second):
					t.Fatal("timed out waiting for webhooks")
				}
			}
		}

		// Handed over: message.sent, then the receipt's message.delivered
		// without a read.
		s.HandOffWebhooks(d)
		defer s.HandOffWebhooks(nil)
		known := recordedSent(t, s)
		await(1)
		eventually(t, "message.sent to be recorded", func() bool { return delivered(t, s, known) == 1 })
		reads := store.OrderReads()
		deliverReport(t, s, known)
		await(1)
		if n := store.OrderReads() - reads; n != 0 {
			t.Errorf("the store read pending events %d times for a message the deliverer knew", n)
		}

		// message.sent written for claims (no hand-over then): the store
		// reads, and the order holds.
		s.HandOffWebhooks(nil)
		unknown := recordedSent(t, s)
		s.HandOffWebhooks(d)
		reads = store.OrderReads()
		deliverReport(t, s, unknown)
		await(2)
		if n := store.OrderReads() - reads; n != 1 {
			t.Errorf("the store read pending events %d times for a message the deliverer did not know, want 1", n)
		}
		want := []string{string(outbox.EventMessageSent), string(outbox.EventMessageDelivered)}
		for _, id := range []string{known, unknown} {
			if got := log.events(id); !slices.Equal(got, want) {
				t.Errorf("message %s: events %q, want %q", id, got, want)
			}
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
