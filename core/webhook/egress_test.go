package webhook_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/egress"
	"github.com/smsrouter/smsrouter/core/outbox"
	"github.com/smsrouter/smsrouter/core/store"
	"github.com/smsrouter/smsrouter/core/store/storetest"
	"github.com/smsrouter/smsrouter/core/webhook"
)

// resolver answers from a table, like a DNS server the test controls.
type resolver map[string][]netip.Addr

func (r resolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if addrs, ok := r[host]; ok {
		return addrs, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// firstAttempt runs a deliverer over s until the account's first event
// has an attempt recorded, and returns the event's delivery.
func firstAttempt(t *testing.T, s *store.Store, account string, o webhook.Options) outbox.Logged {
	t.Helper()
	ids := sendMessages(t, s, account, 1)
	o.PollInterval = 10 * time.Millisecond
	o.Backoff = func(int) time.Duration { return time.Hour }
	stop := run(t, webhook.New(s, o))
	defer stop()
	var first outbox.Logged
	waitFor(t, "the first attempt of "+account+" to be recorded", func() bool {
		hooks, err := s.MessageWebhooks(context.Background(), account, ids[0])
		if err != nil {
			t.Fatal(err)
		}
		if len(hooks) > 0 && len(hooks[0].AttemptLog) > 0 {
			first = hooks[0]
			return true
		}
		return false
	})
	return first
}

// Webhooks connect only where the egress policy allows, whatever the URL
// stored says: a host that resolves to loopback when dialled, and URLs
// stored before registrations were checked, reach nothing; an allowed
// network is delivered to.
func TestDeliveryKeepsToEgressPolicy(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		var requests atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			requests.Add(1)
			w.WriteHeader(http.StatusNoContent)
		}))
		defer srv.Close()
		port := srv.Listener.Addr().(*net.TCPAddr).Port
		names := resolver{"rebind.test": {netip.MustParseAddr("127.0.0.1")}, "app.test": {netip.MustParseAddr("127.0.0.1")}}
		resolving := egress.New(egress.Options{Resolver: names})
		tests := []struct {
			name      string
			host      string
			policy    *egress.Policy
			delivered bool
		}{
			{"name resolving to loopback", "rebind.test", resolving, false},
			{"localhost", "localhost", nil, false},
			{"loopback", "127.0.0.1", nil, false},
			{"decimal loopback", "2130706433", nil, false},
			{"hex loopback", "0x7f000001", nil, false},
			{"IPv4-mapped loopback", "[::ffff:127.0.0.1]", nil, false},
			{"allowed network", "app.test", egress.New(egress.Options{Resolver: names,
				Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}), true},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				account := fmt.Sprintf("acc_%d", i)
				setWebhook(t, s, account, fmt.Sprintf("http://%s/hooks", net.JoinHostPort(strings.Trim(tt.host, "[]"), fmt.Sprint(port))))
				before := requests.Load()
				got := firstAttempt(t, s, account, webhook.Options{Egress: tt.policy})
				a := got.AttemptLog[0]
				if tt.delivered {
					if got.State != outbox.Delivered || requests.Load() == before {
						t.Errorf("delivery %s, receiver saw %d requests; want delivered", got.State, requests.Load()-before)
					}
					return
				}
				if n := requests.Load() - before; n != 0 {
					t.Errorf("the receiver saw %d requests, want none", n)
				}
				if got.State != outbox.Pending || a.HTTPStatus != 0 || !strings.HasPrefix(a.Error, "refused: the URL's host resolves to no address webhooks may go to") {
					t.Errorf("delivery %s, attempt %+v; want a pending retry after a refusal by the policy", got.State, a)
				}
			})
		}
	})
}

// An attempt shows the application the status of every answer, a short
// excerpt of 4xx answers only, and one text for every failure to get an
// answer: a closed port, a receiver that accepts and never answers, and
// one that hangs up read alike.
func TestAttemptErrorsShowNoInternals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		answer := func(code int, body string) string {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/hooks" {
					t.Errorf("a redirect was followed to %s", r.URL.Path)
				}
				if code/100 == 3 {
					w.Header().Set("Location", "/elsewhere")
				}
				w.WriteHeader(code)
				fmt.Fprint(w, body)
			}))
			t.Cleanup(srv.Close)
			return srv.URL + "/hooks"
		}
		// chunked answers without a Content-Length.
		chunked := func(code int, body string) string {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(code)
				w.(http.Flusher).Flush()
				fmt.Fprint(w, body)
			}))
			t.Cleanup(srv.Close)
			return srv.URL + "/hooks"
		}
		// untrusted answers over TLS with a certificate no root signed.
		untrusted := func() string {
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				t.Error("a request went over TLS to a receiver whose certificate no root signed")
			}))
			srv.Config.ErrorLog = log.New(io.Discard, "", 0)
			t.Cleanup(srv.Close)
			return srv.URL + "/hooks"
		}
		long := strings.Repeat("y", 100<<10)
		closedPort := func() string {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			return "http://" + l.Addr().String() + "/hooks"
		}
		// silent accepts connections and, when hangUp, closes them at
		// once; otherwise it holds them until the test ends.
		silent := func(hangUp bool) string {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var (
				mu    sync.Mutex
				conns []net.Conn
				wg    sync.WaitGroup
			)
			wg.Go(func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					if hangUp {
						c.Close()
						continue
					}
					mu.Lock()
					conns = append(conns, c)
					mu.Unlock()
				}
			})
			t.Cleanup(func() {
				l.Close()
				wg.Wait()
				for _, c := range conns {
					c.Close()
				}
			})
			return "http://" + l.Addr().String() + "/hooks"
		}
		tests := []struct {
			name      string
			url       string
			status    int
			wantError string
		}{
			{"5xx body hidden", answer(500, "pq: password authentication failed for user admin"), 500, "HTTP 500"},
			{"503 body hidden", answer(503, "<html>internal dashboard</html>"), 503, "HTTP 503"},
			{"4xx excerpt shown", answer(404, "no such hook\n  try /v2/hooks"), 404, "HTTP 404: no such hook try /v2/hooks"},
			{"4xx excerpt cut", answer(400, strings.Repeat("x", 300)), 400, "HTTP 400: " + strings.Repeat("x", 200) + "…"},
			{"redirect not followed", answer(302, "moved"), 302, "HTTP 302: redirects are not followed; set the URL they lead to"},
			{"permanent redirect not followed", answer(308, "moved"), 308, "HTTP 308: redirects are not followed; set the URL they lead to"},
			{"2xx longer than drained", answer(200, long), 200, ""},
			{"4xx excerpt of an answer longer than drained", answer(404, long), 404, "HTTP 404: " + strings.Repeat("y", 200) + "…"},
			{"chunked 4xx excerpt", chunked(422, "bad event\n"), 422, "HTTP 422: bad event"},
			{"chunked 4xx excerpt of an answer longer than drained", chunked(400, long), 400, "HTTP 400: " + strings.Repeat("y", 200) + "…"},
			{"chunked 5xx longer than drained", chunked(502, long), 502, "HTTP 502"},
			{"untrusted certificate", untrusted(), 0, noAnswer300ms},
			{"closed port", closedPort(), 0, noAnswer300ms},
			{"no answer", silent(false), 0, noAnswer300ms},
			{"hang up", silent(true), 0, noAnswer300ms},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				account := fmt.Sprintf("acc_%d", i)
				setWebhook(t, s, account, tt.url)
				got := firstAttempt(t, s, account, webhook.Options{Egress: loopback, Timeout: 300 * time.Millisecond})
				if a := got.AttemptLog[0]; a.HTTPStatus != tt.status || a.Error != tt.wantError {
					t.Errorf("attempt: HTTP %d %q, want HTTP %d %q", a.HTTPStatus, a.Error, tt.status, tt.wantError)
				}
			})
		}
	})
}
