package config_test

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/smsrouter/smsrouter/core/config"
)

func TestWebhooksBlock(t *testing.T) {
	const base = `
provider "sandbox" {
  plugin = "sandbox"
}
route "default" {
  default    = true
  candidates = ["sandbox"]
}
%s
`
	nets := func(s ...string) []netip.Prefix {
		out := make([]netip.Prefix, len(s))
		for i, p := range s {
			out[i] = netip.MustParsePrefix(p)
		}
		return out
	}
	tests := []struct {
		name, block string
		want        config.Webhooks
		wantErr     string
	}{
		{"absent: public addresses only", ``, config.Webhooks{}, ""},
		{"allow private", "webhooks {\n  allow_private = true\n}", config.Webhooks{AllowPrivate: true}, ""},
		{"networks", "webhooks {\n  allowed_networks = [\"10.20.0.0/16\", \"127.0.0.1\", \"fd12:3456::/48\", \"::1\"]\n}",
			config.Webhooks{AllowedNetworks: nets("10.20.0.0/16", "127.0.0.1/32", "fd12:3456::/48", "::1/128")}, ""},
		{"not a network", "webhooks {\n  allowed_networks = [\"intranet\"]\n}", config.Webhooks{},
			`test.hcl:10:22: Invalid network: "intranet" is not a network; write it in CIDR form`},
		{"bad prefix", "webhooks {\n  allowed_networks = [\"10.0.0.0/33\"]\n}", config.Webhooks{},
			`Invalid network: "10.0.0.0/33" is not a network`},
		{"host bits", "webhooks {\n  allowed_networks = [\"10.20.1.5/16\"]\n}", config.Webhooks{},
			`Invalid network: "10.20.1.5/16" has bits set past its /16 prefix; did you mean "10.20.0.0/16"?`},
		{"mapped", "webhooks {\n  allowed_networks = [\"::ffff:10.0.0.0/104\"]\n}", config.Webhooks{},
			`is an IPv4-mapped IPv6 network; write the IPv4 network`},
		{"not a bool", "webhooks {\n  allow_private = \"maybe\"\n}", config.Webhooks{}, `test.hcl:10:19: Incorrect value type`},
		{"unknown attribute", "webhooks {\n  allow_loopback = true\n}", config.Webhooks{}, `test.hcl:10:3: Unsupported argument`},
		{"twice", "webhooks {\n}\nwebhooks {\n}", config.Webhooks{}, `test.hcl:11:1: Duplicate webhooks block`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := parseCase(t, fmt.Sprintf(base, tt.block), tt.wantErr)
			if cfg == nil {
				return
			}
			if !cfg.Webhooks.Equal(tt.want) {
				t.Errorf("Webhooks = %+v, want %+v", cfg.Webhooks, tt.want)
			}
		})
	}
}

func TestWebhooksAllowedNetworksFromEnv(t *testing.T) {
	const src = `
provider "sandbox" {
  plugin = "sandbox"
}
route "default" {
  default    = true
  candidates = ["sandbox"]
}
webhooks {
  allowed_networks = ["10.20.0.0/16"]
}
`
	tests := []struct {
		name, env string
		want      []netip.Prefix
		wantErr   string
	}{
		{"unset", "", []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16")}, ""},
		{"added", "127.0.0.0/8, ::1", []netip.Prefix{
			netip.MustParsePrefix("10.20.0.0/16"), netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"),
		}, ""},
		{"repeated", "10.20.0.0/16", []netip.Prefix{netip.MustParsePrefix("10.20.0.0/16")}, ""},
		{"bad", "127.0.0.0/8,intranet", nil,
			`Invalid network in SMSROUTER_WEBHOOKS_ALLOWED_NETWORKS: "intranet" is not a network`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := opts()
			o.LookupEnv = func(k string) (string, bool) {
				return tt.env, k == config.EnvWebhooksAllowedNetworks && tt.env != ""
			}
			cfg, err := config.Parse([]byte(src), "test.hcl", o)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(cfg.Webhooks.AllowedNetworks, tt.want) {
				t.Errorf("AllowedNetworks = %v, want %v", cfg.Webhooks.AllowedNetworks, tt.want)
			}
		})
	}
}
