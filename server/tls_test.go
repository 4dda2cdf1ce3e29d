package server_test

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/server"
	"github.com/smsrouter/smsrouter/server/tlscert/tlscerttest"
)

// servedSerial makes a new TLS connection and returns the serial of the
// certificate the server presented.
func servedSerial(t *testing.T, addr string, roots *x509.CertPool) int64 {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, DisableKeepAlives: true}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("https://" + addr + "/up")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /up over TLS: HTTP %d", resp.StatusCode)
	}
	return resp.TLS.PeerCertificates[0].SerialNumber.Int64()
}

// serve's tls block: HTTPS with the configured files; after the files are
// replaced, a reload serves the new certificate to new connections; files
// that do not make a usable certificate keep the one in use.
func TestTLSServedAndReloaded(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	one, two := tlscerttest.New(t, 1, now.Add(-time.Hour)), tlscerttest.New(t, 2, now.Add(-time.Hour))
	expired := tlscerttest.New(t, 3, now.Add(-48*time.Hour))
	roots := tlscerttest.Roots(one, two)
	tlscerttest.Write(t, dir, one.CertPEM, one.KeyPEM)

	addr, srv := serveTransport(t, `tls {
    cert_file = "`+filepath.Join(dir, "cert.pem")+`"
    key_file  = "`+filepath.Join(dir, "key.pem")+`"
  }`, server.New(server.Options{}))
	if srv.Scheme() != "https" {
		t.Errorf("Scheme = %q", srv.Scheme())
	}
	if got := servedSerial(t, addr, roots); got != 1 {
		t.Fatalf("served certificate %d, want 1", got)
	}

	for _, bad := range []struct {
		name      string
		cert, key []byte
	}{
		{"key of another certificate", two.CertPEM, one.KeyPEM},
		{"not PEM", []byte("renewal in progress"), two.KeyPEM},
		{"expired", expired.CertPEM, expired.KeyPEM},
	} {
		tlscerttest.Write(t, dir, bad.cert, bad.key)
		if err := srv.ReloadTLS(); err == nil {
			t.Errorf("%s: reload succeeded", bad.name)
		}
		if got := servedSerial(t, addr, roots); got != 1 {
			t.Fatalf("%s: served certificate %d after a refused reload, want 1 (the one in use)", bad.name, got)
		}
	}

	tlscerttest.Write(t, dir, two.CertPEM, two.KeyPEM)
	if err := srv.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	if got := servedSerial(t, addr, roots); got != 2 {
		t.Fatalf("served certificate %d after reloading, want 2", got)
	}
}
