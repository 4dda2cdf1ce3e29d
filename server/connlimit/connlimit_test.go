package connlimit_test

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smsrouter/smsrouter/server/connlimit"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// listen returns a capped loopback listener and the connections it
// accepts; the ones it closes for being over the cap never show there.
func listen(t *testing.T, o connlimit.Options) (net.Listener, chan net.Conn) {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := connlimit.NewListener(raw, o)
	accepted := make(chan net.Conn)
	go func() {
		defer close(accepted)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for c := range accepted {
			c.Close()
		}
	})
	return ln, accepted
}

func dial(t *testing.T, ln net.Listener) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByServer waits for the server to close c (bounded by a failsafe).
func closedByServer(t *testing.T, c net.Conn) bool {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := c.Read(make([]byte, 1))
	ne, ok := err.(net.Error)
	return err != nil && !(ok && ne.Timeout())
}

func TestCapReleasedOnClose(t *testing.T) {
	refused := make(chan netip.Prefix, 4)
	ln, accepted := listen(t, connlimit.Options{PerClient: 1, Refused: func(p netip.Prefix) { refused <- p }})
	dial(t, ln)
	first := <-accepted
	over := dial(t, ln)
	if !closedByServer(t, over) {
		t.Fatal("the second connection of a client capped at 1 stayed open")
	}
	if p := <-refused; p != netip.MustParsePrefix("127.0.0.1/32") {
		t.Errorf("refused counted against %s, want 127.0.0.1/32", p)
	}
	first.Close()
	first.Close() // twice: the place is given back once
	dial(t, ln)
	second := <-accepted
	// Still capped at 1: the place given back twice counts once.
	if !closedByServer(t, dial(t, ln)) {
		t.Fatal("a double Close gave back two places")
	}
	second.Close()
	dial(t, ln)
	<-accepted
}

func TestExemptNetworksUncapped(t *testing.T) {
	ln, accepted := listen(t, connlimit.Options{PerClient: 1, Exempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	for range 3 {
		c := dial(t, ln)
		s := <-accepted
		if _, err := io.WriteString(s, "x"); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			t.Fatalf("an exempt client's connection does not work: %v", err)
		}
	}
}
