package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Webhooks is the webhooks block: which addresses the applications'
// webhooks (the account URL and per-message callback_url) may go to. By
// default only public addresses: never loopback, private, link-local,
// unique-local, multicast, reserved or cloud metadata addresses, so that a
// tenant cannot make the server call what only it can reach. The block is
// read at start; a reload warns that a change waits for the next restart.
type Webhooks struct {
	// AllowPrivate allows every address, the cloud metadata service's
	// included: for tests, and installations that trust every tenant with
	// the server's own network.
	AllowPrivate bool
	// AllowedNetworks are networks refused by default that webhooks may go
	// to all the same, e.g. 10.20.0.0/16 where on-premise applications
	// run; a single address is a /32 (IPv4) or /128 (IPv6).
	AllowedNetworks []netip.Prefix
}

// Equal reports whether w and o allow the same.
func (w Webhooks) Equal(o Webhooks) bool {
	return w.AllowPrivate == o.AllowPrivate && slices.Equal(w.AllowedNetworks, o.AllowedNetworks)
}

var webhooksSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "allow_private"}, {Name: "allowed_networks"},
}}

func (d *decoder) webhooks(b *hcl.Block, w *Webhooks) {
	content, diags := b.Body.Content(webhooksSchema)
	d.diags = append(d.diags, diags...)
	if a := content.Attributes["allow_private"]; a != nil {
		if v, ok := d.boolean(a); ok {
			w.AllowPrivate = v
		}
	}
	a := content.Attributes["allowed_networks"]
	if a == nil {
		return
	}
	v, ok := d.value(a.Expr, cty.List(cty.String))
	if !ok {
		return
	}
	for _, s := range v.AsValueSlice() {
		p, err := parseNetwork(s.AsString())
		if err != nil {
			d.errorf(a.Expr.Range(), "Invalid network", "%v", err)
			continue
		}
		w.AllowedNetworks = append(w.AllowedNetworks, p)
	}
}

// EnvWebhooksAllowedNetworks names the environment variable whose
// comma-separated networks are added to the webhooks block's
// allowed_networks. It exists for harnesses and containers that run a
// shipped config unchanged next to a receiver on a private address: the
// operator who sets the environment allows the network, as in the file.
const EnvWebhooksAllowedNetworks = "SMSROUTER_WEBHOOKS_ALLOWED_NETWORKS"

// webhooksFromEnv adds the networks of EnvWebhooksAllowedNetworks.
func (d *decoder) webhooksFromEnv(w *Webhooks) {
	v, ok := d.opts.LookupEnv(EnvWebhooksAllowedNetworks)
	if !ok || strings.TrimSpace(v) == "" {
		return
	}
	for _, s := range strings.Split(v, ",") {
		p, err := parseNetwork(strings.TrimSpace(s))
		if err != nil {
			d.diags = append(d.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid network in " + EnvWebhooksAllowedNetworks,
				Detail:   fmt.Sprintf("%v (the variable is a comma-separated list of networks)", err),
			})
			continue
		}
		if !slices.Contains(w.AllowedNetworks, p) {
			w.AllowedNetworks = append(w.AllowedNetworks, p)
		}
	}
}

// parseNetwork reads a CIDR network, or a single address as its own
// network.
func parseNetwork(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q is not a network; write it in CIDR form, such as \"10.20.0.0/16\", or as one address, such as \"10.20.0.5\"", s)
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	switch {
	case err != nil:
		return netip.Prefix{}, fmt.Errorf("%q is not a network; write it in CIDR form, such as \"10.20.0.0/16\" or \"fd12:3456::/48\"", s)
	case p.Addr().Is4In6():
		return netip.Prefix{}, fmt.Errorf("%q is an IPv4-mapped IPv6 network; write the IPv4 network, such as \"10.20.0.0/16\": mapped addresses are checked as the IPv4 address they carry", s)
	case p != p.Masked():
		return netip.Prefix{}, fmt.Errorf("%q has bits set past its /%d prefix; did you mean %q?", s, p.Bits(), p.Masked().String())
	}
	return p, nil
}
