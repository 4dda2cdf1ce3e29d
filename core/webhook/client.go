package webhook

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/net/idna"

	"github.com/smsrouter/smsrouter/core/egress"
)

// client sends webhook requests over HTTP/1.1 connections it keeps alive
// per receiver, writing each request and reading its answer on the
// calling goroutine. net/http's client ran two goroutines per connection
// and handed every request and answer between them and the caller: on the
// SMPP chain that machinery cost more CPU than the requests' own work
// (docs/performance.md). fasthttp writes the requests and parses the
// answers; the connections are this type's own, so that each one is
// dialled through the egress policy, is interrupted when its request's
// context ends, and is closed at stop, with no goroutine of its own.
type client struct {
	policy *egress.Policy
	// tlsConfig is the base of every TLS connection's config (nil: the
	// system's roots); tests give their own roots.
	tlsConfig *tls.Config
	// maxIdlePerHost and maxIdle cap the connections kept alive idle, per
	// receiver and in all (net/http's MaxIdleConnsPerHost and
	// MaxIdleConns, which the deliverer set to PerAccount and
	// Concurrency): the requests in flight, which Run caps, bound those
	// open.
	maxIdlePerHost, maxIdle int

	mu     sync.Mutex
	idle   map[string][]*conn // per receiver (scheme://host:port), the last used last
	nIdle  int
	swept  time.Time
	closed bool
}

// idleTimeout is how long a connection may wait for its next request
// (net/http's default): connections idle longer are closed when the
// client next looks.
const idleTimeout = 90 * time.Second

// readBufferSize bounds an answer's headers.
const readBufferSize = 16 << 10

// maxDrain is how much of an answer's body is read; a longer one is left,
// and its connection closed.
const maxDrain = 64 << 10

// maxExcerpt is how much of a 4xx answer's body is kept for its excerpt.
const maxExcerpt = 512

// conn is a connection to a receiver with its buffers.
type conn struct {
	net.Conn
	key    string
	br     *bufio.Reader
	bw     *bufio.Writer
	idleAt time.Time
}

func newClient(policy *egress.Policy, maxIdlePerHost, maxIdle int) *client {
	return &client{policy: policy, maxIdlePerHost: maxIdlePerHost, maxIdle: maxIdle, idle: map[string][]*conn{}}
}

// target is where a request goes, from its URL as net/http reads it.
type target struct {
	key        string // scheme://host:port, the connections' pool
	addr       string // host:port to dial
	serverName string // for TLS
	tls        bool
	host       string // the Host header
	requestURI string // the request line's path and query
}

// parseTarget reads raw as net/http's client does: the request line
// carries the URL's escaped path and query as written, the Host header
// its host (an empty port dropped), and the connection goes to the host
// in ASCII with the scheme's port when none is given.
func parseTarget(raw string) (target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return target{}, err
	}
	var t target
	switch u.Scheme {
	case "http":
	case "https":
		t.tls = true
	default:
		return target{}, errors.New("unsupported protocol scheme " + strconv.Quote(u.Scheme))
	}
	if u.Host == "" {
		return target{}, errors.New("no host in request URL")
	}
	t.host = strings.TrimSuffix(u.Host, ":")
	name, port := u.Hostname(), u.Port()
	if !isASCII(name) {
		if name, err = idna.Lookup.ToASCII(name); err != nil {
			return target{}, err
		}
	}
	if port == "" {
		port = "80"
		if t.tls {
			port = "443"
		}
	}
	t.serverName = name
	t.addr = net.JoinHostPort(name, port)
	t.key = u.Scheme + "://" + t.addr
	t.requestURI = u.RequestURI()
	return t, nil
}

// isASCII reports whether s needs no IDNA conversion before it is dialled.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// errTooLarge marks an answer whose body was longer than maxDrain: its
// status stands, its connection is closed.
var errTooLarge = fasthttp.ErrBodyTooLarge

// do sends req to t and reads the answer into resp within timeout,
// giving up when ctx ends. An answer read, whatever its status, is no
// error; of a body longer than maxDrain resp holds a 4xx's first
// maxExcerpt bytes or more, and the connection is closed.
func (cl *client) do(ctx context.Context, t target, req *fasthttp.Request, resp *fasthttp.Response, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	req.Header.SetHost(t.host)
	req.Header.SetRequestURI(t.requestURI)
	for try := 0; ; try++ {
		c, reused, err := cl.get(ctx, t, deadline, try > 0)
		if err != nil {
			return err
		}
		keep, err := cl.roundTrip(ctx, c, req, resp, deadline)
		if keep {
			cl.put(c)
		} else {
			c.Close()
		}
		// A connection kept alive may have been closed by the receiver
		// while it waited (net/http's client notices that as it happens,
		// through the goroutine reading each connection): a request that
		// found it closed before an answer began goes once more, on a new
		// connection, as net/http sends again a request it could not
		// write.
		if err == nil || !reused || try > 0 || !closedBeforeAnswer(err) || ctx.Err() != nil || !time.Now().Before(deadline) {
			return err
		}
	}
}

// roundTrip writes req on c and reads the answer; keep tells whether c
// may take the next request.
func (cl *client) roundTrip(ctx context.Context, c *conn, req *fasthttp.Request, resp *fasthttp.Response, deadline time.Time) (keep bool, err error) {
	if err := c.SetDeadline(deadline); err != nil {
		return false, err
	}
	// A request in flight when ctx ends (the server stopping, the caller
	// of a test event going away) fails at once.
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(aLongTimeAgo) })
	defer func() {
		if !stop() {
			keep = false
		}
	}()
	if err := req.Write(c.bw); err != nil {
		return false, &answerError{err: err}
	}
	if err := c.bw.Flush(); err != nil {
		return false, &answerError{err: err}
	}
	// The first byte tells a connection the receiver had closed from one
	// that answers late or badly.
	if _, err := c.br.Peek(1); err != nil {
		return false, &answerError{err: err}
	}
	resp.Reset()
	switch err := resp.ReadLimitBody(c.br, maxDrain); {
	case errors.Is(err, errTooLarge):
		// The status stands; of the body only the start of a 4xx's is
		// wanted. The body holds what was read before the limit was
		// seen: nothing, or whole chunks; what follows is body still.
		if b := resp.Body(); len(b) < maxExcerpt && resp.StatusCode()/100 == 4 {
			more := make([]byte, maxExcerpt-len(b))
			n, _ := io.ReadFull(c.br, more)
			resp.AppendBody(more[:n])
		}
		return false, nil
	case err != nil:
		return false, err
	}
	return !resp.ConnectionClose(), nil
}

// answerError is a failure before any byte of the answer was read.
type answerError struct{ err error }

func (e *answerError) Error() string { return e.err.Error() }
func (e *answerError) Unwrap() error { return e.err }

// closedBeforeAnswer reports whether err says the connection was closed
// (or reset) before the answer began, rather than timed out.
func closedBeforeAnswer(err error) bool {
	var ae *answerError
	if !errors.As(err, &ae) {
		return false
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED)
}

// aLongTimeAgo is a deadline that has passed, to interrupt I/O.
var aLongTimeAgo = time.Unix(1, 0)

// get returns an idle connection to t, unless fresh, or dials one
// through the policy.
func (cl *client) get(ctx context.Context, t target, deadline time.Time, fresh bool) (*conn, bool, error) {
	if !fresh {
		if c := cl.takeIdle(t.key); c != nil {
			return c, true, nil
		}
	}
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	nc, err := cl.policy.DialContext(dctx, "tcp", t.addr)
	if err != nil {
		return nil, false, err
	}
	if t.tls {
		cfg := &tls.Config{}
		if cl.tlsConfig != nil {
			cfg = cl.tlsConfig.Clone()
		}
		cfg.ServerName = t.serverName
		cfg.NextProtos = []string{"http/1.1"}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(dctx); err != nil {
			nc.Close()
			return nil, false, err
		}
		nc = tc
	}
	return &conn{Conn: nc, key: t.key, br: bufio.NewReaderSize(nc, readBufferSize), bw: bufio.NewWriterSize(nc, 4<<10)}, false, nil
}

// takeIdle returns the connection to key used last, if it has not waited
// too long; it closes those that have, here and, now and then, elsewhere.
func (cl *client) takeIdle(key string) *conn {
	now := time.Now()
	var stale []*conn
	defer func() {
		for _, c := range stale {
			c.Close()
		}
	}()
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if now.Sub(cl.swept) > idleTimeout/2 {
		cl.swept = now
		for k, cs := range cl.idle {
			if k != key {
				stale = cl.dropStaleLocked(k, cs, now, stale)
			}
		}
	}
	cs := cl.idle[key]
	if len(cs) == 0 {
		return nil
	}
	c := cs[len(cs)-1]
	cs[len(cs)-1] = nil
	cs = cs[:len(cs)-1]
	cl.nIdle--
	if now.Sub(c.idleAt) > idleTimeout {
		// The others waited longer still.
		stale = append(stale, c)
		stale = append(stale, cs...)
		cl.nIdle -= len(cs)
		delete(cl.idle, key)
		return nil
	}
	cl.idle[key] = cs
	return c
}

// dropStaleLocked removes key's connections idle too long, the oldest
// first in cs, and adds them to stale.
func (cl *client) dropStaleLocked(key string, cs []*conn, now time.Time, stale []*conn) []*conn {
	n := 0
	for n < len(cs) && now.Sub(cs[n].idleAt) > idleTimeout {
		n++
	}
	if n == 0 {
		return stale
	}
	stale = append(stale, cs[:n]...)
	cl.nIdle -= n
	if n == len(cs) {
		delete(cl.idle, key)
	} else {
		cl.idle[key] = append(cs[:0], cs[n:]...)
	}
	return stale
}

// put keeps c for the next request to its receiver, within the caps on
// idle connections; past them, or once the client is closed, it closes c.
func (cl *client) put(c *conn) {
	c.idleAt = time.Now()
	cl.mu.Lock()
	cs := cl.idle[c.key]
	if cl.closed || len(cs) >= cl.maxIdlePerHost || cl.nIdle >= cl.maxIdle {
		cl.mu.Unlock()
		c.Close()
		return
	}
	cl.idle[c.key] = append(cs, c)
	cl.nIdle++
	cl.mu.Unlock()
}

// close closes the idle connections, and those of requests in flight as
// they finish.
func (cl *client) close() {
	cl.mu.Lock()
	idle := cl.idle
	cl.idle, cl.nIdle, cl.closed = map[string][]*conn{}, 0, true
	cl.mu.Unlock()
	for _, cs := range idle {
		for _, c := range cs {
			c.Close()
		}
	}
}
