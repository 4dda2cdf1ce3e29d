package webhook_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/outbox"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
	"github.com/smsrouter/smsrouter/core/webhook"
)

// seen is what a receiver got of one request.
type seen struct {
	method, requestURI, host, body string
	header                         http.Header
}

// A webhook request reaches the receiver as the deliverer's net/http
// client sent it: method, request line (escaped path and query as
// written), Host, the headers that matter and the body.
func TestRequestIsWhatNetHTTPSent(t *testing.T) {
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body bytes.Buffer
		_, _ = body.ReadFrom(r.Body)
		h := http.Header{}
		for _, k := range []string{"Content-Type", "User-Agent", "Content-Length", webhook.HeaderTimestamp, webhook.HeaderSignature,
			webhook.HeaderEventID, webhook.HeaderEventType} {
			h[k] = r.Header[k]
		}
		got <- seen{method: r.Method, requestURI: r.RequestURI, host: r.Host, body: body.String(), header: h}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	at := time.Unix(1_765_000_000, 0)
	d := webhook.New(nil, webhook.Options{Egress: loopback, Now: func() time.Time { return at }})
	const secret, payload = "whsec_test", `{"id":"evt_1","type":"message.sent","data":{"message_id":"msg_1"}}`
	// sentBefore sends the request as the deliverer did through net/http.
	sentBefore := func(t *testing.T, raw string) seen {
		req, err := http.NewRequest(http.MethodPost, raw, bytes.NewReader([]byte(payload)))
		if err != nil {
			t.Fatal(err)
		}
		ts := at.Unix()
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "smsrouter-webhook/1")
		req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(ts, 10))
		req.Header.Set(webhook.HeaderSignature, webhook.Sign(secret, ts, []byte(payload)))
		req.Header.Set(webhook.HeaderEventID, "evt_1")
		req.Header.Set(webhook.HeaderEventType, "message.sent")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return <-got
	}
	for _, tt := range []struct{ name, url string }{
		{"path", "http://127.0.0.1:%d/hooks"},
		{"query with escapes", "http://127.0.0.1:%d/hooks?token=a%%2Fb&x=1+2&y=%%20"},
		{"escaped path", "http://127.0.0.1:%d/a%%2Fb/c%%20d"},
		{"dot segments kept", "http://127.0.0.1:%d/p/../q/./r"},
		{"double slashes kept", "http://127.0.0.1:%d//double//slash/"},
		{"no path", "http://127.0.0.1:%d?x=1"},
		{"empty query", "http://127.0.0.1:%d/hooks?"},
		{"non-ASCII path and query", "http://127.0.0.1:%d/ünï/cödé?q=ü"},
		{"host name", "http://localhost:%d/hooks"},
		{"host name in capitals", "http://LocalHost:%d/hooks"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			raw := fmt.Sprintf(tt.url, port)
			want := sentBefore(t, raw)
			r := d.Try(context.Background(), outbox.Delivery{EventID: "evt_1", Type: "message.sent", URL: raw, Secret: secret, Payload: payload})
			if r.HTTPStatus != http.StatusNoContent || r.Error != "" {
				t.Fatalf("attempt: HTTP %d %q", r.HTTPStatus, r.Error)
			}
			if g := <-got; fmt.Sprint(g) != fmt.Sprint(want) {
				t.Errorf("receiver got\n%+v\nwant, as net/http sent it,\n%+v", g, want)
			}
		})
	}
}

// Stopping the deliverer ends the requests in flight at once, whatever the
// timeout: each is recorded as stopped, to be sent again as soon as a
// deliverer runs.
func TestStopEndsRequestsInFlight(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		arrived := make(chan struct{}, 2)
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			arrived <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer srv.Close()
		defer close(release)
		setWebhook(t, s, "acc_1", srv.URL+"/hooks")
		ids := sendMessages(t, s, "acc_1", 1)
		stop := run(t, webhook.New(s, webhook.Options{Egress: loopback, Timeout: time.Hour, PollInterval: 10 * time.Millisecond}))
		<-arrived
		start := time.Now()
		stop()
		if took := time.Since(start); took > 10*time.Second {
			t.Errorf("stopping took %s with a request in flight", took)
		}
		hooks, err := s.MessageWebhooks(context.Background(), "acc_1", ids[0])
		if err != nil {
			t.Fatal(err)
		}
		if len(hooks) == 0 || len(hooks[0].AttemptLog) != 1 || hooks[0].State != outbox.Pending ||
			hooks[0].AttemptLog[0].Error != "the server stopped during the request" {
			t.Errorf("webhooks %+v; want the first one pending, its attempt stopped", hooks)
		}
	})
}

// The deliverer keeps connections alive between requests to a receiver,
// and closes them when it stops.
func TestConnectionsKeptAliveUntilStop(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		var (
			mu             sync.Mutex
			opened, closed int
		)
		allClosed := make(chan struct{})
		rc := newReceiver(t, "", 20, func(string, int) int { return 0 })
		srv := httptest.NewUnstartedServer(rc)
		srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
			mu.Lock()
			defer mu.Unlock()
			switch state {
			case http.StateNew:
				opened++
			case http.StateClosed:
				if closed++; closed == opened {
					close(allClosed)
				}
			}
		}
		srv.Start()
		defer srv.Close()
		rc.secret = setWebhook(t, s, "acc_1", srv.URL+"/hooks")
		ids := sendMessages(t, s, "acc_1", 10)
		// One request at a time: each finds the connection of the last.
		stop := run(t, webhook.New(s, webhook.Options{Egress: loopback, Concurrency: 1, PollInterval: 10 * time.Millisecond}))
		rc.await(t)
		rc.checkOnceInOrder(t, ids)
		mu.Lock()
		if opened != 1 || closed != 0 {
			t.Errorf("%d requests opened %d connections, %d closed; want one kept open", rc.total, opened, closed)
		}
		mu.Unlock()
		stop()
		select {
		case <-allClosed:
		case <-time.After(10 * time.Second):
			t.Error("the deliverer stopped, and its connection stayed open")
		}
	})
}

// A URL that cannot be sent to fails its attempt with a reason that does
// not repeat the URL, whose query may carry the application's tokens.
func TestBadURLReasonHidesQuery(t *testing.T) {
	d := webhook.New(nil, webhook.Options{Egress: loopback})
	for _, tt := range []struct{ url, want string }{
		{"http://127.0.0.1:1/%zz?token=s3cret", `bad webhook URL: invalid URL escape "%zz"`},
		{"ftp://127.0.0.1:1/hooks?token=s3cret", `bad webhook URL: unsupported protocol scheme "ftp"`},
		{"http:///hooks?token=s3cret", "bad webhook URL: no host in request URL"},
	} {
		r := d.Try(context.Background(), outbox.Delivery{EventID: "evt_1", Type: "message.sent", URL: tt.url, Secret: "whsec_test", Payload: "{}"})
		if r.HTTPStatus != 0 || r.Error != tt.want {
			t.Errorf("%s: HTTP %d %q, want %q", tt.url, r.HTTPStatus, r.Error, tt.want)
		}
	}
}
