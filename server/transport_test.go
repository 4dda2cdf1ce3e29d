package server_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/server"
)

const transportRoutes = `
provider "sandbox" {
  plugin = "sandbox"
}
route "default" {
  default    = true
  candidates = ["sandbox"]
}
`

// serveTransport serves h on a loopback port as a server block with the
// given attributes makes serve do, and returns the address.
func serveTransport(t *testing.T, block string, h http.Handler) (string, *server.HTTP) {
	t.Helper()
	cfg, err := config.Parse([]byte("server {\n"+block+"\n}\n"+transportRoutes), "transport.hcl",
		config.Options{BuiltinKinds: []string{"sandbox"}})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.NewHTTP(h, cfg.Server.Transport, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String(), srv
}

// readUntilClosed reads what the server sends until it closes the
// connection, and says whether it did before the failsafe deadline.
func readUntilClosed(t *testing.T, c net.Conn, failsafe time.Duration) (string, bool) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(failsafe)); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return string(got), false
	}
	return string(got), true // EOF, or a reset: closed either way
}

// A client that sends its headers and then one byte of a body is cut off
// once read_timeout has passed, whether the handler refused it
// without reading (no API key) or was reading it (a provider hook).
func TestSlowBodyIsCutOff(t *testing.T) {
	const deadline = 300 * time.Millisecond
	addr, _ := serveTransport(t, `read_timeout = "300ms"`, server.New(server.Options{}))
	for _, tc := range []struct {
		name, path, status string
	}{
		{"not authenticated", "/api/v1/sms/send", "401"},
		{"hook reading the body", "/api/v1/providers/p/hooks/x", "408"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now() // the deadline starts after, when the server accepts
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := io.WriteString(c, "POST "+tc.path+" HTTP/1.1\r\nHost: sms\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"); err != nil {
				t.Fatal(err)
			}
			got, closed := readUntilClosed(t, c, 20*deadline)
			if !closed {
				t.Fatalf("the connection was still open %s after the headers and one byte of body (read_timeout %s); got %q", 20*deadline, deadline, got)
			}
			if took := time.Since(start); took < deadline {
				t.Errorf("cut off after %s, before read_timeout %s", took, deadline)
			}
			if !strings.HasPrefix(got, "HTTP/1.1 "+tc.status) {
				t.Errorf("answer %q, want HTTP %s before the close", got, tc.status)
			}
		})
	}
}

// The read deadline ends with the body: a handler that works longer than
// read_timeout after reading it keeps its request context.
func TestBodyDeadlineEndsWithTheBody(t *testing.T) {
	const deadline = 200 * time.Millisecond
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		select {
		case <-r.Context().Done():
			http.Error(w, "cancelled", http.StatusServiceUnavailable)
		case <-time.After(3 * deadline): // the work outlasts the deadline
			_, _ = io.WriteString(w, "done")
		}
	})
	addr, _ := serveTransport(t, `read_timeout = "200ms"`, h)
	resp, err := http.Post("http://"+addr+"/", "text/plain", strings.NewReader("body"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "done" {
		t.Fatalf("HTTP %d %q, want 200 done", resp.StatusCode, body)
	}
}

// Over max_conns_per_client, a client's next connection is closed
// unanswered while the ones it holds keep working; loopback counts here
// because trusted_proxies is empty.
func TestConnectionsPerClientCapped(t *testing.T) {
	const limit = 3
	addr, _ := serveTransport(t, "max_conns_per_client = 3\ntrusted_proxies = []", server.New(server.Options{}))
	var held []*bufio.Reader
	var conns []net.Conn
	for range limit {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		r := bufio.NewReader(c)
		up(t, c, r) // answered: accepted and counted
		conns, held = append(conns, c), append(held, r)
	}
	over, err := net.Dial("tcp", addr) // the kernel accepts; the server closes
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	_, _ = io.WriteString(over, "GET /up HTTP/1.1\r\nHost: sms\r\n\r\n")
	if got, closed := readUntilClosed(t, over, 10*time.Second); !closed || got != "" {
		t.Fatalf("connection %d of one client: closed %v, got %q; want it closed unanswered", limit+1, closed, got)
	}
	for i, c := range conns {
		up(t, c, held[i])
	}
}

func up(t *testing.T, c net.Conn, r *bufio.Reader) {
	t.Helper()
	if _, err := io.WriteString(c, "GET /up HTTP/1.1\r\nHost: sms\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /up: HTTP %d", resp.StatusCode)
	}
}
