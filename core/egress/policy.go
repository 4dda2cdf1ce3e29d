package egress

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"code.dny.dev/ssrf"
)

// Options say which addresses beyond the public ones a Policy allows.
type Options struct {
	// AllowPrivate allows every address: loopback, private, link-local,
	// unique-local, multicast, reserved and the cloud metadata service
	// alike. It is for tests and for installations whose every tenant is
	// trusted with the server's own network.
	AllowPrivate bool
	// Allowed are networks refused by default that connections may reach
	// all the same, such as 10.20.0.0/16 where on-premise applications
	// run, or 127.0.0.0/8 for a receiver on the same machine.
	Allowed []netip.Prefix
	// Resolver looks host names up when dialling; nil means
	// net.DefaultResolver. Tests give one that answers what they choose.
	Resolver Resolver
}

// Resolver looks up a host name's addresses, like net.Resolver.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Policy is a set of addresses connections may go to. A nil *Policy is the
// default one: public addresses only. A Policy is safe for concurrent use.
type Policy struct {
	allowAll bool
	guard    *ssrf.Guardian
	resolver Resolver
	dialer   *net.Dialer
}

// defaultPolicy is what a nil *Policy stands for.
var defaultPolicy = New(Options{})

// New returns the policy o describes.
func New(o Options) *Policy {
	var v4, v6 []netip.Prefix
	for _, p := range o.Allowed {
		// Addresses are checked unmapped, so an IPv4-mapped network is
		// its IPv4 network.
		a, bits := p.Addr(), p.Bits()
		if a.Is4In6() {
			a, bits = a.Unmap(), max(bits-96, 0)
		}
		p = netip.PrefixFrom(a, bits).Masked()
		if a.Is4() {
			v4 = append(v4, p)
		} else {
			v6 = append(v6, p)
		}
	}
	p := &Policy{
		allowAll: o.AllowPrivate,
		// The guard holds the IANA special-purpose registries; which port
		// a receiver listens on is the application's business.
		guard:    ssrf.New(ssrf.WithAnyPort(), ssrf.WithAllowedV4Prefixes(v4...), ssrf.WithAllowedV6Prefixes(v6...)),
		resolver: o.Resolver,
	}
	if p.resolver == nil {
		p.resolver = net.DefaultResolver
	}
	// The addresses dialled were checked already; the hook checks once
	// more at the socket, so that nothing this package overlooks connects.
	p.dialer = &net.Dialer{KeepAlive: 30 * time.Second, Control: p.control}
	return p
}

func (p *Policy) or() *Policy {
	if p == nil {
		return defaultPolicy
	}
	return p
}

// RefusedError is an address the policy does not allow.
type RefusedError struct {
	// Host is the name or address as given, "" when it was Addr itself.
	Host string
	// Addr is the address refused (IPv4-mapped IPv6 addresses unmapped).
	Addr netip.Addr
}

func (e *RefusedError) Error() string {
	what := fmt.Sprintf("%s is %s", e.Addr, Describe(e.Addr))
	if e.Host != "" && e.Host != e.Addr.String() {
		what = fmt.Sprintf("%s is %s, %s", e.Host, e.Addr, Describe(e.Addr))
	}
	return what + ", which is not an allowed destination"
}

// CheckAddr returns a *RefusedError unless connections may go to a.
func (p *Policy) CheckAddr(a netip.Addr) error { return p.or().checkAddr(a) }

func (p *Policy) checkAddr(a netip.Addr) error {
	a = a.WithZone("").Unmap()
	if p.allowAll && a.IsValid() {
		return nil
	}
	if !a.IsValid() || p.guard.SafeAddr(a) != nil {
		return &RefusedError{Addr: a}
	}
	// An allowed translation prefix must not lead to an IPv4 address that
	// is refused on its own.
	if v4, ok := embeddedIPv4(a); ok && p.guard.SafeAddr(v4) != nil {
		return &RefusedError{Addr: a}
	}
	return nil
}

// CheckHost refuses, without a lookup, a URL host that names a refused
// address: an IP address in any spelling (IPv6 in brackets or not, dotted
// IPv4, and the decimal, hex and octal IPv4 forms resolvers accept, such
// as 2130706433, 0x7f000001 or 0177.1), or a localhost name when the
// policy refuses loopback. Other names are checked when dialled, against
// every address they resolve to then.
func (p *Policy) CheckHost(host string) error {
	p = p.or()
	if a, ok := ParseAddr(host); ok {
		if err := p.checkAddr(a); err != nil {
			return &RefusedError{Host: host, Addr: err.(*RefusedError).Addr}
		}
		return nil
	}
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		// RFC 6761: such names resolve to loopback, whatever DNS says.
		v4, v6 := netip.AddrFrom4([4]byte{127, 0, 0, 1}), netip.IPv6Loopback()
		if p.checkAddr(v4) != nil && p.checkAddr(v6) != nil {
			return &RefusedError{Host: host, Addr: v4}
		}
	}
	return nil
}

// embeddedIPv4 returns the IPv4 address a NAT64 (64:ff9b::/96) or 6to4
// (2002::/16) address leads to.
func embeddedIPv4(a netip.Addr) (netip.Addr, bool) {
	if !a.Is6() {
		return netip.Addr{}, false
	}
	b := a.As16()
	switch {
	case nat64.Contains(a):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixToFour.Contains(a):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
	cgnat     = netip.MustParsePrefix("100.64.0.0/10")
	thisNet   = netip.MustParsePrefix("0.0.0.0/8")
	// metadata are the addresses cloud instance metadata services answer
	// on; both are in refused ranges, named for a clearer message.
	metadata = []netip.Addr{netip.MustParseAddr("169.254.169.254"), netip.MustParseAddr("fd00:ec2::254")}
)

// Describe names the kind of address a is, for messages: "a loopback
// address", "a private address", "the cloud metadata service's address"...
func Describe(a netip.Addr) string {
	a = a.WithZone("").Unmap()
	switch {
	case !a.IsValid():
		return "not an address"
	case a == metadata[0] || a == metadata[1]:
		return "the cloud metadata service's address"
	case a.IsUnspecified() || thisNet.Contains(a):
		return "an unspecified address"
	case a.IsLoopback():
		return "a loopback address"
	case a.IsPrivate() && a.Is4():
		return "a private address"
	case a.IsPrivate():
		return "a unique-local address"
	case a.IsLinkLocalUnicast():
		return "a link-local address"
	case a.IsMulticast():
		return "a multicast address"
	case cgnat.Contains(a):
		return "a carrier-grade NAT address"
	}
	if v4, ok := embeddedIPv4(a); ok {
		if defaultPolicy.checkAddr(v4) == nil {
			return "a NAT64 or 6to4 address"
		}
		return fmt.Sprintf("an IPv6 form (NAT64 or 6to4) of %s, %s", v4, Describe(v4))
	}
	if a.Is6() && !a.Is4In6() && !ssrf.IPv6GlobalUnicast.Contains(a) {
		return "not a global unicast address"
	}
	return "a special-purpose (reserved) address"
}
