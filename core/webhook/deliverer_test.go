package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smsrouter/smsrouter/core/egress"
	"github.com/smsrouter/smsrouter/core/message"
	"github.com/smsrouter/smsrouter/core/outbox"
	"github.com/smsrouter/smsrouter/core/recordid"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
	"github.com/smsrouter/smsrouter/core/webhook"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// loopback is the policy of these tests' deliverers: their receivers are
// httptest servers on 127.0.0.1, which the default policy refuses.
var loopback = egress.New(egress.Options{Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})

// noAnswer300ms is what an attempt without an HTTP answer records with a
// timeout of 300ms, whatever the reason.
const noAnswer300ms = "no answer: the connection failed, was closed, or no answer came within 300ms"

// receiver is an application's webhook endpoint that checks signatures and
// remembers, per message, the events it accepted (answered 2xx), in order.
type receiver struct {
	t      *testing.T
	secret string
	// tolerance is how far X-Timestamp may be from now (5 minutes unless
	// the sender's clock is a test's).
	tolerance time.Duration
	// fail decides how to treat the n-th request (from 1) for an event:
	// an HTTP status to answer, or 0 to accept it, or -1 to hang until the
	// sender gives up.
	fail func(eventType string, n int) int

	mu       sync.Mutex
	requests map[string]int      // event id → requests seen
	accepted map[string][]string // message id → accepted event types, in order
	events   map[string]int      // event id → times accepted
	total    int
	want     int
	all      chan struct{}
}

func newReceiver(t *testing.T, secret string, want int, fail func(string, int) int) *receiver {
	return &receiver{t: t, secret: secret, tolerance: 5 * time.Minute, fail: fail, want: want, requests: map[string]int{},
		accepted: map[string][]string{}, events: map[string]int{}, all: make(chan struct{})}
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if err := webhook.Verify(rc.secret, r.Header.Get("X-Signature"), r.Header.Get("X-Timestamp"), body, rc.tolerance, time.Now()); err != nil {
		rc.t.Errorf("event %s: %v", r.Header.Get("X-Event-Id"), err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var ev struct {
		ID   string `json:"id"`
		Type string `json:"type"`
		Data struct {
			MessageID string `json:"message_id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		rc.t.Errorf("body %q: %v", body, err)
		return
	}
	if ev.ID != r.Header.Get("X-Event-Id") || ev.Type != r.Header.Get("X-Event-Type") ||
		r.Header.Get("Content-Type") != "application/json" || !strings.HasPrefix(r.UserAgent(), "smsrouter") {
		rc.t.Errorf("headers %v do not match body %s", r.Header, body)
	}
	rc.mu.Lock()
	rc.requests[ev.ID]++
	n := rc.requests[ev.ID]
	rc.mu.Unlock()
	switch code := rc.fail(ev.Type, n); {
	case code < 0:
		<-r.Context().Done()
		return
	case code > 0:
		http.Error(w, "not now", code)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.events[ev.ID]++
	rc.accepted[ev.Data.MessageID] = append(rc.accepted[ev.Data.MessageID], ev.Type)
	if rc.total++; rc.total == rc.want {
		close(rc.all)
	}
	w.WriteHeader(http.StatusNoContent)
}

// sendMessages stores n messages of account, sent and then delivered, so
// that each has message.sent and message.delivered waiting in the outbox.
func sendMessages(t *testing.T, s *store.Store, account string, n int) []string {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	msgs := make([]*store.Message, n)
	ids := make([]string, n)
	for i := range msgs {
		msgs[i] = &store.Message{ID: recordid.New("msg_"), AccountID: account, Recipient: "+959123456789", Text: "hi",
			Encoding: "gsm7", Segments: 1, Kind: "sms", Status: "queued", Plan: `["a"]`, NextAttemptAt: now,
			ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
		ids[i] = msgs[i].ID
	}
	if err := storetest.InsertMessages(ctx, s, msgs); err != nil {
		t.Fatal(err)
	}
	claimed, err := s.ClaimDue(ctx, now.Add(time.Second), n, time.Minute)
	if err != nil || len(claimed) != n {
		t.Fatalf("claimed %d of %d messages: %v", len(claimed), n, err)
	}
	results := make([]message.Attempt, n)
	events := make([]message.Event, n)
	for i, id := range ids {
		results[i] = message.Attempt{MessageID: id, Provider: "a", Status: message.Sent, ProviderMessageID: "p-" + id, At: now}
		events[i] = message.Event{ID: "dlr-" + id, Report: &message.Report{ProviderMessageID: "p-" + id, Status: message.Delivered, At: now}}
	}
	if err := s.RecordAttempts(ctx, results); err != nil {
		t.Fatal(err)
	}
	if err := s.StoreEvents(ctx, "a", events); err != nil {
		t.Fatal(err)
	}
	return ids
}

func setWebhook(t *testing.T, s *store.Store, account, url string) string {
	t.Helper()
	_, secret, err := s.SetWebhook(context.Background(), account, url, false)
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// run starts d and returns a function that stops it and waits for it.
func run(t *testing.T, d *webhook.Deliverer) func() {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// waitFor polls the store until cond holds; the deliverer's progress is
// only visible there.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// await waits until the receiver accepted as many events as it wants.
func (rc *receiver) await(t *testing.T) {
	t.Helper()
	select {
	case <-rc.all:
	case <-time.After(60 * time.Second):
		rc.mu.Lock()
		defer rc.mu.Unlock()
		t.Fatalf("receiver got %d of %d events", rc.total, rc.want)
	}
}

// checkOnceInOrder checks that the receiver accepted every event once and,
// for each message of ids, message.sent then message.delivered.
func (rc *receiver) checkOnceInOrder(t *testing.T, ids []string) {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for id, n := range rc.events {
		if n != 1 {
			t.Errorf("event %s accepted %d times", id, n)
		}
	}
	for _, id := range ids {
		if got := rc.accepted[id]; !slices.Equal(got, []string{string(outbox.EventMessageSent), string(outbox.EventMessageDelivered)}) {
			t.Errorf("message %s: events %q, want sent then delivered", id, got)
		}
	}
}

// waitRecorded waits until every delivery in the store is recorded
// delivered.
func waitRecorded(t *testing.T, s *store.Store) {
	t.Helper()
	waitFor(t, "every delivery to be recorded", func() bool {
		var n int64
		s.DB().Model(&store.WebhookDelivery{}).Where("state <> ?", store.WebhookDelivered).Count(&n)
		return n == 0
	})
}

func attempts(t *testing.T, s *store.Store) []store.WebhookAttempt {
	t.Helper()
	var out []store.WebhookAttempt
	if err := s.DB().Order("id").Find(&out).Error; err != nil {
		t.Fatal(err)
	}
	return out
}

// Through refused connections, 500s and a receiver too slow to answer,
// every event arrives exactly once, signed, and in order per message.
func TestEveryEventArrivesOnceInOrder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		const nA, nB = 30, 5
		secretA := setWebhook(t, s, "acc_a", "")
		// Account a's receiver refuses each event's first request with a
		// 500; message.delivered events also time out on their second.
		recvA := newReceiver(t, secretA, 2*nA, func(typ string, n int) int {
			switch {
			case n == 1:
				return http.StatusInternalServerError
			case n == 2 && typ == string(outbox.EventMessageDelivered):
				return -1
			}
			return 0
		})
		srvA := httptest.NewServer(recvA)
		defer srvA.Close()
		setWebhook(t, s, "acc_a", srvA.URL+"/hooks")

		// Account b's receiver is not listening yet: connection refused.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrB := l.Addr().String()
		l.Close()
		secretB := setWebhook(t, s, "acc_b", "http://"+addrB+"/hooks")
		recvB := newReceiver(t, secretB, 2*nB, func(string, int) int { return 0 })

		idsA := sendMessages(t, s, "acc_a", nA)
		idsB := sendMessages(t, s, "acc_b", nB)

		d := webhook.New(s, webhook.Options{Egress: loopback, Timeout: 300 * time.Millisecond, Concurrency: 8, PerAccount: 4,
			BatchSize: 5, PollInterval: 20 * time.Millisecond, Backoff: func(int) time.Duration { return time.Millisecond }})
		stop := run(t, d)

		waitFor(t, "a refused connection to be recorded", func() bool {
			for _, a := range attempts(t, s) {
				if a.Error == noAnswer300ms {
					return true
				}
			}
			return false
		})
		lb, err := net.Listen("tcp", addrB)
		if err != nil {
			t.Fatalf("listen again on %s: %v", addrB, err)
		}
		srvB := &httptest.Server{Listener: lb, Config: &http.Server{Handler: recvB}}
		srvB.Start()
		defer srvB.Close()

		recvA.await(t)
		recvB.await(t)
		waitRecorded(t, s)
		stop()
		recvA.checkOnceInOrder(t, idsA)
		recvB.checkOnceInOrder(t, idsB)

		var saw500, sawTimeout bool
		for _, a := range attempts(t, s) {
			// A 5xx answer's body is not shown: it may be an internal
			// service's page.
			saw500 = saw500 || a.HTTPStatus == 500 && a.Error == "HTTP 500"
			// A receiver too slow reads as a refused connection does.
			sawTimeout = sawTimeout || a.HTTPStatus == 0 && a.Error == noAnswer300ms
		}
		if !saw500 || !sawTimeout {
			t.Errorf("attempts recorded a 500: %v, a timeout: %v; want both", saw500, sawTimeout)
		}
		hooks, err := s.MessageWebhooks(context.Background(), "acc_a", idsA[0])
		if err != nil {
			t.Fatal(err)
		}
		if len(hooks) != 2 || len(hooks[0].AttemptLog) != 2 || len(hooks[1].AttemptLog) != 3 {
			t.Errorf("message %s deliveries %+v, want message.sent after 2 attempts and message.delivered after 3", idsA[0], hooks)
		}
	})
}

// A delivery whose deadline passes is given up, and its message's next
// event goes out after it.
func TestGiveUpAfterMaxAge(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		secret := setWebhook(t, s, "acc_a", "")
		rc := newReceiver(t, secret, 1, func(typ string, _ int) int {
			if typ == string(outbox.EventMessageSent) {
				return http.StatusServiceUnavailable
			}
			return 0
		})
		rc.tolerance = 1000 * time.Hour
		srv := httptest.NewServer(rc)
		defer srv.Close()
		setWebhook(t, s, "acc_a", srv.URL)
		ids := sendMessages(t, s, "acc_a", 1)

		// The clock runs an hour ahead at every reading: each retry is due
		// at once, and the day runs out after 24 readings.
		var (
			mu    sync.Mutex
			clock = time.Now()
		)
		now := func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			clock = clock.Add(time.Hour)
			return clock
		}
		var backoffs []int
		// The lease outlasts every reading of the test: with the default
		// (under a minute), a poll while a request was slow read its lease
		// as run out, hours later, and claimed the delivery again, so that
		// two attempts ran at once and backoffs came out of order.
		d := webhook.New(s, webhook.Options{Egress: loopback, Now: now, PollInterval: 10 * time.Millisecond, Lease: 100_000 * time.Hour,
			Backoff: func(n int) time.Duration {
				mu.Lock()
				backoffs = append(backoffs, n)
				mu.Unlock()
				return time.Minute
			}})
		stop := run(t, d)
		select {
		case <-rc.all:
		case <-time.After(30 * time.Second):
			t.Fatal("message.delivered never arrived")
		}
		stop()
		hooks, err := s.MessageWebhooks(context.Background(), "acc_a", ids[0])
		if err != nil {
			t.Fatal(err)
		}
		if len(hooks) != 2 || hooks[0].State != outbox.GaveUp || hooks[0].GaveUpAt == nil || hooks[0].LastStatus != 503 {
			t.Fatalf("deliveries %+v, want message.sent given up after 503s", hooks)
		}
		if n := len(hooks[0].AttemptLog); n < 2 || n > 30 {
			t.Errorf("message.sent tried %d times in a day of hours", n)
		}
		if got := rc.accepted[ids[0]]; !slices.Equal(got, []string{string(outbox.EventMessageDelivered)}) {
			t.Errorf("accepted %q, want message.delivered alone", got)
		}
		for i, n := range backoffs {
			if n != i+1 {
				t.Fatalf("backoff asked for failures %v, want 1, 2, 3...", backoffs)
			}
		}
	})
}

// An account that removed its webhook gets nothing, at once.
func TestRemovedWebhookIsGivenUp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		setWebhook(t, s, "acc_a", "http://127.0.0.1:1/never")
		ids := sendMessages(t, s, "acc_a", 2)
		if err := s.DeleteWebhook(context.Background(), "acc_a"); err != nil {
			t.Fatal(err)
		}
		stop := run(t, webhook.New(s, webhook.Options{PollInterval: 10 * time.Millisecond}))
		waitFor(t, "the deliveries to be given up", func() bool {
			var n int64
			s.DB().Model(&store.WebhookDelivery{}).Where("state = ?", store.WebhookGaveUp).Count(&n)
			return n == 4
		})
		stop()
		hooks, err := s.MessageWebhooks(context.Background(), "acc_a", ids[1])
		if err != nil {
			t.Fatal(err)
		}
		if len(hooks) != 2 || !strings.Contains(hooks[1].LastError, "no webhook configured") {
			t.Errorf("deliveries %+v, want both given up for want of a webhook", hooks)
		}
	})
}

func TestSignAndVerify(t *testing.T) {
	body := []byte(`{"id":"evt_1"}`)
	now := time.Unix(1700000000, 0)
	sig := webhook.Sign("whsec_test", now.Unix(), body)
	// Computed independently: printf '1700000000.{"id":"evt_1"}' | openssl dgst -sha256 -hmac whsec_test
	if want := "c89214b5b5da833daed6f0b8c5bb6bd58cea9022bd80ccc78230f3942d632925"; sig != want {
		t.Fatalf("Sign = %s, want %s", sig, want)
	}
	tests := []struct {
		name           string
		secret, sig    string
		ts             string
		body           []byte
		at             time.Time
		wantErr, wantB bool
	}{
		{name: "good", secret: "whsec_test", sig: sig, ts: "1700000000", body: body, at: now},
		{name: "other secret", secret: "whsec_other", sig: sig, ts: "1700000000", body: body, at: now, wantErr: true, wantB: true},
		{name: "changed body", secret: "whsec_test", sig: sig, ts: "1700000000", body: []byte(`{"id":"evt_2"}`), at: now, wantErr: true, wantB: true},
		{name: "changed timestamp", secret: "whsec_test", sig: sig, ts: "1700000001", body: body, at: now, wantErr: true, wantB: true},
		{name: "replayed late", secret: "whsec_test", sig: sig, ts: "1700000000", body: body, at: now.Add(10 * time.Minute), wantErr: true},
		{name: "no timestamp", secret: "whsec_test", sig: sig, ts: "", body: body, at: now, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := webhook.Verify(tt.secret, tt.sig, tt.ts, tt.body, 5*time.Minute, tt.at)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Verify = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantB != errors.Is(err, webhook.ErrBadSignature) {
				t.Errorf("Verify = %v, want ErrBadSignature %v", err, tt.wantB)
			}
		})
	}
}

// claimCounter is the store, counting the deliveries claims return.
type claimCounter struct {
	*store.Store
	mu      sync.Mutex
	claimed int
}

func (q *claimCounter) ClaimWebhooks(ctx context.Context, now time.Time, limit int, lease time.Duration, skip []string) ([]outbox.Delivery, error) {
	cs, err := q.Store.ClaimWebhooks(ctx, now, limit, lease, skip)
	q.mu.Lock()
	q.claimed += len(cs)
	q.mu.Unlock()
	return cs, err
}

// Events written while the deliverer runs are handed to it in the insert:
// none needs a claim when every request succeeds, and when each
// message.sent is refused once, the message.delivered waiting behind it
// goes back and still arrives after it, exactly once.
func TestHandedOverEventsArriveOnceInOrder(t *testing.T) {
	for _, tc := range []struct {
		name       string
		fail       func(string, int) int
		wantClaims bool
	}{
		{name: "all accepted", fail: func(string, int) int { return 0 }},
		{name: "message.sent refused once", fail: func(typ string, n int) int {
			if typ == string(outbox.EventMessageSent) && n == 1 {
				return http.StatusServiceUnavailable
			}
			return 0
		}, wantClaims: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, s *store.Store) {
				const rounds, perRound = 4, 10
				secret := setWebhook(t, s, "acc_a", "")
				recv := newReceiver(t, secret, 2*rounds*perRound, tc.fail)
				srv := httptest.NewServer(recv)
				defer srv.Close()
				setWebhook(t, s, "acc_a", srv.URL+"/hooks")

				q := &claimCounter{Store: s}
				// Room for every event of a round: past it events are left to
				// claims, by design.
				d := webhook.New(q, webhook.Options{Egress: loopback, Concurrency: 8, PerAccount: 4, BatchSize: 100,
					PollInterval: 20 * time.Millisecond, Backoff: func(int) time.Duration { return time.Millisecond }})
				s.HandOffWebhooks(d)
				defer s.HandOffWebhooks(nil)
				stop := run(t, d)
				waitFor(t, "the deliverer to take hand-overs", func() bool { return d.Room() > 0 })

				// Rounds of messages while earlier rounds' events are being
				// delivered.
				var ids []string
				for range rounds {
					ids = append(ids, sendMessages(t, s, "acc_a", perRound)...)
				}
				recv.await(t)
				waitRecorded(t, s)
				stop()
				recv.checkOnceInOrder(t, ids)
				if !tc.wantClaims && q.claimed != 0 {
					t.Errorf("claims took %d deliveries, want every one handed over", q.claimed)
				}
				if tc.wantClaims && q.claimed == 0 {
					t.Errorf("no delivery was claimed, want the retries claimed")
				}
			})
		})
	}
}
