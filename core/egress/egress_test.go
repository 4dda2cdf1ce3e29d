package egress_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/smsrouter/smsrouter/core/egress"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// refusedHosts are spellings of addresses the default policy refuses, as
// they appear in a URL's host, with the kind the refusal names.
var refusedHosts = []struct{ host, kind string }{
	{"127.0.0.1", "loopback"},
	{"127.0.0.2", "loopback"},
	{"localhost", "loopback"},
	{"LocalHost.", "loopback"},
	{"app.localhost", "loopback"},
	{"::1", "loopback"},
	{"[::1]", "loopback"},
	{"0.0.0.0", "unspecified"},
	{"0", "unspecified"},
	{"::", "unspecified"},
	{"2130706433", "loopback"},
	{"0x7f000001", "loopback"},
	{"0X7F000001", "loopback"},
	{"0177.0.0.1", "loopback"},
	{"0x7f.1", "loopback"},
	{"127.1", "loopback"},
	{"127.0.1", "loopback"},
	{"127.0.0.1.", "loopback"},
	{"10.0.0.1", "private"},
	{"012.0.0.1", "private"},
	{"167772161", "private"},
	{"172.16.5.4", "private"},
	{"192.168.1.1", "private"},
	{"100.64.0.1", "carrier-grade NAT"},
	{"169.254.169.254", "metadata"},
	{"2852039166", "metadata"},
	{"0xa9fea9fe", "metadata"},
	{"169.254.1.1", "link-local"},
	{"fe80::1", "link-local"},
	{"fe80::1%eth0", "link-local"},
	{"fc00::1", "unique-local"},
	{"fd00:ec2::254", "metadata"},
	{"224.0.0.1", "multicast"},
	{"ff02::1", "multicast"},
	{"255.255.255.255", "reserved"},
	{"192.0.2.1", "reserved"},
	{"::ffff:127.0.0.1", "loopback"},
	{"::ffff:7f00:1", "loopback"},
	{"::ffff:169.254.169.254", "metadata"},
	{"64:ff9b::7f00:1", "NAT64"},
	{"64:ff9b::a9fe:a9fe", "NAT64"},
	{"2002:7f00:1::", "6to4"},
	{"2002:a00:1::1", "6to4"},
	{"::127.0.0.1", "global unicast"},
}

func TestDefaultPolicyRefusesEverySpelling(t *testing.T) {
	var p *egress.Policy // the default
	for _, tt := range refusedHosts {
		t.Run(tt.host, func(t *testing.T) {
			err := p.CheckHost(tt.host)
			var r *egress.RefusedError
			if !errors.As(err, &r) {
				t.Fatalf("CheckHost(%q) = %v, want a *RefusedError", tt.host, err)
			}
			if !strings.Contains(err.Error(), tt.kind) || !strings.Contains(err.Error(), "not an allowed destination") {
				t.Errorf("CheckHost(%q) = %q, want it to name %q", tt.host, err, tt.kind)
			}
		})
	}
}

func TestDefaultPolicyAllowsPublicAddresses(t *testing.T) {
	var p *egress.Policy
	for _, host := range []string{"93.184.215.14", "8.8.8.8", "[2606:4700::1111]", "::ffff:8.8.8.8",
		"app.example.com", "localhost.example.com", "1.2.3.4.5", "0x", "127.0.0.1.nip.io"} {
		if err := p.CheckHost(host); err != nil {
			t.Errorf("CheckHost(%q) = %v, want allowed", host, err)
		}
	}
	// NAT64 and 6to4 are refused as a whole unless allowed: only the
	// network's operator knows whether a gateway is there.
	for _, host := range []string{"64:ff9b::808:808", "2002:808:808::1"} {
		if err := p.CheckHost(host); err == nil || !strings.Contains(err.Error(), "a NAT64 or 6to4 address") {
			t.Errorf("CheckHost(%q) = %v, want refused as a NAT64 or 6to4 address", host, err)
		}
	}
}

func TestAllowedNetworks(t *testing.T) {
	p := egress.New(egress.Options{Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.20.0.0/16"),
		netip.MustParsePrefix("64:ff9b::/96")}})
	tests := []struct {
		host string
		ok   bool
	}{
		{"127.0.0.1", true},
		{"2130706433", true},
		{"::ffff:127.0.0.1", true},
		{"localhost", true}, // 127.0.0.1 is allowed, ::1 is not: dialling takes the allowed one
		{"10.20.3.4", true},
		{"10.21.0.1", false},
		{"::1", false},
		{"169.254.169.254", false},
		{"64:ff9b::808:808", true},
		// An allowed NAT64 prefix does not open what its IPv4 address
		// is refused on its own.
		{"64:ff9b::a9fe:a9fe", false},
		{"64:ff9b::7f00:1", true},
	}
	for _, tt := range tests {
		if err := p.CheckHost(tt.host); (err == nil) != tt.ok {
			t.Errorf("CheckHost(%q) = %v, want allowed %v", tt.host, err, tt.ok)
		}
	}
	mapped := egress.New(egress.Options{Allowed: []netip.Prefix{netip.MustParsePrefix("::ffff:10.0.0.0/104")}})
	if mapped.CheckHost("10.1.2.3") != nil || mapped.CheckHost("11.0.0.1") != nil || mapped.CheckHost("172.16.0.1") == nil {
		t.Errorf("an IPv4-mapped allowed network is not its IPv4 network")
	}
	all := egress.New(egress.Options{AllowPrivate: true})
	for _, tt := range refusedHosts {
		if err := all.CheckHost(tt.host); err != nil {
			t.Errorf("AllowPrivate: CheckHost(%q) = %v, want allowed", tt.host, err)
		}
	}
}

// resolver answers from a table, like a DNS server the test controls.
type resolver map[string][]netip.Addr

func (r resolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if addrs, ok := r[host]; ok {
		return addrs, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// A name that resolves to a refused address is refused when dialled,
// although CheckHost let it through; a name with refused and allowed
// addresses connects to an allowed one only.
func TestDialChecksResolvedAddresses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	loop := netip.MustParseAddr("127.0.0.1")
	names := resolver{
		"rebind.test":   {loop},
		"mapped.test":   {netip.MustParseAddr("::ffff:127.0.0.1")},
		"metadata.test": {netip.MustParseAddr("169.254.169.254")},
		"mixed.test":    {netip.MustParseAddr("10.0.0.1"), loop},
	}
	tests := []struct {
		name    string
		policy  *egress.Policy
		host    string
		refused bool
	}{
		{"name resolving to loopback", egress.New(egress.Options{Resolver: names}), "rebind.test", true},
		{"name resolving to mapped loopback", egress.New(egress.Options{Resolver: names}), "mapped.test", true},
		{"name resolving to metadata", egress.New(egress.Options{Resolver: names}), "metadata.test", true},
		{"address literal", egress.New(egress.Options{Resolver: names}), "127.0.0.1", true},
		{"decimal literal", egress.New(egress.Options{Resolver: names}), "2130706433", true},
		{"loopback allowed", egress.New(egress.Options{Resolver: names, Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}), "rebind.test", false},
		// 10.0.0.1 is refused and never dialled; 127.0.0.1 is allowed.
		{"mixed answers", egress.New(egress.Options{Resolver: names, Allowed: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}), "mixed.test", false},
		{"allow private", egress.New(egress.Options{Resolver: names, AllowPrivate: true}), "metadata.test", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "allow private" {
				// 169.254.169.254 is allowed, so the dial is tried; it
				// cannot connect here, so only the policy's answer counts.
				err := tt.policy.CheckAddr(netip.MustParseAddr("169.254.169.254"))
				if err != nil {
					t.Fatalf("CheckAddr = %v, want allowed", err)
				}
				return
			}
			client := &http.Client{Transport: tt.policy.Transport()}
			defer client.CloseIdleConnections()
			resp, err := client.Get(fmt.Sprintf("http://%s/", net.JoinHostPort(tt.host, fmt.Sprint(port))))
			if tt.refused {
				if !egress.IsRefused(err) {
					t.Fatalf("GET via %s: %v, want refused by the policy", tt.host, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("GET via %s: %v", tt.host, err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				t.Errorf("GET via %s: HTTP %d", tt.host, resp.StatusCode)
			}
		})
	}
}

func TestParseAddr(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"2130706433", "127.0.0.1"},
		{"0x7f000001", "127.0.0.1"},
		{"017700000001", "127.0.0.1"},
		{"0177.0.0.1", "127.0.0.1"},
		{"127.1", "127.0.0.1"},
		{"127.0.1", "127.0.0.1"},
		{"10.0x10.0300", "10.16.0.192"},
		{"[::1]", "::1"},
		{"1.2.3.4.", "1.2.3.4"},
		{"4294967295", "255.255.255.255"},
		{"4294967296", ""},
		{"1.16777216", ""},
		{"256.1.1.1", ""},
		{"1.2.3.4.5", ""},
		{"08", ""},
		{"0x", ""},
		{"1..2", ""},
		{"+1", ""},
		{"example.com", ""},
		{"", ""},
	}
	for _, tt := range tests {
		a, ok := egress.ParseAddr(tt.in)
		got := ""
		if ok {
			got = a.String()
		}
		if got != tt.want {
			t.Errorf("ParseAddr(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// An operator allowing the network where on-premise applications run.
func ExampleNew() {
	p := egress.New(egress.Options{Allowed: []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16")}})
	fmt.Println(p.CheckHost("10.20.1.5"))
	fmt.Println(p.CheckHost("0x7f000001"))
	fmt.Println(p.CheckHost("169.254.169.254"))
	// Output:
	// <nil>
	// 0x7f000001 is 127.0.0.1, a loopback address, which is not an allowed destination
	// 169.254.169.254 is the cloud metadata service's address, which is not an allowed destination
}
