package config

import (
	"crypto/tls"
	"net/netip"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Transport is how the API listener treats connections: the server
// block's timeouts, per-client connection cap and optional tls block. The
// defaults (DefaultTransport) bound what a client that connects and then
// sends slowly, or nothing, can hold.
type Transport struct {
	// ReadHeaderTimeout is how long a request's headers may take to
	// arrive (read_header_timeout).
	ReadHeaderTimeout time.Duration
	// ReadTimeout is how long a whole request, headers and body, may take
	// to arrive (read_timeout). It ends when the body has been read:
	// handlers that work longer are not cut.
	ReadTimeout time.Duration
	// WriteTimeout bounds the time from the end of a request's headers to
	// the end of its answer (write_timeout).
	WriteTimeout time.Duration
	// IdleTimeout is how long a kept-alive connection may wait for its
	// next request (idle_timeout).
	IdleTimeout time.Duration
	// MaxConnsPerClient caps the connections one client address (an IPv4
	// address, an IPv6 /64) holds open at once (max_conns_per_client);
	// connections over it are closed as they are accepted.
	MaxConnsPerClient int
	// TrustedProxies are the networks exempt from MaxConnsPerClient
	// (trusted_proxies): a reverse proxy carries many clients over
	// connections from its one address. Default: loopback.
	TrustedProxies []netip.Prefix
	// TLS, when set, makes the API listener serve HTTPS.
	TLS *TLS
}

// TLS is the server block's tls block.
type TLS struct {
	// CertFile is the PEM certificate chain, leaf first; KeyFile its
	// private key. Both are absolute (relative paths are resolved from the
	// config file's directory) and re-read on SIGHUP.
	CertFile, KeyFile string
}

// DefaultTransport returns the transport settings a server block without
// them gets.
func DefaultTransport() Transport {
	return Transport{
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxConnsPerClient: 128,
		TrustedProxies:    []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
	}
}

var tlsSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "cert_file", Required: true}, {Name: "key_file", Required: true},
}}

// transport decodes the server block's transport attributes into t.
func (d *decoder) transport(attrs hcl.Attributes, t *Transport) {
	for _, f := range []struct {
		name string
		dst  *time.Duration
	}{{"read_header_timeout", &t.ReadHeaderTimeout}, {"read_timeout", &t.ReadTimeout},
		{"write_timeout", &t.WriteTimeout}, {"idle_timeout", &t.IdleTimeout}} {
		if a := attrs[f.name]; a != nil {
			// No "off": without these, one slow client holds a connection
			// for ever.
			if v, ok := d.duration(a, time.Millisecond, false); ok {
				*f.dst = v
			}
		}
	}
	if a := attrs["max_conns_per_client"]; a != nil {
		if v, ok := d.intIn(a, 1, 1<<20, "max_conns_per_client"); ok {
			t.MaxConnsPerClient = v
		}
	}
	if a := attrs["trusted_proxies"]; a != nil {
		if list, ok := d.value(a.Expr, cty.List(cty.String)); ok {
			t.TrustedProxies = d.prefixes(a, list)
		}
	}
}

// prefixes reads a list of CIDR networks or single addresses.
func (d *decoder) prefixes(a *hcl.Attribute, list cty.Value) []netip.Prefix {
	out := []netip.Prefix{}
	for _, v := range list.AsValueSlice() {
		if v.IsNull() {
			d.errorf(a.Expr.Range(), "Invalid trusted_proxies", "want networks such as \"10.0.0.0/8\", not null")
			continue
		}
		s := v.AsString()
		p, err := netip.ParsePrefix(s)
		if err != nil {
			addr, aerr := netip.ParseAddr(s)
			if aerr != nil {
				d.errorf(a.Expr.Range(), "Invalid trusted_proxies", "%q is neither a network such as \"10.0.0.0/8\" nor an address", s)
				continue
			}
			p = netip.PrefixFrom(addr, addr.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out
}

// tls decodes the tls block and checks that its files hold a usable
// certificate and key, so `config validate` finds what serve would.
func (d *decoder) tls(b *hcl.Block, t *Transport) {
	content, diags := b.Body.Content(tlsSchema)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() {
		return
	}
	cert, ok1 := d.str(content.Attributes["cert_file"])
	key, ok2 := d.str(content.Attributes["key_file"])
	if !ok1 || !ok2 {
		return
	}
	t.TLS = &TLS{CertFile: d.resolve(cert), KeyFile: d.resolve(key)}
	// The error names files and what is wrong with them, never key bytes.
	if _, err := tls.LoadX509KeyPair(t.TLS.CertFile, t.TLS.KeyFile); err != nil {
		d.errorf(b.DefRange, "Unusable TLS certificate", "cert_file %s with key_file %s: %v", t.TLS.CertFile, t.TLS.KeyFile, err)
	}
}
