package main

import (
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/server/tlscert/tlscerttest"
)

// serve with a tls block answers HTTPS, and SIGHUP swaps in the renewed
// certificate files; files that are not a usable pair are logged and the
// certificate in use stays.
func TestServeTLSReloadedOnSIGHUP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	certs := filepath.Join(dir, "tls")
	if err := os.Mkdir(certs, 0o700); err != nil {
		t.Fatal(err)
	}
	one, two := tlscerttest.New(t, 1, time.Now().Add(-time.Hour)), tlscerttest.New(t, 2, time.Now().Add(-time.Hour))
	tlscerttest.Write(t, certs, one.CertPEM, one.KeyPEM)
	path := writeConfig(t, dir)
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	withTLS := strings.Replace(string(src), `listen = "127.0.0.1:0"`, `listen = "127.0.0.1:0"
  tls {
    cert_file = "tls/cert.pem"
    key_file  = "tls/key.pem"
  }`, 1)
	if err := os.WriteFile(path, []byte(withTLS), 0o600); err != nil {
		t.Fatal(err)
	}
	h := startHost(t, path)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: tlscerttest.Roots(one, two)}, DisableKeepAlives: true}}
	served := func() int64 {
		t.Helper()
		resp, err := client.Get("https://" + h.addr + "/up")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.TLS.PeerCertificates[0].SerialNumber.Int64()
	}
	if got := served(); got != 1 {
		t.Fatalf("served certificate %d, want 1", got)
	}

	tlscerttest.Write(t, certs, two.CertPEM, one.KeyPEM) // half-way through a renewal
	if err := h.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	h.stderr.await(t, regexp.MustCompile(`TLS certificate not reloaded; the one in use stays.*private key does not match`), 30*time.Second)
	if got := served(); got != 1 {
		t.Fatalf("served certificate %d after a refused reload, want 1", got)
	}

	tlscerttest.Write(t, certs, two.CertPEM, two.KeyPEM)
	if err := h.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	h.stderr.await(t, regexp.MustCompile(`TLS certificate reloaded`), 30*time.Second)
	if got := served(); got != 2 {
		t.Fatalf("served certificate %d after SIGHUP, want 2", got)
	}
}
