package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"syscall"
	"time"
)

// DialContext connects to address (host:port) as net.Dialer does, but
// only to addresses the policy allows: it resolves the host once, drops
// every address the policy refuses, and dials the ones left in turn, by
// address, so that a name resolving differently a moment later (DNS
// rebinding) cannot lead elsewhere. With none left it returns a
// *RefusedError.
func (p *Policy) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	p = p.or()
	host, portText, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", address, err)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("dial %s: port %q is not a number from 0 to 65535", address, portText)
	}
	addrs, err := p.lookup(ctx, host)
	if err != nil {
		return nil, err
	}
	allowed, err := p.allowed(host, addrs)
	if err != nil {
		return nil, err
	}
	return p.dialEach(ctx, network, allowed, uint16(port))
}

// lookup returns host's addresses: itself when it is an address in any
// spelling ParseAddr reads, else what the resolver answers.
func (p *Policy) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, ok := ParseAddr(host); ok {
		return []netip.Addr{a}, nil
	}
	addrs, err := p.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("look up %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("look up %s: no addresses", host)
	}
	return addrs, nil
}

// allowed keeps the addresses the policy allows, unmapped; with none it
// returns the first refusal, naming host.
func (p *Policy) allowed(host string, addrs []netip.Addr) ([]netip.Addr, error) {
	var (
		out     []netip.Addr
		refused *RefusedError
	)
	for _, a := range addrs {
		a = a.Unmap()
		if err := p.checkAddr(a); err != nil {
			if refused == nil {
				refused = &RefusedError{Host: host, Addr: a}
			}
			continue
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, refused
	}
	return out, nil
}

// minDialShare is the least time one of several addresses gets to
// connect before the next is tried.
const minDialShare = 2 * time.Second

// dialEach connects to the first of addrs that answers. When ctx has a
// deadline, each address gets an equal share of what is left (at least
// minDialShare), as net.Dialer shares it, so that one address that drops
// packets does not use up the time of the others.
func (p *Policy) dialEach(ctx context.Context, network string, addrs []netip.Addr, port uint16) (net.Conn, error) {
	var first error
	for i, a := range addrs {
		dctx, cancel := ctx, context.CancelFunc(func() {})
		if deadline, ok := ctx.Deadline(); ok && i < len(addrs)-1 {
			share := max(time.Until(deadline)/time.Duration(len(addrs)-i), minDialShare)
			dctx, cancel = context.WithTimeout(ctx, share)
		}
		c, err := p.dialer.DialContext(dctx, network, netip.AddrPortFrom(a, port).String())
		cancel()
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

// control is the dialer's last check, on the address the socket is about
// to connect to.
func (p *Policy) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("egress: cannot check %s address %q: %w", network, address, err)
	}
	return p.checkAddr(ap.Addr())
}

// Transport returns an HTTP transport, with http.DefaultTransport's
// settings, that connects only where the policy allows. It uses no proxy:
// a proxy would connect on the server's behalf to addresses the policy
// never sees.
func (p *Policy) Transport() *http.Transport {
	p = p.or()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.DialContext = p.DialContext
	return tr
}

// IsRefused reports whether err, or an error it wraps, is a refusal of
// the policy.
func IsRefused(err error) bool {
	var r *RefusedError
	return errors.As(err, &r)
}
