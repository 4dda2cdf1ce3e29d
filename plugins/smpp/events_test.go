package smpp_test

import (
	"testing"
	"time"

	"github.com/smsrouter/smsrouter/plugins/smpp/smsctest"
	"github.com/smsrouter/smsrouter/sdk"
)

// TestReceiptsOfReusedIDsAreToldApart: after the SMSC restarts its ids, the
// receipts of two messages with one id are two events (not one event seen
// twice), each with its message's recipient for the host to match on.
func TestReceiptsOfReusedIDsAreToldApart(t *testing.T) {
	srv := startSMSC(t, smsctest.Config{})
	p := newProvider(t, srv, nil)
	c := collect(t, p)
	first := send(t, p, []sdk.Message{{ID: "msg_a", To: "+14155550001", Text: "a", Encoding: sdk.EncodingGSM7, Segments: 1}})[0]
	srv.RestartIDs(0x1A2B3C00)
	second := send(t, p, []sdk.Message{{ID: "msg_b", To: "+14155550002", Text: "b", Encoding: sdk.EncodingGSM7, Segments: 1}})[0]
	if first.ProviderMessageID != second.ProviderMessageID {
		t.Fatalf("the SMSC gave ids %q and %q; the test needs one id twice", first.ProviderMessageID, second.ProviderMessageID)
	}
	evs := c.await(t, "two receipts", 5*time.Second, func(evs []sdk.Event) bool { return len(evs) == 2 })
	if evs[0].ID == evs[1].ID {
		t.Errorf("both receipts have event id %q: the host drops the second as a repeat", evs[0].ID)
	}
	got := map[string]bool{}
	for _, ev := range evs {
		got[ev.Status.Recipient] = true
		if ev.DuplicateWindow != 10*time.Minute {
			t.Errorf("receipt event duplicate window %s, want the default 10m", ev.DuplicateWindow)
		}
	}
	if !got["+14155550001"] || !got["+14155550002"] {
		t.Errorf("receipt recipients %v, want both messages' numbers", got)
	}
}

// TestInboundRepeatsAreNewMessages: the same text twice from one handset
// gives events whose id marks repeats only for duplicate_window, so the
// host stores the second unless it is a redelivery.
func TestInboundRepeatsAreNewMessages(t *testing.T) {
	srv := startSMSC(t, smsctest.Config{})
	p := newProvider(t, srv, map[string]any{"duplicate_window": "2m"})
	c := collect(t, p)
	for range 2 {
		if err := srv.InjectMO("+79991234567", "+79160000002", "YES"); err != nil {
			t.Fatal(err)
		}
	}
	evs := c.await(t, "two inbound messages", 5*time.Second, func(evs []sdk.Event) bool { return len(evs) == 2 })
	for _, ev := range evs {
		if ev.DuplicateWindow != 2*time.Minute {
			t.Errorf("inbound event %s has duplicate window %s, want 2m", ev.ID, ev.DuplicateWindow)
		}
	}
}

// TestInboundNumbersAreE164: numbers an SMSC writes with TON 0 ("unknown")
// are stored in E.164 when they read as international or, with country
// set, as national numbers of that country; short codes stay as they are.
func TestInboundNumbersAreE164(t *testing.T) {
	cases := []struct {
		name, to, country, want string
	}{
		{"international digits, TON 0", "79160000002", "", "+79160000002"},
		{"international digits, TON 0, country set", "79160000002", "RU", "+79160000002"},
		{"national number, country set", "9160000002", "RU", "+79160000002"},
		{"short code", "7522", "RU", "7522"},
		{"international, TON 1", "+4915123456789", "RU", "+4915123456789"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startSMSC(t, smsctest.Config{})
			p := newProvider(t, srv, map[string]any{"country": tc.country})
			c := collect(t, p)
			if err := srv.InjectMO("+79991234567", tc.to, "hi"); err != nil {
				t.Fatal(err)
			}
			ev := c.await(t, "the inbound message", 5*time.Second, func(evs []sdk.Event) bool { return len(evs) == 1 })[0]
			if ev.Inbound.To != tc.want || ev.Inbound.From != "+79991234567" {
				t.Errorf("inbound to %q from %q, want to %q", ev.Inbound.To, ev.Inbound.From, tc.want)
			}
		})
	}
}
