package connlimit

import (
	"net"
	"net/netip"
	"sync"
)

// Options configure NewListener.
type Options struct {
	// PerClient is the most connections one client holds open at once; a
	// client is an IPv4 address or an IPv6 /64 (what one host is usually
	// given). Zero or less means no cap.
	PerClient int
	// Exempt are networks not capped: reverse proxies, whose one address
	// carries many clients, and usually loopback.
	Exempt []netip.Prefix
	// Refused, when set, is told of every connection closed for being over
	// the cap, with the client it was counted against.
	Refused func(client netip.Prefix)
}

// NewListener returns ln with the cap applied: a connection over its
// client's cap is closed as soon as it is accepted, before anything is read
// from it or written to it (not even a TLS handshake or an HTTP answer: what
// a flood of connections should not get to cost), and Accept goes on to the
// next one.
func NewListener(ln net.Listener, o Options) net.Listener {
	if o.PerClient <= 0 {
		return ln
	}
	return &listener{Listener: ln, o: o, open: map[netip.Prefix]int{}}
}

type listener struct {
	net.Listener
	o Options

	mu   sync.Mutex
	open map[netip.Prefix]int
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		client, capped := l.client(c.RemoteAddr())
		if !capped {
			return c, nil
		}
		if l.take(client) {
			return &conn{Conn: c, release: sync.OnceFunc(func() { l.give(client) })}, nil
		}
		_ = c.Close()
		if l.o.Refused != nil {
			l.o.Refused(client)
		}
	}
}

// client returns what a connection from addr is counted against, and
// false when it is not counted (exempt, or not an IP address).
func (l *listener) client(addr net.Addr) (netip.Prefix, bool) {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return netip.Prefix{}, false
	}
	ip := ap.Addr().Unmap()
	for _, p := range l.o.Exempt {
		if p.Contains(ip) {
			return netip.Prefix{}, false
		}
	}
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits) // cannot fail: bits fits the address
	return p, true
}

func (l *listener) take(client netip.Prefix) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[client] >= l.o.PerClient {
		return false
	}
	l.open[client]++
	return true
}

func (l *listener) give(client netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[client]--; l.open[client] <= 0 {
		delete(l.open, client)
	}
}

// conn gives its client's place back when closed, once however often it
// is closed.
type conn struct {
	net.Conn
	release func()
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}

// CloseWrite keeps the half-close net/http uses to let an answer reach the
// client before the connection ends.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
