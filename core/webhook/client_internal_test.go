package webhook

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/egress"
	"github.com/smsrouter/smsrouter/core/outbox"
)

var loopbackOnly = egress.New(egress.Options{Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})

// connCounter counts a server's connections opened and closed, and
// signals when as many closed as it waits for.
type connCounter struct {
	mu             sync.Mutex
	opened, closed int
	want           int
	reached        chan struct{}
}

func (c *connCounter) track(_ net.Conn, state http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch state {
	case http.StateNew:
		c.opened++
	case http.StateClosed:
		if c.closed++; c.closed == c.want {
			close(c.reached)
		}
	}
}

func (c *connCounter) counts() (int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.opened, c.closed
}

func (c *connCounter) awaitClosed(t *testing.T, n int) {
	t.Helper()
	c.mu.Lock()
	c.want, c.reached = n, make(chan struct{})
	if c.closed >= n {
		close(c.reached)
	}
	c.mu.Unlock()
	select {
	case <-c.reached:
	case <-time.After(10 * time.Second):
		opened, closed := c.counts()
		t.Fatalf("%d of %d connections closed, want %d", closed, opened, n)
	}
}

func counted(tls bool, h http.Handler) (*httptest.Server, *connCounter) {
	cc := &connCounter{}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = cc.track
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	return srv, cc
}

func hook(url string) outbox.Delivery {
	return outbox.Delivery{EventID: "evt_1", Type: "message.sent", URL: url, Secret: "whsec_test", Payload: `{"id":"evt_1"}`}
}

// A connection the receiver closed while it waited for the next request
// does not fail that request: it goes again on a new connection.
func TestClosedIdleConnectionIsReplaced(t *testing.T) {
	srv, cc := counted(false, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer srv.Close()
	d := New(nil, Options{Egress: loopbackOnly, Timeout: 5 * time.Second})
	cl := d.newClient()
	defer cl.close()
	for i := range 3 {
		if status, reason, err := d.post(context.Background(), cl, hook(srv.URL+"/hooks")); status != http.StatusNoContent {
			t.Fatalf("request %d: HTTP %d %q %v", i, status, reason, err)
		}
		if i == 0 {
			// The receiver closes its idle connections (a restart, an
			// idle timeout shorter than the sender's).
			srv.CloseClientConnections()
			cc.awaitClosed(t, 1)
		}
	}
	if opened, _ := cc.counts(); opened != 2 {
		t.Errorf("%d connections opened, want 2", opened)
	}
}

// Idle connections are capped per receiver and in all; the ones past the
// caps close as their requests end.
func TestIdleConnectionsCapped(t *testing.T) {
	const inFlight = 4
	var arrived sync.WaitGroup
	srv, cc := counted(false, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		// Every request waits for the others, so that each has a
		// connection of its own.
		arrived.Done()
		arrived.Wait()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	tests := []struct {
		name             string
		perHost, maxIdle int
		kept             int
	}{
		{"per receiver", 1, 8, 1},
		{"in all", 8, 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, closedBefore := cc.counts()
			arrived.Add(inFlight)
			d := New(nil, Options{Egress: loopbackOnly, Timeout: 5 * time.Second})
			cl := newClient(loopbackOnly, tt.perHost, tt.maxIdle)
			var wg sync.WaitGroup
			for range inFlight {
				wg.Go(func() {
					if status, reason, err := d.post(context.Background(), cl, hook(srv.URL+"/hooks")); status != http.StatusNoContent {
						t.Errorf("HTTP %d %q %v", status, reason, err)
					}
				})
			}
			wg.Wait()
			cc.awaitClosed(t, closedBefore+inFlight-tt.kept)
			cl.mu.Lock()
			idle := cl.nIdle
			cl.mu.Unlock()
			if idle != tt.kept {
				t.Errorf("%d connections kept idle, want %d", idle, tt.kept)
			}
			cl.close()
			cc.awaitClosed(t, closedBefore+inFlight)
		})
	}
}

// HTTPS receivers are reached over TLS with their certificate checked
// against the roots: one the roots sign is delivered to, over a
// connection kept alive.
func TestTLSReceiver(t *testing.T) {
	srv, cc := counted(true, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			t.Error("request without TLS")
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	d := New(nil, Options{Egress: loopbackOnly, Timeout: 5 * time.Second})
	cl := d.newClient()
	cl.tlsConfig = &tls.Config{RootCAs: roots}
	defer cl.close()
	for i := range 2 {
		if status, reason, err := d.post(context.Background(), cl, hook(srv.URL+"/hooks")); status != http.StatusNoContent {
			t.Fatalf("request %d: HTTP %d %q %v", i, status, reason, err)
		}
	}
	if opened, _ := cc.counts(); opened != 1 {
		t.Errorf("%d connections opened, want 1", opened)
	}
}
