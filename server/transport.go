package server

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hashicorp/go-hclog"

	"github.com/smsrouter/smsrouter/core/config"
	"github.com/smsrouter/smsrouter/server/connlimit"
	"github.com/smsrouter/smsrouter/server/tlscert"
)

// HTTP serves a handler the way the server block's transport settings say:
// timeouts that bound slow clients, a cap on connections per client
// address, and HTTPS when a tls block is set.
type HTTP struct {
	srv   *http.Server
	t     config.Transport
	certs *tlscert.Certificate
	log   hclog.Logger
	// lastRefusal is when a refused connection was last logged (Unix ns):
	// a flood is worth a line, not a line per connection.
	lastRefusal atomic.Int64
}

// NewHTTP prepares h to be served with t; it reads the TLS certificate
// when t has one.
//
// The whole request, headers and body, gets ReadTimeout; the headers alone
// ReadHeaderTimeout. http.Server.ReadTimeout fits better than a deadline
// set per request through http.ResponseController: it starts at the
// request's first byte, so a client that trickles its body is cut off
// whether or not a handler reads it (net/http reads what is left to reuse
// the connection), it also covers HTTP/2 streams, and net/http lifts it
// once the body is read, so handlers that work longer are not cancelled.
// Per-route deadlines would only pay for large bodies, and the API caps
// every body at 1 MiB: the default 30s asks about 35 KB/s of a client.
func NewHTTP(h http.Handler, t config.Transport, log hclog.Logger) (*HTTP, error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	s := &HTTP{t: t, log: log.Named("http")}
	s.srv = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: t.ReadHeaderTimeout,
		ReadTimeout:       t.ReadTimeout,
		WriteTimeout:      t.WriteTimeout,
		IdleTimeout:       t.IdleTimeout,
		// Handshake failures and the like, from anyone who connects: debug.
		ErrorLog: s.log.StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Debug}),
	}
	if t.TLS != nil {
		certs, err := tlscert.Load(t.TLS.CertFile, t.TLS.KeyFile)
		if err != nil {
			return nil, err
		}
		s.certs = certs
		s.srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.GetCertificate}
	}
	return s, nil
}

// Serve accepts connections on ln until Shutdown; like http.Server.Serve it
// always returns an error, http.ErrServerClosed after Shutdown.
func (s *HTTP) Serve(ln net.Listener) error {
	ln = connlimit.NewListener(ln, connlimit.Options{PerClient: s.t.MaxConnsPerClient, Exempt: s.t.TrustedProxies, Refused: s.refused})
	if s.certs != nil {
		return s.srv.ServeTLS(ln, "", "")
	}
	return s.srv.Serve(ln)
}

// Shutdown stops accepting and waits for requests in flight, as
// http.Server.Shutdown.
func (s *HTTP) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// Scheme is "https" when serving TLS, else "http".
func (s *HTTP) Scheme() string {
	if s.certs != nil {
		return "https"
	}
	return "http"
}

// ReloadTLS re-reads the certificate files; without a tls block it does
// nothing. An unusable new pair is logged with the reason and returned,
// and the pair in use stays.
func (s *HTTP) ReloadTLS() error {
	if s.certs == nil {
		return nil
	}
	if err := s.certs.Reload(); err != nil {
		s.log.Error("TLS certificate not reloaded; the one in use stays", "error", err, "in_use_expires", s.certs.NotAfter())
		return err
	}
	s.log.Info("TLS certificate reloaded", "cert_file", s.t.TLS.CertFile, "expires", s.certs.NotAfter())
	return nil
}

func (s *HTTP) refused(client netip.Prefix) {
	now := time.Now().UnixNano()
	last := s.lastRefusal.Load()
	if now-last < int64(10*time.Second) || !s.lastRefusal.CompareAndSwap(last, now) {
		return
	}
	s.log.Warn("closed a connection over the per-client cap (max_conns_per_client); a proxy in front should be in trusted_proxies",
		"client", client.String(), "max_conns_per_client", s.t.MaxConnsPerClient)
}

// bodyError answers a body that could not be read: too large (413, with
// tooLarge as the reason), too slow (408) or cut (400).
func bodyError(c *gin.Context, err error, tooLarge string) {
	var mbe *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &mbe):
		fail(c, http.StatusRequestEntityTooLarge, tooLarge)
	case errors.As(err, &ne) && ne.Timeout():
		fail(c, http.StatusRequestTimeout, "the request body did not arrive in time (the server's read_timeout); send it right after the headers")
	default:
		fail(c, http.StatusBadRequest, "could not read the request body: "+err.Error())
	}
}
