package config_test

import (
	"net/netip"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/core/config"
)

const transportRoutes = `
provider "a" {
  plugin = "sandbox"
}
route "default" {
  default    = true
  candidates = ["a"]
}
`

func TestTransport(t *testing.T) {
	tlsDir := abs(t, filepath.Join("testdata", "tls"))
	tests := []struct {
		name      string
		server    string
		want      config.Transport
		publicURL string
	}{
		{"defaults", ``, config.DefaultTransport(), "http://127.0.0.1:3005"},
		{"all set", `
  read_header_timeout  = "2s"
  read_timeout         = "300ms"
  write_timeout        = "90s"
  idle_timeout         = "1m"
  max_conns_per_client = 16
  trusted_proxies      = ["10.1.2.0/24", "192.0.2.7", "2001:db8::/32"]
  tls {
    cert_file = "testdata/tls/cert.pem"
    key_file  = "` + filepath.Join(tlsDir, "key.pem") + `"
  }`, config.Transport{ReadHeaderTimeout: 2 * time.Second, ReadTimeout: 300 * time.Millisecond, WriteTimeout: 90 * time.Second,
			IdleTimeout: time.Minute, MaxConnsPerClient: 16,
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.1.2.0/24"), netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("2001:db8::/32")},
			TLS:            &config.TLS{CertFile: filepath.Join(tlsDir, "cert.pem"), KeyFile: filepath.Join(tlsDir, "key.pem")}},
			"https://127.0.0.1:3005"},
		{"no trusted proxies", `trusted_proxies = []`, func() config.Transport {
			d := config.DefaultTransport()
			d.TrustedProxies = []netip.Prefix{}
			return d
		}(), "http://127.0.0.1:3005"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse([]byte("server {\n"+tt.server+"\n}\n"+transportRoutes), "test.hcl", opts())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(cfg.Server.Transport, tt.want) {
				t.Errorf("Transport = %+v\nwant        %+v", cfg.Server.Transport, tt.want)
			}
			if cfg.Server.PublicURL != tt.publicURL {
				t.Errorf("PublicURL = %q, want %q", cfg.Server.PublicURL, tt.publicURL)
			}
		})
	}
}

// A tls block whose files do not make a pair fails validation, naming the
// files, as serve would fail.
func TestTransportUnusableCertificate(t *testing.T) {
	parseCase(t, `server {
  tls {
    cert_file = "testdata/tls/key.pem"
    key_file  = "testdata/tls/key.pem"
  }
}`+transportRoutes, "Unusable TLS certificate: cert_file")
}
