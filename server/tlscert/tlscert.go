package tlscert

import (
	"crypto/tls"
	"fmt"
	"sync/atomic"
	"time"
)

// Certificate is a certificate and key pair from two PEM files, for
// tls.Config.GetCertificate. Reload swaps in the files' current contents
// atomically: handshakes under way keep the pair they started with.
type Certificate struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

// Load reads the pair; an error says which files and what is wrong.
func Load(certFile, keyFile string) (*Certificate, error) {
	c := &Certificate{certFile: certFile, keyFile: keyFile}
	if err := c.Reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// Reload reads the files again and serves them from the next handshake
// on. When they do not hold a usable pair (unreadable, not PEM, a key that
// does not match, a certificate already expired) it returns why and the
// pair in use stays.
func (c *Certificate) Reload() error {
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("TLS certificate %s with key %s: %w", c.certFile, c.keyFile, err)
	}
	if now := time.Now(); now.After(pair.Leaf.NotAfter) {
		return fmt.Errorf("TLS certificate %s expired on %s", c.certFile, pair.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	c.cur.Store(&pair)
	return nil
}

// GetCertificate returns the pair in use; it fits tls.Config.GetCertificate.
func (c *Certificate) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.cur.Load(), nil
}

// NotAfter is when the pair in use expires, for logs.
func (c *Certificate) NotAfter() time.Time {
	return c.cur.Load().Leaf.NotAfter
}
